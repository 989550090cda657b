"""``Qwen3Embeddings``: Qwen3-Embedding as a LangChain ``Embeddings`` (type conversion only).

Queries carry the Qwen3 instruction (``Instruct: {task}\\nQuery:``), documents do not, as
the model card prescribes; LangChain's ``HuggingFaceEmbeddings`` applies no instruction,
which costs Qwen3-Embedding retrieval quality. Other models get their own prompts (E5,
BGE) or none, by the rule the core and the CLI share
(:func:`manifold_core.encoders.model_prompts`). The work is done by
:class:`manifold_core.encoders.SentenceTransformerEncoder`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from manifold_core.encoders import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_QWEN3_TASK,
    Encoder,
    instructed_encoder,
    model_label,
)

__all__ = ["Qwen3Embeddings"]


class Qwen3Embeddings(BaseModel, Embeddings):
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
        batch_size: texts per forward pass.
        device: ``"cpu"``, ``"cuda"``...; default sentence-transformers' choice.
        trust_remote_code: passed to ``SentenceTransformer``; off by default.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    model_name: str = DEFAULT_EMBEDDING_MODEL
    task: str = DEFAULT_QWEN3_TASK
    query_prompt: str | None = None
    dimension: int | None = Field(default=None, gt=0)
    batch_size: int = Field(default=32, gt=0)
    device: str | None = None
    trust_remote_code: bool = False
    _encoder: Encoder = PrivateAttr()

    def __init__(self, model: Any = None, **data: Any) -> None:
        if model is not None:
            data.setdefault("model_name", model_label(model))
        super().__init__(**data)
        self._encoder = instructed_encoder(
            self.model_name if model is None or isinstance(model, str) else model,
            task=self.task,
            query_prompt=self.query_prompt,
            dimension=self.dimension,
            batch_size=self.batch_size,
            device=self.device,
            trust_remote_code=self.trust_remote_code,
        )

    @property
    def encoder(self) -> Encoder:
        """The core encoder doing the work."""
        return self._encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages, without instruction."""
        return [[float(x) for x in row] for row in self._encoder.encode_documents(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        """Embed one query, with the instruction in front."""
        return [float(x) for x in self._encoder.encode_queries([text])[0]]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents` (runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query` (runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_query, text)
