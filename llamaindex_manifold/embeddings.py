"""``Qwen3Embedding``: Qwen3-Embedding as a LlamaIndex ``BaseEmbedding`` (type conversion only).

Queries carry the Qwen3 instruction (``Instruct: {task}\\nQuery:``), texts do not, as the
model card prescribes; LlamaIndex's ``HuggingFaceEmbedding`` has no Qwen3 instruction by
default. Other models get their own prompts (E5, BGE) or none, by the rule the core and
the CLI share (:func:`manifold_core.encoders.model_prompts`). The work is done by
:class:`manifold_core.encoders.SentenceTransformerEncoder`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from manifold_core.encoders import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_QWEN3_TASK,
    Encoder,
    instructed_encoder,
    model_label,
)

__all__ = ["Qwen3Embedding"]


class Qwen3Embedding(BaseEmbedding):
    """Qwen3-Embedding (or any sentence-transformers model) with its query instruction.

    Args:
        model: a Hub name (default ``Qwen/Qwen3-Embedding-0.6B``), a local folder, a
            built ``SentenceTransformer``, or a core ``Encoder`` (used as it is).
        task: the task sentence of the query instruction.
        query_prompt: the text put before each query. ``None`` (default): the model's
            own prompt, by the same rule as the core and the CLI
            (:func:`manifold_core.encoders.model_prompts`): the Qwen3 instruction built
            from ``task`` for Qwen3-Embedding models (by name or by the folder's config),
            ``"query: "`` for E5, BGE's instruction, none for other models such as
            all-MiniLM-L6-v2. ``""`` embeds queries bare; any other string is used as given.
        dimension: keep the first ``dimension`` components (Matryoshka) and re-normalise.
        embed_batch_size: texts per forward pass (LlamaIndex's own field).
        device: ``"cpu"``, ``"cuda"``...; default sentence-transformers' choice.
        trust_remote_code: passed to ``SentenceTransformer``; off by default.
    """

    model_name: str = Field(default=DEFAULT_EMBEDDING_MODEL)
    task: str = Field(default=DEFAULT_QWEN3_TASK)
    query_prompt: str | None = Field(default=None)
    dimension: int | None = Field(default=None, gt=0)
    device: str | None = Field(default=None)
    trust_remote_code: bool = Field(default=False)
    _encoder: Encoder = PrivateAttr()

    def __init__(self, model: Any = None, **data: Any) -> None:
        if model is not None:
            data.setdefault("model_name", model_label(model))
        data.setdefault("embed_batch_size", 32)
        super().__init__(**data)
        self._encoder = instructed_encoder(
            self.model_name if model is None or isinstance(model, str) else model,
            task=self.task,
            query_prompt=self.query_prompt,
            dimension=self.dimension,
            batch_size=self.embed_batch_size,
            device=self.device,
            trust_remote_code=self.trust_remote_code,
        )

    @classmethod
    def class_name(cls) -> str:
        return "ManifoldQwen3Embedding"

    @property
    def encoder(self) -> Encoder:
        """The core encoder doing the work."""
        return self._encoder

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._encoder.encode_queries([query])[0]]

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self._encoder.encode_documents([text])[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._encoder.encode_documents(texts)]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
