"""``manifold tune`` writes a cross-validated fusion setting; query and both adapters use it.

One index of the shipped SciFact sample (500 abstracts in fixed 128-token windows, so
several chunks per document) is ingested per module with the real offline MiniLM and
copied for the tests that change its manifest.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT
from typer.testing import CliRunner, Result

from manifold_core.cli import app
from manifold_core.fusion_tuning import FusionSetting
from manifold_core.ingest import IndexManifest, read_manifest, write_manifest

MINI = REPO_ROOT / "examples" / "scifact-mini"
MODEL = "pkg:all-MiniLM-L6-v2"
ENV = {"COLUMNS": "200", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
QUERY = "vitamin D deficiency and bone fractures"
LEXICAL_ONLY = FusionSetting("rrf", 0.0, 10)


def ok(*args: Any) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args], env=ENV)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def with_setting(index: Path, setting: FusionSetting) -> None:
    manifest = read_manifest(index)
    assert manifest is not None
    tuned = {"setting": setting.to_dict(), "cv_ndcg@10": 0.5}
    write_manifest(index, dataclasses.replace(manifest, fusion=tuned))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tune")
    index = root / "index"
    ok("ingest", MINI / "corpus.jsonl.gz", "--index", index, "--model", MODEL,
       "--chunker", "fixed", "--max-tokens", "128")  # fmt: skip
    return index


@pytest.fixture
def index(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(built, target)
    return target


# ------------------------------------------------------------------ manifest


def test_a_manifest_without_fusion_reads_as_untuned() -> None:
    data = {"tool": "manifold-rag", "format": 1, "embedding_model": MODEL, "dimension": 384}
    manifest = IndexManifest.from_dict(data)
    assert manifest.fusion is None and manifest.retriever_kwargs() == {}
    tuned = IndexManifest.from_dict({**data, "fusion": {"setting": LEXICAL_ONLY.to_dict()}})
    assert tuned.retriever_kwargs() == {
        "fusion": "rrf",
        "weights": (0.0, 1.0),
        "fetch_k": 10,
        "c": 60,
    }
    with pytest.raises(ValueError, match="fusion"):
        IndexManifest.from_dict({**data, "fusion": {"setting": {"method": "max"}}})


# ------------------------------------------------------------------ tune


@pytest.mark.slow
def test_tune_writes_the_setting_and_its_score(index: Path) -> None:
    before = read_manifest(index)
    result = ok("tune", "--dataset", MINI, "--index", index, "--folds", "4")
    manifest = read_manifest(index)
    assert before is not None and manifest is not None and manifest.fusion is not None
    setting = manifest.fusion_setting()
    assert setting is not None
    assert f"fusion setting: {setting.label()}" in result.stdout
    score = manifest.fusion["cv_ndcg@10"]
    assert f"cross-validated nDCG@10: {score:.4f} (40 queries, 4 folds)" in result.stdout
    assert 0.5 < score <= 1.0  # MiniLM + BM25 on the sample: hybrid is near 0.85
    assert manifest.fusion["queries"] == 40 and manifest.fusion["split"] == "test"
    # nothing else of the manifest changed
    assert dataclasses.replace(manifest, fusion=None) == before
    # a later (here: no-op) ingest keeps the setting
    ok("ingest", MINI / "corpus.jsonl.gz", "--index", index)
    again = read_manifest(index)
    assert again is not None and again.fusion == manifest.fusion


@pytest.mark.slow
def test_tune_refuses_judgements_of_documents_not_in_the_index(index: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(MINI, other)
    (other / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\tnope{q}\t1\n" for q in range(1, 60)),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["tune", "-d", str(other), "-i", str(index)], env=ENV)
    assert result.exit_code == 2 and "no judged document" in result.stderr, result.output
    manifest = read_manifest(index)
    assert manifest is not None and manifest.fusion is None


# ------------------------------------------------------------------ query


def _query(index: Path, *args: str) -> tuple[list[dict[str, Any]], str]:
    result = ok("query", QUERY, "--index", index, "--json", "-k", "8", *args)
    return json.loads(result.stdout), result.stderr


@pytest.mark.slow
def test_query_uses_the_tuned_setting(index: Path) -> None:
    untuned, note = _query(index)
    assert "fusion: tuned" not in note
    assert any(r["scores"]["dense"] is not None for r in untuned)
    with_setting(index, LEXICAL_ONLY)
    tuned, note = _query(index)
    assert "fusion: tuned rrf w_dense=0 depth=10" in note
    assert all(r["scores"]["dense"] is None for r in tuned)  # the dense side is off
    assert [r["id"] for r in tuned] != [r["id"] for r in untuned]
    explicit, note = _query(index, "--fusion", "dbsf")  # an explicit --fusion (the default) wins
    assert "fusion: tuned" not in note
    assert [r["id"] for r in explicit] == [r["id"] for r in untuned]


# ------------------------------------------------------------------ adapters


@pytest.mark.slow
def test_langchain_from_manifold_index_uses_the_tuned_setting(index: Path) -> None:
    from langchain_manifold import EnsembleRetriever

    plain = EnsembleRetriever.from_manifold_index(index, k=8).invoke(QUERY)
    assert any(d.metadata["dense_score"] is not None for d in plain)
    with_setting(index, LEXICAL_ONLY)
    retriever = EnsembleRetriever.from_manifold_index(index, k=8)
    assert (retriever.fusion, retriever.weights, retriever.fetch_k) == ("rrf", [0.0, 1.0], 10)
    docs = retriever.invoke(QUERY)
    assert len(docs) == 8 and all(d.metadata["dense_score"] is None for d in docs)
    override = EnsembleRetriever.from_manifold_index(index, k=8, weights=[1.0, 1.0])
    assert [d.id for d in override.invoke(QUERY)] != [d.id for d in docs]


@pytest.mark.slow
def test_llamaindex_from_manifold_index_uses_the_tuned_setting(index: Path) -> None:
    from llamaindex_manifold import EnsembleRetriever

    plain = EnsembleRetriever.from_manifold_index(index, similarity_top_k=8).retrieve(QUERY)
    assert any(n.node.metadata["dense_score"] is not None for n in plain)
    with_setting(index, LEXICAL_ONLY)
    retriever = EnsembleRetriever.from_manifold_index(index, similarity_top_k=8)
    assert (retriever.fusion, retriever.weights, retriever.fetch_k) == ("rrf", [0.0, 1.0], 10)
    nodes = retriever.retrieve(QUERY)
    assert len(nodes) == 8 and all(n.node.metadata["dense_score"] is None for n in nodes)
