"""LlamaIndex postprocessors: relevance as the node score, retrieval score kept."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
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

from llamaindex_manifold import CrossEncoderReranker, Qwen3Reranker


def car_nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(
            node=TextNode(text=text, id_=f"car-{i}", metadata={"doc": i, "brand": "BMW"}),
            score=1.0 - i / 10,
        )
        for i, text in enumerate(CAR_DOCS)
    ]


class FixedRetriever(BaseRetriever):
    """Returns the car nodes in a fixed order with descending scores."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return car_nodes()


@pytest.fixture(scope="module")
def cross() -> CrossEncoderReranker:
    return CrossEncoderReranker(cross_encoder(), top_n=3)


def test_node_score_is_relevance_and_retrieval_score_is_kept(cross: CrossEncoderReranker) -> None:
    nodes = car_nodes()
    out = cross.postprocess_nodes(nodes, query_str=CAR_QUERY)
    assert len(out) == 3
    expected = ms_marco_reranker().score(CAR_QUERY, CAR_DOCS)
    assert out[0].node.metadata["doc"] == CAR_FIRST_HAND
    for n in out:
        i = n.node.metadata["doc"]
        assert n.node.node_id == f"car-{i}"
        assert n.score == pytest.approx(expected[i], abs=1e-6)
        assert n.node.metadata["retrieval_score"] == pytest.approx(1.0 - i / 10)
        assert n.node.metadata["brand"] == "BMW"
        assert "retrieval_score" not in n.node.get_content(metadata_mode=MetadataMode.LLM)
    # the incoming nodes are not modified
    assert all("retrieval_score" not in n.node.metadata for n in nodes)
    assert nodes[0].score == 1.0


def test_metadata_is_excluded_from_scoring_unless_asked() -> None:
    core = ms_marco_reranker()
    nodes = car_nodes()
    plain = CrossEncoderReranker(core, top_n=None).postprocess_nodes(nodes, query_str=CAR_QUERY)
    assert {n.node.metadata["doc"]: n.score for n in plain} == pytest.approx(
        dict(enumerate(core.score(CAR_QUERY, CAR_DOCS)))
    )
    with_meta = CrossEncoderReranker(core, top_n=None, metadata_mode=MetadataMode.ALL)
    texts = [n.node.get_content(metadata_mode=MetadataMode.ALL) for n in nodes]
    assert "brand: BMW" in texts[0]
    got = {
        n.node.metadata["doc"]: n.score
        for n in with_meta.postprocess_nodes(nodes, query_str=CAR_QUERY)
    }
    assert got == pytest.approx(dict(enumerate(core.score(CAR_QUERY, texts))))


def test_bad_arguments_and_input(cross: CrossEncoderReranker) -> None:
    assert cross.postprocess_nodes([], query_str=CAR_QUERY) == []
    with pytest.raises(ValueError, match="query"):
        cross.postprocess_nodes(car_nodes())
    with pytest.raises(ValueError, match="query"):
        cross.postprocess_nodes(car_nodes(), query_str=" ")
    with pytest.raises(ValueError, match="top_n"):
        CrossEncoderReranker(cross.reranker, top_n=-2)
    with pytest.raises(ValueError, match="threshold"):
        CrossEncoderReranker(cross.reranker, threshold=-0.5)


def test_blend_zero_keeps_the_incoming_order(cross: CrossEncoderReranker) -> None:
    blended = CrossEncoderReranker(cross.reranker, top_n=None, blend=0.0)
    out = blended.postprocess_nodes(car_nodes(), query_str=CAR_QUERY)
    assert [n.node.metadata["doc"] for n in out] == list(range(len(CAR_DOCS)))


async def test_async_postprocess(cross: CrossEncoderReranker) -> None:
    out = await cross.apostprocess_nodes(car_nodes(), query_str=CAR_QUERY)
    assert out[0].node.metadata["doc"] == CAR_FIRST_HAND


def test_in_a_query_engine_with_mock_llm(cross: CrossEncoderReranker) -> None:
    engine = RetrieverQueryEngine.from_args(
        FixedRetriever(), llm=MockLLM(), node_postprocessors=[cross]
    )
    response = engine.query(CAR_QUERY)
    assert len(response.source_nodes) == 3
    assert response.source_nodes[0].node.metadata["doc"] == CAR_FIRST_HAND
    assert all("retrieval_score" in n.node.metadata for n in response.source_nodes)


async def test_in_a_query_engine_async(cross: CrossEncoderReranker) -> None:
    engine = RetrieverQueryEngine.from_args(
        FixedRetriever(), llm=MockLLM(), node_postprocessors=[cross]
    )
    response = await engine.aquery(CAR_QUERY)
    assert response.source_nodes[0].node.metadata["doc"] == CAR_FIRST_HAND


def test_qwen3_postprocessor_matches_the_core_scores() -> None:
    pp: Any = Qwen3Reranker(tiny_qwen3_lm(), qwen3_tokenizer(), top_n=2, max_length=256)
    out = pp.postprocess_nodes(car_nodes(), query_str=CAR_QUERY)
    core = tiny_qwen3_reranker(max_length=256).score(CAR_QUERY, CAR_DOCS)
    assert [n.node.metadata["doc"] for n in out] == sorted(
        range(len(CAR_DOCS)), key=lambda i: -core[i]
    )[:2]
    assert [n.score for n in out] == pytest.approx(sorted(core, reverse=True)[:2])
    engine = RetrieverQueryEngine.from_args(
        FixedRetriever(), llm=MockLLM(), node_postprocessors=[pp]
    )
    assert len(engine.query(CAR_QUERY).source_nodes) == 2


def test_a_reranker_without_the_keywords_is_refused_when_set_up() -> None:
    from llamaindex_manifold.rerankers import RerankerPostprocessor

    with pytest.raises(TypeError, match=r"OldStyleReranker.rerank\(\) must accept .*texts"):
        RerankerPostprocessor(OldStyleReranker())
