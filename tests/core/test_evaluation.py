"""BEIR loading, ir-measures metrics and the pipeline comparison of ``manifold_core.evaluation``."""

from __future__ import annotations

import gzip
import json
import math
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import DATA, REPO_ROOT

from manifold_core.evaluation import (
    PIPELINES,
    BeirDataset,
    evaluate,
    load_beir,
    parse_pipelines,
    plot_report,
    score_run,
)
from manifold_core.ingest import read_file
from manifold_core.reranking import BaseReranker

MINI = REPO_ROOT / "examples" / "scifact-mini"


def _write_beir(
    root: Path,
    corpus: list[dict[str, Any]],
    queries: list[dict[str, Any]],
    qrels: dict[str, list[tuple[str, str, int]]],
    gz: bool = False,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for stem, rows in (("corpus", corpus), ("queries", queries)):
        body = "".join(json.dumps(r) + "\n" for r in rows)
        if gz:
            with gzip.open(root / f"{stem}.jsonl.gz", "wt", encoding="utf-8") as fh:
                fh.write(body)
        else:
            (root / f"{stem}.jsonl").write_text(body, encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    for split, rows_ in qrels.items():
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in rows_]
        (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr when they are content."},
    {"_id": "d2", "title": "", "text": "Dogs bark at the postman."},
    {"_id": "d3", "title": "Bees", "text": "Bees make honey from nectar."},
]
QUERIES = [
    {"_id": "q1", "text": "why do cats purr"},
    {"_id": "q2", "text": "what do bees make"},
    {"_id": "q3", "text": "a query nobody judged"},
]
QRELS = {"test": [("q1", "d1", 1), ("q2", "d3", 2), ("q2", "d2", 0)], "train": [("q3", "d2", 1)]}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return _write_beir(tmp_path / "tiny", CORPUS, QUERIES, QRELS)


# ------------------------------------------------------------------------ loading


@pytest.mark.parametrize("gz", [False, True])
def test_load_reads_plain_or_gzipped_files_and_joins_title_and_text(
    tmp_path: Path, gz: bool
) -> None:
    data = load_beir(_write_beir(tmp_path / "ds", CORPUS, QUERIES, QRELS, gz=gz))
    assert data.name == "ds" and data.split == "test"
    assert data.corpus == {
        "d1": "Cats\n\nCats purr when they are content.",
        "d2": "Dogs bark at the postman.",
        "d3": "Bees\n\nBees make honey from nectar.",
    }
    # only judged queries; a zero score is not a relevant document
    assert data.queries == {"q1": "why do cats purr", "q2": "what do bees make"}
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d3": 2}}


def test_ingest_and_eval_index_the_same_corpus_text(tmp_path: Path) -> None:
    """One title + text rule: ``manifold ingest`` and ``manifold eval`` read the same text."""
    corpus = [
        *CORPUS,
        {"_id": "d4", "title": "  Padded title  ", "text": "Text after a padded title."},
        {"_id": "d5", "title": "Only a title", "text": "   "},
        {"_id": "d6", "text": "No title field at all."},
        {"_id": "d7", "title": "Two\nlines", "text": "  Leading spaces are kept."},
    ]
    root = _write_beir(tmp_path / "same", corpus, QUERIES, QRELS)
    ingested = {d.metadata["doc_id"]: d.text for d in read_file(root / "corpus.jsonl")}
    assert load_beir(root).corpus == ingested
    assert ingested["d1"] == "Cats\n\nCats purr when they are content."
    assert ingested["d5"] == "Only a title"


def test_load_other_split_and_max_queries(tiny: Path) -> None:
    assert list(load_beir(tiny, "train").queries) == ["q3"]
    assert list(load_beir(tiny, max_queries=1).qrels) == ["q1"]
    with pytest.raises(ValueError, match="max_queries must be a positive int"):
        load_beir(tiny, max_queries=0)


def test_load_missing_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"dataset folder .*nowhere does not exist"):
        load_beir(tmp_path / "nowhere")


def test_load_missing_split_lists_the_splits_present(tiny: Path) -> None:
    with pytest.raises(ValueError, match=r"no qrels for split 'dev'.*splits present: test, train"):
        load_beir(tiny, "dev")


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels"])
def test_load_missing_file_is_named(tiny: Path, missing: str) -> None:
    target = tiny / missing
    if target.is_dir():
        for f in target.iterdir():
            f.unlink()
        target.rmdir()
    else:
        target.unlink()
    with pytest.raises(FileNotFoundError, match=missing.split(".")[0]):
        load_beir(tiny)


def test_load_empty_corpus_and_no_judged_query_are_errors(tmp_path: Path) -> None:
    empty = _write_beir(tmp_path / "empty", [], QUERIES, QRELS)
    with pytest.raises(ValueError, match=r"corpus .*corpus.jsonl holds no documents"):
        load_beir(empty)
    unjudged = _write_beir(tmp_path / "unjudged", CORPUS, QUERIES, {"test": [("q9", "d1", 1)]})
    with pytest.raises(ValueError, match=r"no query of .*queries\.jsonl has a relevant document"):
        load_beir(unjudged)


