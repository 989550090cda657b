"""LangChain compressors: drop-ins for ContextualCompressionRetriever, scores in metadata."""

from __future__ import annotations

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from rerank_helpers import (
    CAR_DOCS,
    CAR_FIRST_HAND,
    CAR_QUERY,
    OldStyleReranker,
    cross_encoder,
    ms_marco_reranker,
    qwen3_tokenizer,
    tiny_qwen3_lm,
    tiny_qwen3_reranker,
)

from langchain_manifold import CrossEncoderReranker, Qwen3Reranker


def car_documents() -> list[Document]:
    return [
        Document(page_content=text, metadata={"doc": i, "brand": "BMW"}, id=f"car-{i}")
        for i, text in enumerate(CAR_DOCS)
    ]


class FixedRetriever(BaseRetriever):
    """Any retriever: returns the first ``k`` car documents in a fixed order."""

    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return car_documents()[: self.k]


@pytest.fixture(scope="module")
def cross() -> CrossEncoderReranker:
    return CrossEncoderReranker(cross_encoder(), top_n=3)


def test_compress_documents_returns_top_n_with_relevance_and_original_metadata(
    cross: CrossEncoderReranker,
) -> None:
    docs = car_documents()
    out = cross.compress_documents(docs, CAR_QUERY)
    assert len(out) == 3
    assert out[0].metadata["doc"] == CAR_FIRST_HAND
    expected = ms_marco_reranker().score(CAR_QUERY, CAR_DOCS)
    for doc in out:
        i = doc.metadata["doc"]
        assert doc.id == f"car-{i}" and doc.page_content == CAR_DOCS[i]
        assert doc.metadata["brand"] == "BMW"
        assert doc.metadata["relevance_score"] == pytest.approx(expected[i], abs=1e-6)
    scores = [d.metadata["relevance_score"] for d in out]
    assert scores == sorted(scores, reverse=True)
    assert all("relevance_score" not in d.metadata for d in docs)  # inputs untouched


def test_threshold_and_top_n_none(cross: CrossEncoderReranker) -> None:
    keep_all = CrossEncoderReranker(cross.reranker, top_n=None, threshold=0.5)
    out = keep_all.compress_documents(car_documents(), CAR_QUERY)
    assert out and all(d.metadata["relevance_score"] >= 0.5 for d in out)
    assert len(out) < len(CAR_DOCS)


def test_blend_zero_keeps_retrieval_order_and_records_the_blended_score(
    cross: CrossEncoderReranker,
) -> None:
    blended = CrossEncoderReranker(cross.reranker, top_n=None, blend=0.0)
    out = blended.compress_documents(car_documents(), CAR_QUERY)
    assert [d.metadata["doc"] for d in out] == list(range(len(CAR_DOCS)))
    assert all("blended_score" in d.metadata for d in out)


def test_bad_arguments_and_input(cross: CrossEncoderReranker) -> None:
    assert cross.compress_documents([], CAR_QUERY) == []
    with pytest.raises(ValueError, match="query"):
        cross.compress_documents(car_documents(), "")
    with pytest.raises(ValueError, match="top_n"):
        CrossEncoderReranker(cross.reranker, top_n=0)
    with pytest.raises(ValueError, match="threshold"):
        CrossEncoderReranker(cross.reranker, threshold=2.0)


async def test_async_compress(cross: CrossEncoderReranker) -> None:
    out = await cross.acompress_documents(car_documents(), CAR_QUERY)
    assert [d.metadata["doc"] for d in out] == [
        d.metadata["doc"] for d in cross.compress_documents(car_documents(), CAR_QUERY)
    ]


def test_inside_contextual_compression_retriever(cross: CrossEncoderReranker) -> None:
    base = FixedRetriever(k=5)
    retriever = ContextualCompressionRetriever(base_compressor=cross, base_retriever=base)
    out = retriever.invoke(CAR_QUERY)
    assert len(out) == 3
    assert out[0].metadata["doc"] == CAR_FIRST_HAND
    assert all("relevance_score" in d.metadata for d in out)


async def test_inside_contextual_compression_retriever_async(
    cross: CrossEncoderReranker,
) -> None:
    base = FixedRetriever(k=5)
    retriever = ContextualCompressionRetriever(base_compressor=cross, base_retriever=base)
    out = await retriever.ainvoke(CAR_QUERY)
    assert out[0].metadata["doc"] == CAR_FIRST_HAND


def test_qwen3_compressor_matches_the_core_scores() -> None:
    lc = Qwen3Reranker(tiny_qwen3_lm(), qwen3_tokenizer(), top_n=2, max_length=256)
    out = lc.compress_documents(car_documents(), CAR_QUERY)
    core = tiny_qwen3_reranker(max_length=256).score(CAR_QUERY, CAR_DOCS)
    assert len(out) == 2
    best = sorted(range(len(CAR_DOCS)), key=lambda i: -core[i])[:2]
    assert [d.metadata["doc"] for d in out] == best
    for doc in out:
        assert doc.metadata["relevance_score"] == pytest.approx(core[doc.metadata["doc"]])


def test_qwen3_compressor_accepts_a_core_reranker() -> None:
    core = tiny_qwen3_reranker()
    lc = Qwen3Reranker(core, top_n=1)
    assert lc.reranker is core
    base = FixedRetriever(k=4)
    out = ContextualCompressionRetriever(base_compressor=lc, base_retriever=base).invoke(CAR_QUERY)
    assert len(out) == 1 and 0.0 <= out[0].metadata["relevance_score"] <= 1.0


def test_a_reranker_without_the_keywords_is_refused_when_set_up() -> None:
    from langchain_manifold.rerankers import RerankerCompressor

    with pytest.raises(TypeError, match=r"OldStyleReranker.rerank\(\) must accept .*texts"):
        RerankerCompressor(reranker=OldStyleReranker())


def test_any_core_reranker_works_as_a_compressor() -> None:
    from langchain_manifold.rerankers import RerankerCompressor

    docs = [Document(page_content=t, metadata={"i": i}) for i, t in enumerate(CAR_DOCS)]
    compressor = RerankerCompressor(reranker=ms_marco_reranker(), top_n=2)
    out = compressor.compress_documents(docs, CAR_QUERY)
    assert len(out) == 2
    assert out[0].metadata["i"] == CAR_FIRST_HAND
