"""LlamaIndex SemanticTextSplitter: a NodeParser that gives the core's chunks."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import NodeParser, SentenceSplitter
from llama_index.core.schema import NodeRelationship, TextNode
from topics import EN_TOPICS, ZH_TOPICS, joined

from llamaindex_manifold import SemanticTextSplitter
from manifold_core.chunking import SemanticChunker

SEED: dict[str, Any] = {"breakpoint_rule": "percentile"}
"""The seed's rule, which cuts these short three-topic texts at their topics."""


@pytest.fixture(scope="module")
def en_text() -> str:
    return joined(EN_TOPICS, " ")[0]


def test_nodes_match_the_core_with_offsets_relationships_and_metadata(
    minilm_encoder: Any, en_text: str
) -> None:
    parser = SemanticTextSplitter.from_defaults(embed_model=minilm_encoder, **SEED)
    assert isinstance(parser, NodeParser)
    doc = Document(text=en_text, metadata={"source": "topics.txt"})
    nodes = parser.get_nodes_from_documents([doc])
    core = SemanticChunker(minilm_encoder, **SEED).split_text(en_text)
    assert [n.get_content() for n in nodes] == [c.text for c in core]
    for i, (node, chunk) in enumerate(zip(nodes, core, strict=True)):
        assert isinstance(node, TextNode)
        assert (node.start_char_idx, node.end_char_idx) == (chunk.start, chunk.end)
        assert node.metadata == {"source": "topics.txt"}
        assert node.relationships[NodeRelationship.SOURCE].node_id == doc.doc_id
        assert (NodeRelationship.PREVIOUS in node.relationships) == (i > 0)
        assert (NodeRelationship.NEXT in node.relationships) == (i < len(nodes) - 1)
    assert nodes[1].relationships[NodeRelationship.PREVIOUS].node_id == nodes[0].node_id


def test_offsets_stay_true_when_text_repeats(minilm_encoder: Any) -> None:
    para = EN_TOPICS[0] + "\n\n" + EN_TOPICS[2] + "\n\n"
    text = para + para
    parser = SemanticTextSplitter.from_defaults(
        embed_model=minilm_encoder, breakpoint_rule="number_of_chunks", threshold=4
    )
    nodes = parser.get_nodes_from_documents([Document(text=text)])
    assert len(nodes) == 4
    for n in nodes:
        assert text[n.start_char_idx : n.end_char_idx] == n.get_content()
    assert nodes[2].start_char_idx == len(para)


def test_works_inside_an_ingestion_pipeline(minilm_encoder: Any, en_text: str) -> None:
    pipeline = IngestionPipeline(
        transformations=[SemanticTextSplitter.from_defaults(embed_model=minilm_encoder, **SEED)]
    )
    nodes = pipeline.run(documents=[Document(text=en_text), Document(text="One line only.")])
    assert len(nodes) == 4


async def test_async_path(minilm_encoder: Any, en_text: str) -> None:
    parser = SemanticTextSplitter.from_defaults(embed_model=minilm_encoder, **SEED)
    nodes = await parser.aget_nodes_from_documents([Document(text=en_text)])
    assert [n.get_content() for n in nodes] == parser.split_text(en_text)
    pipeline = IngestionPipeline(transformations=[parser])
    assert len(await pipeline.arun(documents=[Document(text=en_text)])) == 3


def test_offsets_of_a_split_node_are_relative_to_its_document(
    minilm_encoder: Any, en_text: str
) -> None:
    doc = Document(text="Header line.\n\n" + en_text)
    first = SentenceSplitter(chunk_size=1024, chunk_overlap=0).get_nodes_from_documents([doc])
    nodes = SemanticTextSplitter.from_defaults(embed_model=minilm_encoder)(first)
    for n in nodes:
        assert doc.text[n.start_char_idx : n.end_char_idx] == n.get_content()


def test_accepts_llamaindex_embedding(minilm_model: Any, en_text: str, minilm_encoder: Any) -> None:
    from llama_index.core.embeddings import BaseEmbedding

    class MiniLM(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return minilm_model.encode([query])[0].tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return minilm_model.encode([text])[0].tolist()

    parser = SemanticTextSplitter.from_defaults(embed_model=MiniLM(), max_tokens=256, **SEED)
    expected = SemanticTextSplitter.from_defaults(
        embed_model=minilm_encoder, max_tokens=256, **SEED
    )
    assert parser.split_text(en_text) == expected.split_text(en_text)


def test_chinese_and_chunk_metadata(use_encoder: Any) -> None:
    text, starts = joined(ZH_TOPICS)
    parser = SemanticTextSplitter.from_defaults(
        embed_model=use_encoder, add_chunk_metadata=True, **SEED
    )
    nodes = parser.get_nodes_from_documents([Document(text=text)])
    assert [n.start_char_idx for n in nodes[1:]] == starts
    assert nodes[0].metadata["boundary_similarity"] is None
    assert all(n.metadata["token_count"] <= parser.max_tokens for n in nodes)


def test_bad_parameters(minilm_encoder: Any) -> None:
    with pytest.raises(ValueError, match="min_tokens"):
        SemanticTextSplitter.from_defaults(
            embed_model=minilm_encoder, min_tokens=100, max_tokens=10
        )
    assert (
        SemanticTextSplitter.from_defaults(embed_model=minilm_encoder).get_nodes_from_documents(
            [Document(text="  ")]
        )
        == []
    )


def test_the_default_is_the_cores_size_rule_with_half_a_chunk_carried_over(
    minilm_encoder: Any,
) -> None:
    text = " ".join(EN_TOPICS * 3)
    parser = SemanticTextSplitter.from_defaults(embed_model=minilm_encoder)
    assert (parser.breakpoint_rule, parser.max_tokens, parser.overlap_tokens) == ("size", 300, 150)
    chunks = SemanticChunker(minilm_encoder).split_text(text)
    nodes = parser.get_nodes_from_documents([Document(text=text)])
    assert [(n.start_char_idx, n.end_char_idx) for n in nodes] == [(c.start, c.end) for c in chunks]
    assert len(nodes) > 1 and all(
        b.start_char_idx < a.end_char_idx for a, b in itertools.pairwise(nodes)
    )
