"""``manifold eval``: the four pipelines on the shipped SciFact sample, and one-line errors."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT
from typer.testing import CliRunner

from manifold_core.cli import app

MINI = REPO_ROOT / "examples" / "scifact-mini"
OFFLINE = ["--model", "pkg:all-MiniLM-L6-v2", "--reranker", "pkg:ms-marco-MiniLM-L-12-v2"]


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["eval", *args], env={"COLUMNS": "200"})


def _one_error_line(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.slow
def test_eval_on_the_sample_writes_json_and_png(tmp_path: Path) -> None:
    out = tmp_path / "res" / "scifact.json"
    result = _invoke(
        "--dataset", str(MINI), *OFFLINE, "--max-queries", "20", "--rerank-depth", "10",
        "--output", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("bm25", "dense", "hybrid", "hybrid+rerank", "nDCG@10", "Recall@100", "MRR@10"):
        assert name in result.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert list(data["pipelines"]) == ["bm25", "dense", "hybrid", "hybrid-tuned", "hybrid+rerank"]
    assert data["n_queries"] == 20 and data["rerank_depth"] == 10
    assert data["embedding_model"] == "pkg:all-MiniLM-L6-v2"
    assert data["reranker_model"] == "pkg:ms-marco-MiniLM-L-12-v2"
    ndcg = {name: p["metrics"]["nDCG@10"] for name, p in data["pipelines"].items()}
    assert all(0.5 < v <= 1.0 for v in ndcg.values()), ndcg
    assert ndcg["hybrid"] >= min(ndcg["bm25"], ndcg["dense"]) - 0.02, ndcg
    for p in data["pipelines"].values():
        assert 0 < p["latency_ms_mean"] <= p["latency_ms_p95"]
    png = out.with_suffix(".png").read_bytes()  # next to the JSON by default
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (1100, 450) and len(png) > 10_000


@pytest.mark.slow
def test_hybrid_tuned_reports_the_cross_validated_score_and_setting(tmp_path: Path) -> None:
    out = tmp_path / "tuned.json"
    result = _invoke(
        "-d", str(MINI), *OFFLINE, "-p", "bm25,dense,hybrid,hybrid-tuned", "--folds", "4",
        "-o", str(out), "--no-plot",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    tuned = data["tuned"]
    assert tuned["folds"] == 4 and len(tuned["fold_settings"]) == 4
    # the pipeline's nDCG@10 (ir-measures over the held-out rankings) is the CV score
    ndcg = {name: p["metrics"]["nDCG@10"] for name, p in data["pipelines"].items()}
    assert ndcg["hybrid-tuned"] == pytest.approx(tuned["cv_ndcg@10"], abs=1e-9)
    s = tuned["setting"]
    line = f"hybrid-tuned setting: {s['method']} w_dense={s['dense_weight']:g} depth={s['depth']}"
    assert line in result.stdout
    # honest, so not guaranteed to win; but on 40 queries it must not collapse
    assert ndcg["hybrid-tuned"] >= min(ndcg["bm25"], ndcg["dense"]) - 0.05, ndcg


def test_bm25_alone_needs_no_model(tmp_path: Path) -> None:
    out = tmp_path / "bm25.json"
    plot = tmp_path / "chart.png"
    result = _invoke(
        "-d", str(MINI), "-p", "bm25", "--model", "no/such-model", "--reranker", "no/such",
        "-o", str(out), "--plot", str(plot),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert list(data["pipelines"]) == ["bm25"] and data["embedding_model"] is None
    assert data["n_queries"] == 40 and plot.read_bytes()[:4] == b"\x89PNG"


def test_no_plot_writes_only_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = _invoke("-d", str(MINI), "-p", "bm25", "-n", "3", "-o", str(out), "--no-plot")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["-d", "no/such/folder"], ["no/such/folder", "does not exist"]),
        (["-d", str(MINI), "-p", "bm25,colbert"], ["unknown pipeline 'colbert'"]),
        (["-d", str(MINI), "--split", "dev"], ["no qrels for split 'dev'", "splits present: test"]),
        (["-d", str(MINI), "--fusion", "sum"], ["unknown fusion method 'sum'"]),
        (["-d", str(MINI), "-o", "x.png"], ["--output is the JSON report"]),
        (["-d", str(MINI), "-p", "dense", "--model", "pkg:nope"], ["pkg:nope"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needles: list[str]) -> None:
    _one_error_line(_invoke(*args), *needles)


def test_empty_corpus_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n', encoding="utf-8")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\td\t1\n")
    _one_error_line(_invoke("-d", str(tmp_path)), "holds no documents")


def test_max_queries_must_be_positive() -> None:
    result = _invoke("-d", str(MINI), "-n", "0")
    assert result.exit_code == 2
