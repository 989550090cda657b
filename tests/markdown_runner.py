"""Run a Markdown page's code blocks in order, as a reader would, and check its links.

The rules, by the fence's info string (its first word is the language, the other words
are flags):

- ``python`` / ``py``: executed with :func:`exec`, all blocks of a page in one namespace,
  in order, so later blocks see earlier variables. Tracebacks point at the page's lines.
- ``bash`` / ``sh`` / ``shell`` / ``console``: each command that starts with
  ``manifold`` or ``python -m manifold_core`` runs in ``bash -o pipefail -c`` with the
  virtual environment's ``bin`` first on ``PATH`` and must exit 0; every other command
  (``pip install``, ``cd``, ``cat``...) is skipped. A trailing ``\\`` joins lines; lines
  starting with ``#`` are comments. In ``console`` blocks only lines starting with ``$ ``
  are commands (the rest is shown output); a leading ``$ `` is also allowed in ``bash``.
- the flag ``skip`` (```` ```python skip ````) leaves a block out; the flag ``exit=N``
  (```` ```bash exit=2 ````) expects every command of the block to exit with ``N``.
- any other language (``text``, ``json``, ``toml``...) is never run.

Everything runs with the current directory set to a work folder (see
:func:`prepare_workdir`: ``examples`` there links to the repository's ``examples/``) and
offline settings in the environment (:data:`OFFLINE_ENV`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtual environment's bin (not resolved: venv)

PYTHON_LANGS = frozenset({"python", "py", "python3"})
SHELL_LANGS = frozenset({"bash", "sh", "shell", "console", "zsh"})
CLI_PREFIXES = ("manifold", "python -m manifold_core", "python3 -m manifold_core")

OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "MANIFOLD_CACHE_DIR": str(REPO_ROOT / ".bench_cache"),
    "MPLBACKEND": "Agg",
}

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass
class Block:
    """A fenced code block: language, flags, ``key=value`` options, code, first code line."""

    lang: str
    flags: frozenset[str]
    options: dict[str, str]
    code: str
    line: int  # 1-based line of the block's first code line

    @property
    def skipped(self) -> bool:
        return "skip" in self.flags

    @property
    def expected_exit(self) -> int:
        return int(self.options.get("exit", "0"))


@dataclass
class Command:
    """One shell command of a block and the page line it starts on."""

    text: str
    line: int

    @property
    def is_cli(self) -> bool:
        return any(self.text == p or self.text.startswith(p + " ") for p in CLI_PREFIXES)


@dataclass
class PageRun:
    """What running a page did: one line per block, and the final Python namespace."""

    log: list[str] = field(default_factory=list)
    namespace: dict[str, Any] = field(default_factory=dict)


def parse_blocks(markdown: str) -> list[Block]:
    """The fenced code blocks of a page, in order (unclosed blocks run to the end)."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or (m["fence"][0] == "`" and "`" in m["info"]):
            i += 1
            continue
        fence, indent = m["fence"], len(m["indent"])
        words = m["info"].strip().strip("{}").split()
        lang = words[0].lstrip(".").lower() if words else ""
        options = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        flags = frozenset(w.lower() for w in words[1:] if "=" not in w)
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            # Content of an indented fence loses up to the fence's indentation.
            line = lines[j]
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[strip:])
            j += 1
        blocks.append(Block(lang, flags, options, "\n".join(body) + "\n", i + 2))
        i = j + 1
    return blocks


def shell_commands(block: Block) -> list[Command]:
    """The commands of a shell block (continuations joined, comments and output dropped)."""
    commands: list[Command] = []
    pending: list[str] = []
    start = 0
    for offset, raw in enumerate(block.code.splitlines()):
        line = raw.rstrip()
        if not pending:
            stripped = line.strip()
            if block.lang == "console":
                if not stripped.startswith("$ "):
                    continue
                stripped = stripped[2:]
            elif stripped.startswith("$ "):
                stripped = stripped[2:]
            if not stripped or stripped.startswith("#"):
                continue
            start = block.line + offset
            line = stripped
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line.strip())
        commands.append(Command(" ".join(p for p in pending if p), start))
        pending = []
    if pending:
        commands.append(Command(" ".join(p for p in pending if p), start))
    return commands


def prepare_workdir(workdir: Path, repo_root: Path = REPO_ROOT) -> Path:
    """Make ``workdir`` a reader's checkout: ``examples`` links to the repository's."""
    workdir.mkdir(parents=True, exist_ok=True)
    examples = repo_root / "examples"
    link = workdir / "examples"
    if examples.is_dir() and not link.exists():
        link.symlink_to(examples, target_is_directory=True)
    return workdir