def test_load_bad_line_is_named_by_file_and_line(tiny: Path) -> None:
    with open(tiny / "corpus.jsonl", "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    with pytest.raises(ValueError, match=r"corpus.jsonl:4: not valid JSON"):
        load_beir(tiny)


@pytest.mark.needs_data
def test_load_cmrc2018_chinese_dev_split() -> None:
    data = load_beir(DATA / "cmrc2018", "dev", max_queries=5)
    assert len(data.queries) == 5 and len(data.corpus) == 1104
    assert all(len(rel) == 1 for rel in data.qrels.values())


# ------------------------------------------------------------------------ metrics


def test_metrics_match_values_computed_by_hand() -> None:
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 2, "d": 1}, "q3": {"e": 1}}
    run = {
        "q1": ["x", "a", "y", "b"],  # relevant at ranks 2 and 4
        "q2": ["d", "c", "d"],  # both, the less relevant first; a repeat is ignored
        "unjudged": ["a"],
    }  # q3 has no results: it counts as 0
    got = score_run(qrels, run)
    ndcg_q1 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    ndcg_q2 = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert list(got) == ["nDCG@10", "Recall@100", "MRR@10"]
    assert got["nDCG@10"] == pytest.approx((ndcg_q1 + ndcg_q2) / 3, abs=1e-9)
    assert got["Recall@100"] == pytest.approx(2 / 3)
    assert got["MRR@10"] == pytest.approx((1 / 2 + 1) / 3)


def test_metric_cutoffs_apply() -> None:
    qrels = {"q": {"rel": 1}}
    late = {"q": [f"n{i}" for i in range(10)] + ["rel"]}  # rank 11
    got = score_run(qrels, late)
    assert got["nDCG@10"] == 0.0 and got["MRR@10"] == 0.0 and got["Recall@100"] == 1.0
    assert score_run(qrels, {"q": [f"n{i}" for i in range(100)] + ["rel"]})["Recall@100"] == 0.0


def test_run_order_is_what_counts_not_document_ids() -> None:
    # trec_eval breaks score ties by document id; score_run must not let that reorder
    qrels = {"q": {"a": 1}}
    assert score_run(qrels, {"q": ["z", "a"]})["MRR@10"] == 0.5
    assert score_run(qrels, {"q": ["a", "z"]})["MRR@10"] == 1.0


# ------------------------------------------------------------------------ pipelines


def test_parse_pipelines() -> None:
    assert parse_pipelines("bm25, Dense") == ["bm25", "dense"]
    assert parse_pipelines(PIPELINES) == list(PIPELINES)
    with pytest.raises(ValueError, match="unknown pipeline 'colbert'; choose from bm25"):
        parse_pipelines("bm25,colbert")
    with pytest.raises(ValueError, match="no pipeline"):
        parse_pipelines(" , ")


class HashingEncoder:
    """Bag of hashed words: a deterministic, model-free encoder for the pipeline mechanics."""

    def __init__(self) -> None:
        self.calls = 0

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, hash(word.strip(".,?")) % 256] += 1.0
        out += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    encode_documents = _encode
    encode_queries = _encode


class OverlapReranker(BaseReranker):
    """Scores by the share of query words in the text: enough to reorder candidates."""

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        words = set(query.lower().split())
        return np.array([len(words & set(t.lower().split())) / len(words) for t in texts])


@pytest.fixture(scope="module")
def mini() -> BeirDataset:
    return load_beir(MINI)


def test_shipped_mini_dataset_is_complete(mini: BeirDataset) -> None:
    assert len(mini.queries) == 40 and 400 <= len(mini.corpus) <= 600
    assert all(doc in mini.corpus for rel in mini.qrels.values() for doc in rel)


def test_all_pipelines_with_a_reranker_that_reorders_only_the_top(mini: BeirDataset) -> None:
    seen: list[tuple[str, int, int]] = []
    report = evaluate(
        mini,
        encoder=HashingEncoder(),
        reranker=OverlapReranker(),
        rerank_depth=5,
        batch_size=100,
        progress=lambda task, done, total: seen.append((task, done, total)),
    )
    assert list(report.pipelines) == list(PIPELINES)
    assert report.n_queries == 40 and report.n_documents == len(mini.corpus)
    assert report.embedding_model == "HashingEncoder"
    assert report.reranker_model == "OverlapReranker"
    for result in report.pipelines.values():
        assert set(result.metrics) == {"nDCG@10", "Recall@100", "MRR@10"}
        assert all(0.0 <= v <= 1.0 for v in result.metrics.values())
        assert 0 < result.latency_ms_mean <= result.latency_ms_p95
        assert len(result.run) == 40 and all(len(r) <= 100 for r in result.run.values())
    hybrid, reranked = report.pipelines["hybrid"], report.pipelines["hybrid+rerank"]
    for qid, ranked in hybrid.run.items():
        assert sorted(reranked.run[qid][:5]) == sorted(ranked[:5])
        assert reranked.run[qid][5:] == ranked[5:]
    assert reranked.run != hybrid.run
    assert reranked.latency_ms_mean > hybrid.latency_ms_mean
    # progress: 500 documents in batches of 100, then every query of every pipeline
    assert [s for s in seen if s[0] == "embedding corpus"][-1] == ("embedding corpus", 500, 500)
    for name in PIPELINES:
        assert (name, 40, 40) in seen


