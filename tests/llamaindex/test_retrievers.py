"""LlamaIndex EnsembleRetriever: hybrid mode with MetadataFilters, query engine, and fusion."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from llamaindex_manifold import EnsembleRetriever

CARS = [
    ("x1-22", "2022 BMW X1 price: the X1 sDrive starts at 39,100 dollars", "BMW", 2022),
    ("x1-23", "2023 BMW X1 review: a roomier X1 with a firm chassis", "BMW", 2023),
    ("c-23", "2023 Mercedes C-Class review: smooth engine and a plush cabin", "Mercedes", 2023),
    ("c-22", "2022 Mercedes C-Class price: from 44,600 dollars", "Mercedes", 2022),
    ("a4-23", "2023 Audi A4 price: from 40,000 dollars", "Audi", 2023),
]


def _nodes() -> list[TextNode]:
    return [TextNode(id_=i, text=t, metadata={"brand": b, "year": y}) for i, t, b, y in CARS]


def _brand(value: str) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key="brand", value=value)])


@pytest.fixture
def retriever(minilm_encoder: Any) -> EnsembleRetriever:
    return EnsembleRetriever.from_nodes(_nodes(), embed_model=minilm_encoder, similarity_top_k=3)


def test_retrieve_returns_fused_scores_and_parts(retriever: EnsembleRetriever) -> None:
    rrf = EnsembleRetriever(retriever.store, similarity_top_k=3, fusion="rrf")  # 2/61: RRF
    results = rrf.retrieve("BMW X1 price 2022")
    assert len(results) == 3 and all(isinstance(r, NodeWithScore) for r in results)
    top = results[0]
    assert top.node.node_id == "x1-22"
    assert top.score == pytest.approx(2 / 61) == top.node.metadata["fused_score"]
    assert top.node.metadata["dense_rank"] == 1 and top.node.metadata["lexical_rank"] == 1
    assert top.node.metadata["brand"] == "BMW"
    llm_text = top.node.get_content(metadata_mode=MetadataMode.LLM)
    assert "brand: BMW" in llm_text and "fused_score" not in llm_text


def test_filters_per_query_and_at_construction(
    retriever: EnsembleRetriever, minilm_encoder: Any
) -> None:
    results = retriever.retrieve("C-Class price", filters=_brand("BMW"), similarity_top_k=5)
    assert {r.node.metadata["brand"] for r in results} == {"BMW"}
    assert len(results) == 2
    newer = EnsembleRetriever(
        retriever.store,
        filters=MetadataFilters(
            filters=[MetadataFilter(key="year", value=2023, operator=FilterOperator.GTE)]
        ),
        similarity_top_k=5,
    )
    assert {r.node.node_id for r in newer.retrieve("price")} == {"x1-23", "c-23", "a4-23"}
    both = newer.retrieve("price", filters=_brand("Audi"))
    assert [r.node.node_id for r in both] == ["a4-23"]
    either = MetadataFilters(
        filters=[MetadataFilter(key="brand", value="Audi"), MetadataFilter(key="year", value=2022)],
        condition=FilterCondition.OR,
    )
    got = {r.node.node_id for r in retriever.retrieve("price", filters=either, similarity_top_k=5)}
    assert got == {"a4-23", "x1-22", "c-22"}


def test_unexpressible_filter_raises(retriever: EnsembleRetriever) -> None:
    text_match = MetadataFilters(
        filters=[MetadataFilter(key="brand", value="BM", operator=FilterOperator.TEXT_MATCH)]
    )
    with pytest.raises(ValueError, match=r"(?i)text_match"):
        retriever.retrieve("price", filters=text_match)


def test_aretrieve_matches_retrieve(retriever: EnsembleRetriever) -> None:
    sync = retriever.retrieve("Mercedes review", filters=_brand("Mercedes"))
    async_ = asyncio.run(retriever.aretrieve("Mercedes review", filters=_brand("Mercedes")))
    assert [(r.node.node_id, r.score) for r in async_] == [(r.node.node_id, r.score) for r in sync]


def test_per_query_options_do_not_leak(retriever: EnsembleRetriever) -> None:
    retriever.retrieve("price", filters=_brand("Audi"), similarity_top_k=1)
    assert len(retriever.retrieve("price")) == 3  # back to the constructor's defaults


def test_works_inside_a_query_engine_with_mock_llm(retriever: EnsembleRetriever) -> None:
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    rrf = EnsembleRetriever(retriever.store, similarity_top_k=3, fusion="rrf")  # 2/61: RRF
    engine = RetrieverQueryEngine.from_args(rrf, llm=MockLLM(max_tokens=8))
    response = engine.query("How much is the 2022 BMW X1?")
    assert response.source_nodes[0].node.node_id == "x1-22"
    assert response.source_nodes[0].score == pytest.approx(2 / 61)
    assert asyncio.run(engine.aquery("Audi A4 price")).source_nodes


def test_llamaindex_embedding_model_is_accepted() -> None:
    from llama_index.core.embeddings import MockEmbedding

    r = EnsembleRetriever.from_defaults(nodes=_nodes(), embed_model=MockEmbedding(embed_dim=8))
    results = r.retrieve("Audi A4", similarity_top_k=1)
    assert [x.node.node_id for x in results] == ["a4-23"]  # BM25 decides: MockEmbedding is flat


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        EnsembleRetriever()
    with pytest.raises(ValueError, match="similarity_top_k"):
        EnsembleRetriever(retrievers=[_Fixed([])], similarity_top_k=0)
    with pytest.raises(ValueError, match="'nope'"):
        EnsembleRetriever(retrievers=[_Fixed([])], fusion="nope")
    with pytest.raises(ValueError, match="1 weights, expected 2"):
        EnsembleRetriever(retrievers=[_Fixed([]), _Fixed([])], weights=[1.0])


# ------------------------------------------------------- fusing arbitrary retrievers


class _Fixed(BaseRetriever):
    def __init__(self, results: list[tuple[str, float | None]]) -> None:
        super().__init__()
        self.results = results

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [
            NodeWithScore(node=TextNode(id_=i, text=f"text {i}"), score=s) for i, s in self.results
        ]


def test_fuses_retrievers_without_an_llm() -> None:
    a = _Fixed([("1", 0.9), ("2", 0.5)])
    b = _Fixed([("2", 7.0), ("3", 1.0)])
    r = EnsembleRetriever(retrievers=[a, b])
    out = r.retrieve("q")
    assert [x.node.node_id for x in out] == ["2", "1", "3"]
    assert out[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert out[0].node.metadata["retriever_ranks"] == [2, 1]
    assert out[0].node.metadata["retriever_scores"] == [0.5, 7.0]
    assert [x.node.node_id for x in r.retrieve("q", similarity_top_k=1)] == ["2"]
    assert [x.node.node_id for x in asyncio.run(r.aretrieve("q"))] == ["2", "1", "3"]
    rel = EnsembleRetriever(retrievers=[a, b], fusion="relative_score", weights=[1.0, 0.5])
    assert {x.node.node_id: x.score for x in rel.retrieve("q")} == pytest.approx(
        {"1": 1.0, "2": 0.5, "3": 0.0}
    )
    with pytest.raises(ValueError, match="hybrid mode"):
        r.retrieve("q", filters=_brand("BMW"))


def test_score_fusion_needs_scores() -> None:
    r = EnsembleRetriever(retrievers=[_Fixed([("1", None)])], fusion="dbsf")
    with pytest.raises(ValueError, match="needs scores"):
        r.retrieve("q")
    assert EnsembleRetriever(retrievers=[_Fixed([("1", None)])]).retrieve("q")[0].score > 0


def test_max_staleness_reaches_the_store_s_freshness_check() -> None:
    from hybrid_helpers import writer_and_lazy_reader

    writer, reader = writer_and_lazy_reader()
    lazy = EnsembleRetriever(reader, weights=[0.0, 1.0], similarity_top_k=5)
    eager = EnsembleRetriever(reader, weights=[0.0, 1.0], similarity_top_k=5, max_staleness=0)
    assert [n.node.get_content() for n in lazy.retrieve("quokka")] == ["quokka note"]
    writer.add(["wombat burrow"], [{"g": 1}], ids=["w"])
    assert lazy.retrieve("wombat") == []  # within the store's 3600 s, no check
    assert [n.node.get_content() for n in eager.retrieve("wombat")] == ["wombat burrow"]
    with pytest.raises(ValueError):
        EnsembleRetriever(reader, max_staleness=-1)