def run_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment commands run in: offline settings, the venv's bin first on PATH."""
    env = {**os.environ, **OFFLINE_ENV, **(extra or {})}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("COLUMNS", "120")
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


@contextmanager
def _inside(workdir: Path, env: Mapping[str, str]) -> Iterator[None]:
    """Run in ``workdir`` with ``env`` set, both restored afterwards."""
    old_cwd = Path.cwd()
    old_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_command(command: Command, workdir: Path, env: Mapping[str, str], timeout: float) -> Any:
    """Run one shell command with bash in ``workdir``; the CompletedProcess."""
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command.text],
        cwd=workdir,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_page(
    page: Path,
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    echo: bool = True,
) -> PageRun:
    """Run a page's blocks in order (see the module's rules); AssertionError on failure.

    Args:
        page: the Markdown file.
        workdir: the current directory for every block (see :func:`prepare_workdir`).
        env: extra environment variables, on top of :data:`OFFLINE_ENV`.
        timeout: seconds allowed to each shell command.
        echo: print each command's output (pytest shows it for a failing test).
    """
    page = page.resolve()
    full_env = run_env(env)
    run = PageRun(namespace={"__name__": "__tutorial__", "__file__": str(page)})
    for block in parse_blocks(page.read_text(encoding="utf-8")):
        where = f"{page.name}:{block.line}"
        if block.skipped:
            run.log.append(f"{where} {block.lang}: skipped (flag)")
        elif block.lang in PYTHON_LANGS:
            started = time.perf_counter()
            # Pad so that line numbers in tracebacks are the page's own.
            code = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
            with _inside(workdir, full_env):
                exec(code, run.namespace)
            run.log.append(f"{where} python: ran in {time.perf_counter() - started:.1f} s")
        elif block.lang in SHELL_LANGS:
            for command in shell_commands(block):
                at = f"{page.name}:{command.line}"
                if not command.is_cli:
                    run.log.append(f"{at} shell: skipped `{command.text}`")
                    continue
                started = time.perf_counter()
                result = run_command(command, workdir, full_env, timeout)
                if echo:
                    print(f"$ {command.text}\n{result.stdout}{result.stderr}", end="")
                assert result.returncode == block.expected_exit, (
                    f"{at}: `{command.text}` exited {result.returncode}, expected "
                    f"{block.expected_exit}\n--- stdout\n{result.stdout}\n--- stderr\n"
                    f"{result.stderr}"
                )
                seconds = time.perf_counter() - started
                run.log.append(f"{at} shell: ran `{command.text}` in {seconds:.1f} s")
        else:
            run.log.append(f"{where} {block.lang or 'plain'}: not run")
    return run


# ---------------------------------------------------------------------------- links

_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^[ ]{0,3}\[[^\]\n]+\]:[ \t]*<?([^\s>]+)>?(?:[ \t]+.*)?$", re.M)
_HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.I)


def _prose(markdown: str) -> str:
    """The page without its fenced blocks and inline code (links there are examples)."""
    lines = markdown.splitlines()
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        m = _FENCE.match(line)
        if fence is None and m:
            fence = m["fence"]
            out.append("")
            continue
        if fence is not None:
            close = line.strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                fence = None
            out.append("")
            continue
        out.append(re.sub(r"`+[^`]*`+", "", line))
    return "\n".join(out)


def relative_links(page: Path) -> list[tuple[int, str]]:
    """``(line, target)`` of every relative link of a page (no URLs, no bare anchors)."""
    text = _prose(page.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for pattern in (_INLINE_LINK, _REFERENCE_LINK, _HTML_LINK):
        for m in pattern.finditer(text):
            target = m.group(1)
            if not _EXTERNAL.match(target):
                found.append((text.count("\n", 0, m.start()) + 1, target))
    return sorted(found)


def broken_links(page: Path) -> list[str]:
    """``page:line -> target`` for each relative link whose file does not exist."""
    broken = []
    for line, target in relative_links(page):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path and not (page.parent / _unquote(path)).exists():
            broken.append(f"{page.name}:{line} -> {target}")
    return broken


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


__all__ = [
    "BIN",
    "OFFLINE_ENV",
    "Block",
    "Command",
    "PageRun",
    "broken_links",
    "parse_blocks",
    "prepare_workdir",
    "relative_links",
    "run_command",
    "run_env",
    "run_page",
    "shell_commands",
]
