"""The tutorials in docs/tutorials/ run as written, offline, and every relative link resolves.

Each page is one test: its code blocks run in order (see ``markdown_runner`` for the rules:
``python`` blocks share one namespace, ``manifold ...`` lines of shell blocks run the real
console script) in a fresh folder where ``examples`` links to the repository's examples.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from helpers import REPO_ROOT
from markdown_runner import (
    broken_links,
    parse_blocks,
    prepare_workdir,
    relative_links,
    run_page,
    shell_commands,
)

TUTORIALS = REPO_ROOT / "docs" / "tutorials"
PAGES = sorted(TUTORIALS.glob("*.md"))
LINKED_PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_tutorial_runs_as_written(page: Path, tmp_path: Path) -> None:
    run = run_page(page, prepare_workdir(tmp_path / "reader"))
    print("\n".join(run.log))
    assert any("ran" in line for line in run.log), f"{page.name} has no block that runs"


@pytest.mark.parametrize(
    "page", LINKED_PAGES, ids=[str(p.relative_to(REPO_ROOT)) for p in LINKED_PAGES]
)
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


# ------------------------------------------------------------------ the runner itself

PAGE = textwrap.dedent(
    """\
    # A page

    ```python
    x = 41
    ```

    Some prose with [a link](other.md#part) and `[not a link](nope.md)`.

    ```bash
    pip install manifold-rag   # skipped: not a manifold command
    manifold models \\
      | grep -c multilingual-use
    # a comment
    ```

    ```console
    $ manifold --help
    Usage: manifold [OPTIONS] COMMAND [ARGS]...
    ```

    ```bash exit=2
    manifold chunks missing.txt -m pkg:multilingual-use
    ```

    ```python skip
    raise SystemExit("never runs")
    ```

    ```text
    [shown output](also-not-a-link.md)
    ```

    ```python
    x += 1
    open("made-here.txt", "w").write(str(x))
    ```
    """
)


def test_blocks_are_parsed_with_languages_flags_and_lines() -> None:
    blocks = parse_blocks(PAGE)
    assert [(b.lang, sorted(b.flags), b.line) for b in blocks] == [
        ("python", [], 4),
        ("bash", [], 10),
        ("console", [], 17),
        ("bash", [], 22),
        ("python", ["skip"], 26),
        ("text", [], 30),
        ("python", [], 34),
    ]
    assert blocks[3].expected_exit == 2 and blocks[0].expected_exit == 0
    commands = shell_commands(blocks[1])
    assert [(c.text, c.line, c.is_cli) for c in commands] == [
        ("pip install manifold-rag   # skipped: not a manifold command", 10, False),
        ("manifold models | grep -c multilingual-use", 11, True),
    ]
    assert [c.text for c in shell_commands(blocks[2])] == ["manifold --help"]


def test_a_page_runs_in_order_in_its_workdir(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    workdir = prepare_workdir(tmp_path / "work")
    run = run_page(page, workdir)
    assert run.namespace["x"] == 42
    assert (workdir / "made-here.txt").read_text() == "42"
    assert (workdir / "examples").is_symlink() == (REPO_ROOT / "examples").is_dir()
    kinds = [line.split(" ", 1)[1] for line in run.log]
    assert kinds[0].startswith("python: ran")
    assert (
        kinds[1] == "shell: skipped `pip install manifold-rag   # skipped: not a manifold command`"
    )
    assert kinds[2].startswith("shell: ran `manifold models | grep -c multilingual-use`")
    assert kinds[3].startswith("shell: ran `manifold --help`")
    assert kinds[4].startswith("shell: ran `manifold chunks missing.txt")
    assert kinds[5] == "python: skipped (flag)"
    assert kinds[6] == "text: not run"
    assert kinds[7].startswith("python: ran")


def test_a_failing_command_names_the_page_line(tmp_path: Path) -> None:
    page = tmp_path / "bad.md"
    page.write_text("text\n\n```bash\nmanifold chunks nope.txt\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"bad.md:4: `manifold chunks nope.txt` exited 2"):
        run_page(page, prepare_workdir(tmp_path / "work"), echo=False)


def test_a_failing_python_block_points_at_the_page(tmp_path: Path) -> None:
    page = tmp_path / "bad.md"
    page.write_text("# t\n\n```python\nx = 1\nassert x == 2, 'x is one'\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="x is one") as info:
        run_page(page, tmp_path)
    assert any(entry.path == page and entry.lineno + 1 == 5 for entry in info.traceback), (
        "the traceback names the page's line"
    )


def test_links_outside_code_are_checked(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE + '\n[ref]: ./page.md\n<img src="pic.png">\n', encoding="utf-8")
    assert relative_links(page) == [(7, "other.md#part"), (38, "./page.md"), (39, "pic.png")]
    assert broken_links(page) == ["page.md:7 -> other.md#part", "page.md:39 -> pic.png"]
