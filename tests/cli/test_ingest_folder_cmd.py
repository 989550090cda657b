"""``manifold ingest`` on a mixed folder, as a user runs it: what it says it skipped,
the up-to-date re-run, ``--prune``, ``--dry-run``, and ``query --json`` snippets."""

from __future__ import annotations

import json
from pathlib import Path

from file_makers import HTML, PAGES, make_docx, make_pdf
from typer.testing import CliRunner, Result

from manifold_core.cli import app

MODEL = "pkg:all-MiniLM-L6-v2"
ENV = {"COLUMNS": "200", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def ok(*args: object) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args], env=ENV)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_mixed_folder_summary_rerun_prune_and_dry_run(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "topics.pdf", PAGES)
    (docs / "x1.html").write_text(HTML, encoding="utf-8")
    make_docx(docs / "panda.docx")
    (docs / "README").write_text("Solar panels need an inverter.\n", encoding="utf-8")
    (docs / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (docs / "dump.bak").write_bytes(b"\x00\x01\x02")
    index = tmp_path / "index"

    first = json.loads(ok("ingest", docs, "--index", index, "--model", MODEL, "--json").stdout)
    assert sorted(Path(p).name for p in first["files_new"]) == [
        "README",
        "panda.docx",
        "topics.pdf",
        "x1.html",
    ]
    assert {Path(s["path"]).name: s["reason"] for s in first["skipped"]} == {
        "photo.jpg": "unsupported type",
        "dump.bak": "not text",
    }
    assert first["total"] == first["chunks"] > 4

    again = " ".join(ok("ingest", docs, "--index", index).stdout.split())
    assert "Up to date" in again and "4 unchanged" in again and "nothing embedded" in again
    assert "photo.jpg: unsupported type" in again and "dump.bak: not text" in again

    (docs / "panda.docx").unlink()
    plan = " ".join(ok("ingest", docs, "--index", index, "--dry-run").stdout.split())
    assert "Dry run" in plan and "1 file gone" in plan and "panda.docx" in plan
    pruned = json.loads(ok("ingest", docs, "--index", index, "--prune", "--json").stdout)
    assert [Path(p).name for p in pruned["pruned_files"]] == ["panda.docx"]
    assert pruned["pruned"] > 0 and pruned["total"] == first["total"] - pruned["pruned"]
    assert pruned["chunks"] == 0  # nothing re-embedded

    hits = json.loads(ok("query", "大熊猫 吃 竹子", "--index", index, "--json").stdout)
    assert "topics.pdf" in {h["metadata"]["file_name"] for h in hits}
    assert "panda.docx" not in {h["metadata"]["file_name"] for h in hits}
    page = next(h for h in hits if h["metadata"]["file_name"] == "topics.pdf")
    assert page["metadata"]["page"] in (1, 2, 3)


def test_query_json_prints_snippets_unless_full_text(tmp_path: Path) -> None:
    long_text = " ".join(f"Paragraph {i} about rooftop solar panels." for i in range(200))
    (tmp_path / "long.txt").write_text(long_text, encoding="utf-8")
    index = tmp_path / "index"
    ingest = ok(
        "ingest", tmp_path / "long.txt", "--index", index, "--model", MODEL,
        "--chunker", "none", "--truncate",
    )  # fmt: skip
    assert "cut at the model's limit" in ingest.stderr
    hit = json.loads(ok("query", "solar", "--index", index, "--json").stdout)[0]
    assert hit["chars"] > 1000 and len(hit["text"]) == 1000 and hit["text"].endswith("…")
    full = json.loads(ok("query", "solar", "--index", index, "--json", "--full-text").stdout)[0]
    assert len(full["text"]) == full["chars"] == hit["chars"]
    assert long_text.startswith(full["text"])


def test_quiet_by_default_and_chatty_with_verbose(tmp_path: Path) -> None:
    """Run as a user does (a fresh process): stderr holds nothing of the libraries'."""
    import os
    import subprocess

    (tmp_path / "熊猫.txt").write_text(
        "大熊猫吃竹子。大熊猫住在四川。\n\n红烧肉很好吃。\n", "utf-8"
    )
    env = {**os.environ, **ENV}

    def chunks(*extra: str) -> subprocess.CompletedProcess[str]:
        argv = ["manifold", "chunks", "熊猫.txt", "-m", MODEL, "--json", "--plot", "p.png"]
        return subprocess.run(
            [*argv, *extra], capture_output=True, text=True, cwd=tmp_path, env=env, check=True
        )

    quiet = chunks()
    assert json.loads(quiet.stdout)["chunks"]
    assert quiet.stderr.strip() == "wrote p.png", quiet.stderr
    loud = chunks("--verbose")
    assert "Loading weights" in loud.stderr  # the bar the default run kept out


def test_the_command_words_library_errors_in_its_flags() -> None:
    from manifold_core.cli.ingest_cmd import flag_wording

    assert flag_wording("model must not be empty") == "--model must not be empty"
    assert flag_wording("embedding_batch_size must be a positive int, got 0") == (
        "--batch-size must be a positive int, got 0"
    )
    assert flag_wording(
        "index 'ix' was built with 'a' (dimension 3), not 'b'; leave model unset to use the "
        "index's model, or choose another index_dir"
    ).endswith("omit --model to use the index's model, or choose another --index")
    assert flag_wording("index_dir 'ix' is a file, not an index directory") == (
        "--index 'ix' is a file, not an index directory"
    )
