"""Encoders: turn texts into normalised float32 vectors, documents and queries apart.

The :class:`Encoder` protocol is the one thing the rest of the core needs from an
embedding model. Queries and documents are separate calls because instruction-tuned
models (Qwen3-Embedding, E5, BGE) embed them differently: the query carries an
instruction, the document does not.

This module holds the wrappers that turn a LangChain ``Embeddings``, a LlamaIndex
``BaseEmbedding`` or two plain callables into an :class:`Encoder` (none of them imports a
framework: they rely on the frameworks' method names), and :func:`resolve_encoder`, which
turns whatever a user passes as a model into one. It also re-exports, from their own
modules, the pieces it is built on, so ``manifold_core.encoders`` stays the one import
for users:

- :mod:`manifold_core.encoder_base`: :class:`Encoder`, :func:`normalize_rows`;
- :mod:`manifold_core.prompts`: :func:`model_prompts` and the Qwen3/E5/BGE prompts;
- :mod:`manifold_core.tokens`: :class:`Tokenizer`, :class:`RegexTokenizer`, ...;
- :mod:`manifold_core.st_encoder`: :class:`SentenceTransformerEncoder`;
- :mod:`manifold_core.packaged_encoders`: the ``pkg:`` engines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from manifold_core.defaults import DEFAULT_EMBEDDING_MODEL
from manifold_core.encoder_base import Encoder, check_texts, normalize_rows
from manifold_core.model_registry import is_packaged
from manifold_core.packaged_encoders import builds_own_encoder, packaged_encoder
from manifold_core.prompts import (
    BGE_EN_QUERY_PROMPT,
    BGE_ZH_QUERY_PROMPT,
    DEFAULT_QWEN3_TASK,
    ModelPrompts,
    model_prompts,
    qwen3_query_prompt,
)
from manifold_core.st_encoder import SentenceTransformerEncoder
from manifold_core.tokens import HFTokenizer, RegexTokenizer, Tokenizer, tokenizer_for

__all__ = [
    "BGE_EN_QUERY_PROMPT",
    "BGE_ZH_QUERY_PROMPT",
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_QWEN3_TASK",
    "CallableEncoder",
    "Encoder",
    "HFTokenizer",
    "LangChainEmbeddingsEncoder",
    "LlamaIndexEmbeddingEncoder",
    "ModelPrompts",
    "RegexTokenizer",
    "SentenceTransformerEncoder",
    "Tokenizer",
    "instructed_encoder",
    "model_label",
    "model_prompts",
    "normalize_rows",
    "qwen3_query_prompt",
    "resolve_encoder",
    "tokenizer_for",
]


class CallableEncoder:
    """Two plain functions (texts -> vectors) as an :class:`Encoder`.

    ``query_fn`` defaults to ``document_fn``. Vectors are normalised on the way out.
    """

    def __init__(
        self,
        document_fn: Callable[[list[str]], Any],
        query_fn: Callable[[list[str]], Any] | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.document_fn = document_fn
        self.query_fn = query_fn or document_fn
        if tokenizer is not None:
            self.tokenizer = tokenizer

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with ``document_fn``."""
        items = check_texts(texts)
        return normalize_rows(self.document_fn(items)) if items else np.zeros((0, 0), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with ``query_fn``."""
        items = check_texts(texts)
        return normalize_rows(self.query_fn(items)) if items else np.zeros((0, 0), np.float32)


class LangChainEmbeddingsEncoder:
    """Any LangChain ``Embeddings`` (``embed_documents`` / ``embed_query``) as an Encoder."""

    def __init__(self, embeddings: Any) -> None:
        self.embeddings = embeddings

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with ``embed_documents``."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows(self.embeddings.embed_documents(items))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with ``embed_query``, one by one (LangChain's API has no batch)."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows([self.embeddings.embed_query(t) for t in items])


class LlamaIndexEmbeddingEncoder:
    """Any LlamaIndex ``BaseEmbedding`` as an Encoder (text batch / query methods)."""

    def __init__(self, embed_model: Any) -> None:
        self.embed_model = embed_model

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with ``get_text_embedding_batch``."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows(self.embed_model.get_text_embedding_batch(items))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with ``get_query_embedding`` (which applies query instructions)."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows([self.embed_model.get_query_embedding(t) for t in items])


def model_label(model: Any) -> str:
    """A readable name for a model given as a name, a folder or a built object."""
    if isinstance(model, str):
        return model
    name = getattr(model, "model_name", None) or getattr(model, "name_or_path", None)
    return str(name or type(model).__name__)


def instructed_encoder(
    model: Any = DEFAULT_EMBEDDING_MODEL,
    *,
    task: str = DEFAULT_QWEN3_TASK,
    query_prompt: str | None = None,
    dimension: int | None = None,
    batch_size: int = 32,
    device: str | None = None,
    trust_remote_code: bool = False,
) -> Encoder:
    """The encoder behind the ``Qwen3Embedding(s)`` adapters.

    An :class:`Encoder` is used as it is. Anything else becomes a
    :class:`SentenceTransformerEncoder` with the same prompts ``resolve_encoder`` (and so
    the CLI) gives that model: ``query_prompt=None`` means the model's own prompt by
    :func:`model_prompts` (the Qwen3 instruction built from ``task`` only for
    Qwen3-Embedding), ``""`` embeds queries bare, any other string is used as given.
    """
    if not isinstance(model, str) and isinstance(model, Encoder):
        return model
    if builds_own_encoder(model):
        return packaged_encoder(model)  # not sentence-transformers; their own prompts
    return SentenceTransformerEncoder(
        model,
        query_prompt="auto" if query_prompt is None else query_prompt,
        task=task,
        dimension=dimension,
        batch_size=batch_size,
        device=device,
        trust_remote_code=trust_remote_code,
    )


def resolve_encoder(model: Any = None) -> Encoder:
    """Turn what a user passes as a model into an :class:`Encoder`.

    Accepts ``None`` (the default Qwen3 model), a Hub name or local folder, a packaged
    model (``pkg:all-MiniLM-L6-v2``, see :mod:`manifold_core.packaged`), an
    :class:`Encoder`, a ``SentenceTransformer``, a LangChain ``Embeddings`` or a
    LlamaIndex ``BaseEmbedding``.
    """
    if model is None:
        return SentenceTransformerEncoder(DEFAULT_EMBEDDING_MODEL)
    if isinstance(model, str):
        return packaged_encoder(model) if is_packaged(model) else SentenceTransformerEncoder(model)
    if isinstance(model, Encoder):
        return model
    if hasattr(model, "get_text_embedding_batch") and hasattr(model, "get_query_embedding"):
        return LlamaIndexEmbeddingEncoder(model)
    if hasattr(model, "embed_documents") and hasattr(model, "embed_query"):
        return LangChainEmbeddingsEncoder(model)
    if hasattr(model, "encode") and (
        hasattr(model, "get_embedding_dimension")
        or hasattr(model, "get_sentence_embedding_dimension")
    ):
        return SentenceTransformerEncoder(model)
    raise TypeError(
        "expected a model name, an Encoder, a SentenceTransformer, a LangChain Embeddings "
        f"or a LlamaIndex BaseEmbedding; got {type(model).__name__}"
    )
