"""LlamaIndex Qwen3Embedding: the instruction goes on queries only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import TextNode
from rerank_helpers import tiny_qwen3_sentence_transformer

from llamaindex_manifold import Qwen3Embedding
from manifold_core.encoders import qwen3_query_prompt

QUERY = "How quiet is the new BMW X1 on the highway?"
DOCS = ["The cabin stays quiet above 120 km/h.", "It uses about 7 litres per 100 km."]


@pytest.fixture(scope="module")
def st_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tiny_qwen3_sentence_transformer(Path(tmp_path_factory.mktemp("tiny-qwen3-emb-li")))


def test_query_gets_the_instruction_texts_do_not(st_model: Any) -> None:
    emb = Qwen3Embedding(st_model)
    q = np.array(emb.get_query_embedding(QUERY))
    expected = st_model.encode(qwen3_query_prompt() + QUERY, normalize_embeddings=True)
    assert np.allclose(q, expected, atol=1e-5)
    assert not np.allclose(q, st_model.encode(QUERY, normalize_embeddings=True), atol=1e-3)
    one = np.array(emb.get_text_embedding(DOCS[0]))
    assert np.allclose(one, st_model.encode(DOCS[0], normalize_embeddings=True), atol=1e-5)
    batch = np.array(emb.get_text_embedding_batch(DOCS))
    assert np.allclose(batch, st_model.encode(DOCS, normalize_embeddings=True), atol=1e-5)


async def test_async_matches_sync(st_model: Any) -> None:
    emb = Qwen3Embedding(st_model)
    assert np.allclose(await emb.aget_query_embedding(QUERY), emb.get_query_embedding(QUERY))
    assert np.allclose(await emb.aget_text_embedding(DOCS[0]), emb.get_text_embedding(DOCS[0]))
    assert np.allclose(
        await emb.aget_text_embedding_batch(DOCS), emb.get_text_embedding_batch(DOCS)
    )


def test_default_model_name_and_custom_prompt(st_model: Any) -> None:
    assert Qwen3Embedding.model_fields["model_name"].default == "Qwen/Qwen3-Embedding-0.6B"
    bare = Qwen3Embedding(st_model, query_prompt="")
    assert np.allclose(
        bare.get_query_embedding(QUERY),
        st_model.encode(QUERY, normalize_embeddings=True),
        atol=1e-5,
    )


def test_works_as_the_embed_model_of_an_index(st_model: Any) -> None:
    emb = Qwen3Embedding(st_model)
    index = VectorStoreIndex([TextNode(text=t) for t in DOCS], embed_model=emb)
    hits = index.as_retriever(similarity_top_k=2).retrieve(QUERY)
    assert len(hits) == 2 and all(h.score is not None for h in hits)
