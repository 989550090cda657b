"""Reranking: score (query, passage) pairs with a cross-encoder and reorder retrieved items.

Two model families, one :class:`Reranker` protocol (:mod:`.protocol`, with
:class:`BaseReranker` and :func:`check_reranker`):

- :class:`Qwen3Reranker` (:mod:`.qwen3`): Qwen3-Reranker is a causal language model, not
  a sequence classifier; it is scored the way its authors do, ``P("yes")`` from the
  ``yes``/``no`` logits at the last position of a chat template.
- :class:`CrossEncoderReranker` (:mod:`.cross_encoder`): ordinary cross-encoders
  (bge-reranker, ms-marco, ...) through ``sentence_transformers.CrossEncoder``, with
  sigmoid scores.

Both batch by a *token budget* (:mod:`.batching`) and pick their device and dtype in
:mod:`.devices`; scores come back in input order. The ordering logic (``top_n``,
``threshold``, ``blend``) is :func:`order_by_relevance` (:mod:`.ordering`), shared by
every reranker and every framework adapter; :func:`resolve_reranker` (:mod:`.resolve`)
picks the family for a model name, and :func:`prepare_reranker` gives a framework wrapper
its core reranker, every option checked before a model loads.
"""

from __future__ import annotations

from manifold_core.reranking.batching import token_budget_batches
from manifold_core.reranking.cross_encoder import DEFAULT_CROSS_ENCODER_MODEL, CrossEncoderReranker
from manifold_core.reranking.devices import resolve_device
from manifold_core.reranking.ordering import RerankedItem, order_by_relevance, validate_rerank_args
from manifold_core.reranking.protocol import BaseReranker, Reranker, check_reranker
from manifold_core.reranking.qwen3 import (
    DEFAULT_RERANK_INSTRUCTION,
    DEFAULT_RERANKER_MODEL,
    QWEN3_RERANK_PREFIX,
    QWEN3_RERANK_SUFFIX,
    Qwen3Reranker,
)
from manifold_core.reranking.resolve import resolve_reranker

__all__ = [
    "DEFAULT_CROSS_ENCODER_MODEL",
    "DEFAULT_RERANKER_MODEL",
    "DEFAULT_RERANK_INSTRUCTION",
    "QWEN3_RERANK_PREFIX",
    "QWEN3_RERANK_SUFFIX",
    "BaseReranker",
    "CrossEncoderReranker",
    "Qwen3Reranker",
    "RerankedItem",
    "Reranker",
    "check_reranker",
    "order_by_relevance",
    "resolve_device",
    "resolve_reranker",
    "token_budget_batches",
    "validate_rerank_args",
]
