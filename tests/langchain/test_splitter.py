"""LangChain SemanticTextSplitter: a drop-in TextSplitter that gives the core's chunks."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter
from topics import EN_TOPICS, ZH_TOPICS, joined

from langchain_manifold import SemanticTextSplitter
from manifold_core.chunking import SemanticChunker

SEED: dict[str, Any] = {"breakpoint_rule": "percentile"}
"""The seed's rule, which cuts these short three-topic texts at their topics."""


@pytest.fixture(scope="module")
def en_text() -> str:
    return joined(EN_TOPICS, " ")[0]


def test_is_a_text_splitter_giving_the_core_chunks(minilm_encoder: Any, en_text: str) -> None:
    splitter = SemanticTextSplitter(minilm_encoder, **SEED)
    assert isinstance(splitter, TextSplitter)
    core = SemanticChunker(minilm_encoder, **SEED).split_text(en_text)
    assert splitter.split_text(en_text) == [c.text for c in core]
    assert len(core) == 3


def test_create_documents_keeps_metadata_and_true_offsets(minilm_encoder: Any) -> None:
    # The same paragraph twice: str.find-based offsets would point both copies at the first.
    para = EN_TOPICS[0] + "\n\n" + EN_TOPICS[2] + "\n\n"
    text = para + para
    splitter = SemanticTextSplitter(
        minilm_encoder,
        add_start_index=True,
        add_chunk_metadata=True,
        breakpoint_rule="number_of_chunks",
        threshold=4,
    )
    docs = splitter.create_documents([text], metadatas=[{"source": "a.txt"}])
    assert len(docs) == 4
    starts = [d.metadata["start_index"] for d in docs]
    assert starts == sorted(set(starts))
    for d in docs:
        assert d.metadata["source"] == "a.txt"
        start, end = d.metadata["start_index"], d.metadata["end_index"]
        assert text[start:end] == d.page_content
        assert d.metadata["token_count"] <= splitter.chunker.max_tokens


def test_split_and_transform_documents(minilm_encoder: Any, en_text: str) -> None:
    splitter = SemanticTextSplitter(minilm_encoder, add_start_index=True, **SEED)
    inputs = [
        Document(page_content=en_text, metadata={"id": 1}),
        Document(page_content="Short one.", metadata={"id": 2}),
    ]
    out = splitter.split_documents(inputs)
    assert [d.metadata["id"] for d in out] == [1, 1, 1, 2]
    assert splitter.transform_documents(inputs) == out
    # metadata is copied, not shared
    out[0].metadata["id"] = 99
    assert inputs[0].metadata["id"] == 1


async def test_async_transform(minilm_encoder: Any, en_text: str) -> None:
    splitter = SemanticTextSplitter(minilm_encoder)
    out = await splitter.atransform_documents([Document(page_content=en_text)])
    assert [d.page_content for d in out] == splitter.split_text(en_text)


def test_accepts_langchain_embeddings(minilm_model: Any, en_text: str, minilm_encoder: Any) -> None:
    from langchain_core.embeddings import Embeddings

    class MiniLM(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return minilm_model.encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return minilm_model.encode([text])[0].tolist()

    splitter = SemanticTextSplitter(MiniLM(), max_tokens=256, **SEED)
    assert splitter.split_text(en_text) == SemanticTextSplitter(
        minilm_encoder, max_tokens=256, **SEED
    ).split_text(en_text)


def test_accepts_a_model_folder(minilm_path: str, en_text: str) -> None:
    assert len(SemanticTextSplitter(minilm_path, **SEED).split_text(en_text)) == 3


def test_chinese(use_encoder: Any) -> None:
    text, starts = joined(ZH_TOPICS)
    splitter = SemanticTextSplitter(use_encoder, add_start_index=True, **SEED)
    docs = splitter.create_documents([text])
    assert [d.metadata["start_index"] for d in docs[1:]] == starts


def test_bad_input(minilm_encoder: Any) -> None:
    splitter = SemanticTextSplitter(minilm_encoder)
    assert splitter.split_text("   ") == []
    with pytest.raises(TypeError, match="NoneType"):
        splitter.split_text(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        SemanticTextSplitter(minilm_encoder, threshold=7, **SEED)
    with pytest.raises(ValueError, match="metadatas"):
        splitter.create_documents(["a", "b"], metadatas=[{}])


def test_the_default_is_the_cores_size_rule_with_half_a_chunk_carried_over(
    minilm_encoder: Any,
) -> None:
    text = " ".join(EN_TOPICS * 3)
    splitter = SemanticTextSplitter(minilm_encoder, add_start_index=True)
    core = SemanticChunker(minilm_encoder)
    assert (splitter.chunker.breakpoint_rule, splitter.chunker.max_tokens) == ("size", 300)
    assert splitter._chunk_overlap == splitter.chunker.overlap_tokens == 150
    chunks = core.split_text(text)
    docs = splitter.create_documents([text])
    assert [d.page_content for d in docs] == [c.text for c in chunks] and len(docs) > 1
    assert [d.metadata["start_index"] for d in docs] == [c.start for c in chunks]
    # consecutive chunks share whole sentences
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))
