"""LangChain EnsembleRetriever: hybrid mode (filters, k, scores, async, persistence) and drop-in."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever

from langchain_manifold import EnsembleRetriever
from manifold_core.store import HybridStore

CARS = [
    ("x1-22", "2022 BMW X1 price: the X1 sDrive starts at 39,100 dollars", "BMW", 2022),
    ("x1-23", "2023 BMW X1 review: a roomier X1 with a firm chassis", "BMW", 2023),
    ("c-23", "2023 Mercedes C-Class review: smooth engine and a plush cabin", "Mercedes", 2023),
    ("c-22", "2022 Mercedes C-Class price: from 44,600 dollars", "Mercedes", 2022),
    ("a4-23", "2023 Audi A4 price: from 40,000 dollars", "Audi", 2023),
]


def _docs() -> list[Document]:
    return [Document(page_content=t, metadata={"brand": b, "year": y}, id=i) for i, t, b, y in CARS]


@pytest.fixture
def retriever(minilm_encoder: Any) -> EnsembleRetriever:
    return EnsembleRetriever.from_documents(_docs(), embedding=minilm_encoder, k=3)


def test_from_documents_invoke_returns_scored_documents(retriever: EnsembleRetriever) -> None:
    docs = retriever.invoke("BMW X1 price 2022", fusion="rrf")  # 2/61 below is RRF's score
    assert len(docs) == 3
    assert docs[0].id == "x1-22"
    meta = docs[0].metadata
    assert meta["brand"] == "BMW" and meta["year"] == 2022
    assert meta["dense_rank"] == 1 and meta["lexical_rank"] == 1
    assert meta["fused_score"] == pytest.approx(2 / 61)
    assert 0 < meta["dense_score"] <= 1 and meta["lexical_score"] > 0


def test_k_and_filter_per_call(retriever: EnsembleRetriever) -> None:
    docs = retriever.invoke("C-Class price", k=2, filter={"brand": "BMW"})
    assert len(docs) == 2
    assert {d.metadata["brand"] for d in docs} == {"BMW"}
    docs = retriever.invoke("price", k=5, filter={"$and": [{"brand": "BMW"}, {"year": 2023}]})
    assert [d.id for d in docs] == ["x1-23"]


def test_constructor_filter_is_anded_with_call_filter(minilm_encoder: Any) -> None:
    r = EnsembleRetriever.from_documents(
        _docs(), embedding=minilm_encoder, k=5, filter={"year": 2023}
    )
    assert {d.id for d in r.invoke("price review")} == {"x1-23", "c-23", "a4-23"}
    assert [d.id for d in r.invoke("price review", filter={"brand": "Audi"})] == ["a4-23"]


def test_ainvoke_matches_invoke(retriever: EnsembleRetriever) -> None:
    sync = retriever.invoke("Mercedes review", k=2)
    assert asyncio.run(retriever.ainvoke("Mercedes review", k=2)) == sync


def test_per_call_fusion_and_weights(retriever: EnsembleRetriever) -> None:
    lexical = retriever.invoke("dollars", weights=[0, 1], k=5)
    assert lexical and all(d.metadata["dense_rank"] is None for d in lexical)
    assert all("dollars" in d.page_content for d in lexical)
    dbsf = retriever.invoke("dollars", fusion="dbsf", k=2)
    assert len(dbsf) == 2


def test_bad_arguments_raise_value_errors(retriever: EnsembleRetriever) -> None:
    with pytest.raises(ValueError, match="k must be"):
        retriever.invoke("x", k=0)
    with pytest.raises(ValueError, match="'nope'"):
        retriever.invoke("x", fusion="nope")
    with pytest.raises(ValueError, match=r"\$regex"):
        retriever.invoke("x", filter={"brand": {"$regex": "B.*"}})
    with pytest.raises(ValueError, match="query must be"):
        retriever.invoke("")
    with pytest.raises(ValueError, match="exactly one"):
        EnsembleRetriever()
    with pytest.raises(ValueError, match="2 weights, expected 3"):
        EnsembleRetriever(
            retrievers=[_Fixed(docs=[]), _Fixed(docs=[]), _Fixed(docs=[])], weights=[1, 1]
        )
    with pytest.raises(ValueError, match="fusion"):
        EnsembleRetriever(store=retriever.store, fusion="borda")


def test_persist_directory_survives_reopening(tmp_path: Path) -> None:
    emb = DeterministicFakeEmbedding(size=16)
    EnsembleRetriever.from_documents(_docs(), embedding=emb, persist_directory=str(tmp_path))
    store = HybridStore(emb, path=tmp_path, collection_name="manifold")
    reopened = EnsembleRetriever(store=store, k=1)
    assert [d.id for d in reopened.invoke("Audi A4")] == ["a4-23"]


def test_add_documents_upserts_by_id(retriever: EnsembleRetriever) -> None:
    retriever.add_documents([Document(page_content="2024 BMW X1 price", id="x1-22")])
    assert retriever.store is not None and retriever.store.count() == 5
    assert retriever.invoke("2024", k=1)[0].page_content == "2024 BMW X1 price"


# ----------------------------------------------------------------- drop-in mode


class _Fixed(BaseRetriever):
    """Returns fixed documents, whatever the query."""

    docs: list[Document]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return list(self.docs)


def _bm25_and_fixed() -> tuple[BaseRetriever, BaseRetriever]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.retrievers import BM25Retriever

    texts = [t for _, t, _, _ in CARS]
    bm25 = BM25Retriever.from_texts(texts, k=4)
    fixed = _Fixed(docs=[Document(page_content=texts[i]) for i in (4, 2, 0)])
    return bm25, fixed


def test_drop_in_matches_langchain_ensemble_order() -> None:
    from langchain_classic.retrievers import EnsembleRetriever as LCEnsemble

    bm25, fixed = _bm25_and_fixed()
    theirs = LCEnsemble(retrievers=[bm25, fixed], weights=[0.3, 0.7]).invoke("BMW X1 price")
    ours = EnsembleRetriever(retrievers=[bm25, fixed], weights=[0.3, 0.7]).invoke("BMW X1 price")
    assert [d.page_content for d in ours] == [d.page_content for d in theirs]
    top = ours[0].metadata
    assert top["retriever_ranks"][1] == 1 and top["fused_score"] > 0


def test_drop_in_k_dedup_by_id_and_async() -> None:
    a = _Fixed(docs=[Document("one", id="1"), Document("two", id="2")])
    b = _Fixed(docs=[Document("two, other copy", id="2"), Document("three", id="3")])
    r = EnsembleRetriever(retrievers=[a, b])
    docs = r.invoke("q")
    assert [d.id for d in docs] == ["2", "1", "3"]
    assert docs[0].page_content == "two"  # first copy seen wins, as in LangChain
    assert docs[0].metadata["retriever_ranks"] == [2, 1]
    assert [d.id for d in r.invoke("q", k=1)] == ["2"]
    assert asyncio.run(r.ainvoke("q", k=2)) == docs[:2]
    with pytest.raises(ValueError, match="hybrid mode"):
        r.invoke("q", filter={"a": 1})


def test_drop_in_score_fusion_reads_score_metadata() -> None:
    a = _Fixed(
        docs=[Document("x", metadata={"score": 0.9}), Document("y", metadata={"score": 0.1})]
    )
    b = _Fixed(
        docs=[Document("y", metadata={"score": 12.0}), Document("z", metadata={"score": 2.0})]
    )
    out = EnsembleRetriever(retrievers=[a, b], fusion="relative_score").invoke("q")
    assert {d.page_content: d.metadata["fused_score"] for d in out} == pytest.approx(
        {"x": 1.0, "y": 1.0, "z": 0.0}
    )
    with pytest.raises(ValueError, match="needs scores"):
        EnsembleRetriever(retrievers=[a, _Fixed(docs=[Document("w")])], fusion="dbsf").invoke("q")


def test_max_staleness_reaches_the_store_s_freshness_check() -> None:
    from hybrid_helpers import writer_and_lazy_reader

    writer, reader = writer_and_lazy_reader()
    lazy = EnsembleRetriever(store=reader, weights=[0.0, 1.0], k=5)
    eager = EnsembleRetriever(store=reader, weights=[0.0, 1.0], k=5, max_staleness=0)
    assert [d.page_content for d in lazy.invoke("quokka")] == ["quokka note"]  # first check
    writer.add(["wombat burrow"], [{"g": 1}], ids=["w"])
    assert lazy.invoke("wombat") == []  # within the store's 3600 s, no check
    assert [d.page_content for d in eager.invoke("wombat")] == ["wombat burrow"]
    with pytest.raises(ValueError):
        EnsembleRetriever(store=reader, max_staleness=-1)


def test_hybrid_weights_are_checked_by_the_core_rule_when_built(
    retriever: EnsembleRetriever,
) -> None:
    """The adapter's own check let NaN through (refused only at the first query)."""
    with pytest.raises(ValueError, match="dense weight must be a finite number"):
        EnsembleRetriever(store=retriever.store, weights=[float("nan"), 1.0])
    with pytest.raises(ValueError, match=r"got 1 weights, expected 2 \(\[dense, lexical\]\)"):
        EnsembleRetriever(store=retriever.store, weights=[1.0])
