"""Encoders: the Qwen3 query instruction, normalisation, dimension, framework wrappers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import tiny_qwen3_config

from manifold_core.encoders import (
    DEFAULT_QWEN3_TASK,
    CallableEncoder,
    LangChainEmbeddingsEncoder,
    LlamaIndexEmbeddingEncoder,
    RegexTokenizer,
    SentenceTransformerEncoder,
    qwen3_query_prompt,
    resolve_encoder,
)


@pytest.fixture(scope="module")
def tiny_qwen3_st(tmp_path_factory: pytest.TempPathFactory, qwen3_tokenizer: Any) -> Any:
    """A tiny random Qwen3 embedding model with the real tokenizer, built like the real one."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import models  # type: ignore[no-redef]
    from transformers import Qwen3Model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "Qwen3-Embedding-tiny"
    Qwen3Model(tiny_qwen3_config()).save_pretrained(folder)
    qwen3_tokenizer.save_pretrained(folder)
    transformer = models.Transformer(str(folder), tokenizer_args={"padding_side": "left"})
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="lasttoken")
    return SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")


def test_qwen3_queries_carry_the_instruction_and_documents_do_not(tiny_qwen3_st: Any) -> None:
    encoder = SentenceTransformerEncoder(tiny_qwen3_st, query_prompt="auto")
    assert encoder.query_prompt == f"Instruct: {DEFAULT_QWEN3_TASK}\nQuery:"
    query = "what is the capital of France?"
    with_instruction = tiny_qwen3_st.encode([qwen3_query_prompt() + query])
    plain = tiny_qwen3_st.encode([query])
    got_query = encoder.encode_queries([query])
    got_doc = encoder.encode_documents([query])
    np.testing.assert_allclose(got_query, with_instruction, atol=1e-5)
    np.testing.assert_allclose(got_doc, plain, atol=1e-5)
    assert not np.allclose(got_query, got_doc, atol=1e-3)


def test_qwen3_task_is_settable(tiny_qwen3_st: Any) -> None:
    encoder = SentenceTransformerEncoder(tiny_qwen3_st, task="Find the matching code")
    assert encoder.query_prompt == "Instruct: Find the matching code\nQuery:"


def test_qwen3_real_tokenizer_counts_tokens(tiny_qwen3_st: Any, qwen3_tokenizer: Any) -> None:
    encoder = SentenceTransformerEncoder(tiny_qwen3_st)
    text = "语义分块 semantic chunking"
    assert encoder.tokenizer.count([text]) == [
        len(qwen3_tokenizer(text, add_special_tokens=False)["input_ids"])
    ]
    spans = encoder.tokenizer.spans(text)
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")


def test_non_qwen_models_get_no_instruction(minilm_encoder: Any) -> None:
    assert minilm_encoder.query_prompt is None
    v = minilm_encoder.encode_queries(["hello world"])
    np.testing.assert_allclose(v, minilm_encoder.encode_documents(["hello world"]), atol=1e-6)


def test_outputs_are_normalised_float32_batches(minilm_encoder: Any) -> None:
    v = minilm_encoder.encode_documents(["a cat", "a dog", "stock markets"])
    assert v.dtype == np.float32 and v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert minilm_encoder.encode_documents([]).shape == (0, 384)


def test_reduced_dimension_slices_then_renormalises(minilm_model: Any) -> None:
    full = SentenceTransformerEncoder(minilm_model).encode_documents(["a cat on a mat"])
    small = SentenceTransformerEncoder(minilm_model, dimension=128).encode_documents(
        ["a cat on a mat"]
    )
    assert small.shape == (1, 128)
    np.testing.assert_allclose(small, full[:, :128] / np.linalg.norm(full[:, :128]), atol=1e-5)


def test_bad_arguments_name_themselves(minilm_model: Any) -> None:
    with pytest.raises(ValueError, match="dimension"):
        SentenceTransformerEncoder(minilm_model, dimension=0)
    with pytest.raises(TypeError, match="texts\\[1\\]"):
        SentenceTransformerEncoder(minilm_model).encode_documents(["ok", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        SentenceTransformerEncoder(minilm_model).encode_documents("not a list")
    with pytest.raises(TypeError, match="int"):
        resolve_encoder(42)


class _LangChainLike:
    def __init__(self, model: Any) -> None:
        self.model = model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in self.model.encode(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) * 3 for x in self.model.encode([text])[0]]  # unnormalised on purpose


def test_langchain_embeddings_become_an_encoder(minilm_model: Any) -> None:
    from langchain_core.embeddings import Embeddings

    class Wrapped(_LangChainLike, Embeddings):  # a real LangChain Embeddings subclass
        pass

    encoder = resolve_encoder(Wrapped(minilm_model))
    assert isinstance(encoder, LangChainEmbeddingsEncoder)
    q = encoder.encode_queries(["hello"])
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(q, encoder.encode_documents(["hello"]), atol=1e-5)


def test_llamaindex_embedding_becomes_an_encoder(minilm_model: Any) -> None:
    from llama_index.core.embeddings import BaseEmbedding

    class MiniLM(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return minilm_model.encode(["query: " + query])[0].tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return minilm_model.encode([text])[0].tolist()

    encoder = resolve_encoder(MiniLM())
    assert isinstance(encoder, LlamaIndexEmbeddingEncoder)
    np.testing.assert_allclose(
        encoder.encode_queries(["hi"]), minilm_model.encode(["query: hi"]), atol=1e-5
    )
    np.testing.assert_allclose(
        encoder.encode_documents(["hi"]), minilm_model.encode(["hi"]), atol=1e-5
    )


def test_callable_encoder_normalises() -> None:
    enc = CallableEncoder(lambda ts: np.array([[3.0, 4.0]] * len(ts)))
    np.testing.assert_allclose(enc.encode_documents(["x"]), [[0.6, 0.8]])


def test_regex_tokenizer_counts_cjk_characters_and_words() -> None:
    tok = RegexTokenizer()
    assert tok.count(["你好 world, 3.14!"]) == [2 + 1 + 1 + 3 + 1]
    text = "你好 world"
    assert [text[s:e] for s, e in tok.spans(text)] == ["你", "好", "world"]


def test_local_folder_loads_by_path(minilm_path: str) -> None:
    encoder = resolve_encoder(minilm_path)
    assert isinstance(encoder, SentenceTransformerEncoder)
    assert Path(minilm_path).name in encoder.model_name or encoder.model_name == minilm_path
    assert encoder.encode_documents(["x"]).shape == (1, 384)
