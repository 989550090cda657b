"""``manifold eval-chunks`` end to end on the shipped sets, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT
from typer.testing import CliRunner

from manifold_core.cli import app

EXAMPLES = REPO_ROOT / "examples"


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["eval-chunks", *args], env={"COLUMNS": "200"})


def test_missing_references_is_one_error_line(tmp_path: Path) -> None:
    result = _invoke("--dataset", str(tmp_path), "--model", "pkg:all-MiniLM-L6-v2")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "references.tsv" in lines[0], result.stderr


def test_against_must_be_one_of_the_chunkers(tmp_path: Path) -> None:
    result = _invoke(
        "--dataset", str(EXAMPLES / "chunking-en"), "--chunkers", "fixed:max_tokens=200",
        "--against", "fixed:max_tokens=300", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--against 'fixed:max_tokens=300' is not one of the chunkers" in result.stderr
    assert not (tmp_path / "chunk-eval.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("folder", "model", "docs"),
    [("chunking-en", "pkg:all-MiniLM-L6-v2", "1"), ("chunking-zh", "pkg:multilingual-use", "8")],
)
def test_eval_chunks_writes_table_json_and_png(
    tmp_path: Path, folder: str, model: str, docs: str
) -> None:
    result = _invoke(
        "--dataset", str(EXAMPLES / folder), "--model", model, "--limit-documents", docs,
        "--limit-queries", "20", "--chunkers", "fixed:max_tokens=200,semantic:max_tokens=200",
        "--out", str(tmp_path), "--against", "fixed:max_tokens=200",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fixed:max_tokens=200" in result.stdout and "IoU@5" in result.stdout
    # the comparison table: the other chunker's differences with an interval and a verdict
    assert "minus fixed:max_tokens=200" in result.stdout
    after = result.stdout.split("minus fixed:max_tokens=200", 1)[1]
    row = next(line for line in after.splitlines() if "semantic:max_tokens=200" in line)
    assert row.count("[") == 2 and any(v in row for v in ("better", "worse", "tie")), row
    data = json.loads((tmp_path / "chunk-eval.json").read_text("utf-8"))
    assert list(data["results"]) == ["fixed:max_tokens=200", "semantic:max_tokens=200"]
    diff = data["against"]["differences"]["semantic:max_tokens=200"]["iou"]
    fixed, ours = (data["results"][n]["at_budget"]["iou"] for n in data["results"])
    assert abs(diff["mean"] - (ours - fixed)) < 1e-9 and diff["low"] <= diff["high"]
    for r in data["results"].values():
        assert 0.3 < r["at_k"]["recall"] <= 1.0 and 0 < r["at_budget"]["iou"] <= 1.0
    png = (tmp_path / "chunk-eval.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