def test_bm25_alone_is_the_same_with_or_without_the_store(mini: BeirDataset) -> None:
    encoder = HashingEncoder()
    alone = evaluate(mini, ["bm25"], encoder=encoder)
    assert encoder.calls == 0 and alone.embedding_model is None
    with_store = evaluate(mini, ["bm25", "dense"], encoder=encoder)
    assert encoder.calls > 0
    assert alone.pipelines["bm25"].run == with_store.pipelines["bm25"].run
    assert alone.pipelines["bm25"].metrics == with_store.pipelines["bm25"].metrics


def test_bm25_alone_imports_neither_torch_nor_chromadb() -> None:
    code = (
        "import sys\n"
        "from manifold_core.evaluation import evaluate, load_beir\n"
        f"r = evaluate(load_beir({str(MINI)!r}), ['bm25'])\n"
        "print(round(r.pipelines['bm25'].metrics['nDCG@10'], 4))\n"
        "heavy = ('torch', 'chromadb', 'sentence_transformers', 'transformers')\n"
        "print(','.join(m for m in heavy if m in sys.modules) or 'none')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    ndcg, heavy = out.stdout.split()
    assert 0.5 < float(ndcg) < 1.0
    assert heavy == "none"


def test_evaluate_argument_errors(mini: BeirDataset) -> None:
    with pytest.raises(ValueError, match="'hybrid\\+rerank' pipeline needs a reranker"):
        evaluate(mini, ["hybrid+rerank"], encoder=HashingEncoder())
    with pytest.raises(ValueError, match="unknown fusion method 'sum'"):
        evaluate(mini, ["hybrid"], encoder=HashingEncoder(), fusion="sum")
    with pytest.raises(ValueError, match="embeddings must have one row per document"):
        evaluate(mini, ["dense"], encoder=HashingEncoder(), embeddings=np.zeros((3, 256)))
    with pytest.raises(ValueError, match="rerank_depth must be a positive int"):
        evaluate(mini, ["bm25"], rerank_depth=0)


class BrokenEncoder(HashingEncoder):
    """Returns NaN vectors, or one row too few, for the documents."""

    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:  # type: ignore[override]
        out = self._encode(texts)
        if self.fault == "nan":
            out[0, 0] = np.nan
            return out
        return out[1:]


@pytest.mark.parametrize(
    ("fault", "message"),
    [("nan", "the encoder returned NaN or infinite values"), ("shape", "the encoder gave shape")],
)
def test_an_encoder_giving_nan_or_a_wrong_shape_is_a_clear_error(
    mini: BeirDataset, fault: str, message: str
) -> None:
    seen: list[tuple[str, int, int]] = []
    with pytest.raises(ValueError, match=message):
        evaluate(
            mini,
            ["dense"],
            encoder=BrokenEncoder(fault),
            batch_size=200,
            progress=lambda task, done, total: seen.append((task, done, total)),
        )
    assert not any(task == "indexing" for task, _, _ in seen)  # nothing reached the store


def test_precomputed_embeddings_with_nan_are_refused(mini: BeirDataset) -> None:
    vectors = np.ones((len(mini.corpus), 256), dtype=np.float32)
    vectors[3, 7] = np.nan
    with pytest.raises(ValueError, match="embeddings hold NaN or infinite values"):
        evaluate(mini, ["dense"], encoder=HashingEncoder(), embeddings=vectors)


def test_report_json_and_png(mini: BeirDataset, tmp_path: Path) -> None:
    report = evaluate(mini, ["bm25", "hybrid"], encoder=HashingEncoder(), fusion="dbsf")
    path = report.write_json(tmp_path / "out" / "report.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["dataset"] == "scifact-mini" and data["fusion"] == "dbsf"
    assert data["metric_definitions"] == {
        "nDCG@10": "nDCG@10",
        "Recall@100": "R@100",
        "MRR@10": "RR@10",
    }
    assert set(data["pipelines"]) == {"bm25", "hybrid"}
    assert "run" not in data["pipelines"]["bm25"]
    assert data["pipelines"]["bm25"]["metrics"] == report.pipelines["bm25"].metrics
    assert len(report.to_dict(include_runs=True)["pipelines"]["hybrid"]["run"]) == 40
    png = plot_report(report, tmp_path / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1100, 450) and len(png) > 10_000


@pytest.mark.needs_data
def test_bm25_on_full_scifact_test_matches_published_figure() -> None:
    data = load_beir(DATA / "scifact", "test")
    assert len(data.queries) == 300 and len(data.corpus) == 5183
    report = evaluate(data, ["bm25"])
    metrics = report.pipelines["bm25"].metrics
    # BEIR's published BM25 (Elasticsearch) nDCG@10 on SciFact is 0.665; measured 0.6634
    assert 0.64 <= metrics["nDCG@10"] <= 0.68
    assert metrics["Recall@100"] > 0.85
