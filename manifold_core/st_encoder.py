"""A sentence-transformers model as an :class:`~manifold_core.encoder_base.Encoder`.

Loads a Hub name, a local folder or a packaged ``pkg:`` folder (clear one-line errors
from :mod:`manifold_core.model_registry`), and applies the prompts
:func:`~manifold_core.prompts.model_prompts` gives the model unless told otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from manifold_core.defaults import DEFAULT_EMBEDDING_MODEL
from manifold_core.encoder_base import check_texts, normalize_rows
from manifold_core.model_registry import check_model_name, is_packaged, load_error, packaged_folder
from manifold_core.prompts import DEFAULT_QWEN3_TASK, ModelPrompts, model_prompts
from manifold_core.tokens import HFTokenizer, RegexTokenizer, Tokenizer

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["SentenceTransformerEncoder"]


def _model_dimension(model: Any) -> int:
    """Output dimension of a SentenceTransformer (the method was renamed in v6)."""
    getter = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return int(getter() or 0)


class SentenceTransformerEncoder:
    """A sentence-transformers model as an :class:`Encoder`.

    Args:
        model: a Hub name (downloaded on a connected machine), a local folder, or an
            already-built ``SentenceTransformer``. Default ``Qwen/Qwen3-Embedding-0.6B``.
        query_prompt: text put before every query. ``"auto"`` (default): the model's own
            prompt by :func:`model_prompts` (the Qwen3 instruction
            ``Instruct: {task}\\nQuery:`` for Qwen3-Embedding, ``"query: "`` for E5, BGE's
            instruction, none for other models); ``None`` or ``""`` for none; any other
            string is used as given.
        document_prompt: text put before every document; ``"auto"`` (default) as for
            queries (``"passage: "`` for E5, none for most models).
        task: the task sentence of the Qwen3 instruction.
        dimension: keep only the first ``dimension`` components and re-normalise
            (Matryoshka truncation, which Qwen3-Embedding is trained for).
        batch_size: texts per forward pass.
        device: ``"cpu"``, ``"cuda"``, ... ; ``None`` lets sentence-transformers pick.
        trust_remote_code: passed to ``SentenceTransformer``; off by default.
    """

    def __init__(
        self,
        model: str | SentenceTransformer = DEFAULT_EMBEDDING_MODEL,
        *,
        query_prompt: str | None = "auto",
        document_prompt: str | None = "auto",
        task: str = DEFAULT_QWEN3_TASK,
        dimension: int | None = None,
        batch_size: int = 32,
        device: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        if dimension is not None and dimension <= 0:
            raise ValueError(f"dimension must be a positive int or None, got {dimension!r}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size!r}")
        if isinstance(model, str):
            from sentence_transformers import SentenceTransformer

            check_model_name(model)
            self.model_name = model
            path = packaged_folder(model, "embedding") if is_packaged(model) else model
            try:
                self.model = SentenceTransformer(
                    path, device=device, trust_remote_code=trust_remote_code
                )
            except (OSError, ValueError) as exc:
                raise load_error(model, exc) from exc
        else:
            self.model = model
            self.model_name = str(getattr(model, "name_or_path", None) or type(model).__name__)
        self.task = task
        self.dimension = dimension
        self.batch_size = batch_size
        # "auto" is resolved on first use, so a name set after construction (packaged
        # models are loaded from a folder, then named "pkg:...") decides the prompts.
        self._query_prompt = query_prompt
        self._document_prompt = document_prompt

    @property
    def prompts(self) -> ModelPrompts:
        """What :func:`model_prompts` gives this model (before any explicit prompt)."""
        names = [self.model_name]
        model_type = None
        with contextlib.suppress(Exception):  # exotic model layouts have no HF config
            config: Any = self.model[0].auto_model.config  # type: ignore[union-attr]
            names.append(str(config._name_or_path))
            model_type = getattr(config, "model_type", None)
        configured = getattr(self.model, "prompts", None) or {}
        return model_prompts(names, task=self.task, model_type=model_type, configured=configured)

    @property
    def query_prompt(self) -> str | None:
        """The text put before every query (``None``: none)."""
        if self._query_prompt == "auto":
            return self.prompts.query
        return self._query_prompt or None

    @query_prompt.setter
    def query_prompt(self, value: str | None) -> None:
        self._query_prompt = value

    @property
    def document_prompt(self) -> str | None:
        """The text put before every document (``None``: none)."""
        if self._document_prompt == "auto":
            return self.prompts.document
        return self._document_prompt or None

    @document_prompt.setter
    def document_prompt(self, value: str | None) -> None:
        self._document_prompt = value

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer, for token counts."""
        tok = getattr(self.model, "tokenizer", None)
        if tok is not None and getattr(tok, "is_fast", False):
            return HFTokenizer(tok)
        return RegexTokenizer()

    @property
    def max_seq_length(self) -> int | None:
        """The longest input, in tokens, the model reads (longer inputs are cut)."""
        value = getattr(self.model, "max_seq_length", None)
        return int(value) if value else None

    def _encode(self, texts: list[str], prompt: str | None) -> np.ndarray:
        if not texts:
            dim = self.dimension or _model_dimension(self.model)
            return np.zeros((0, dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            prompt=prompt,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.dimension is None,
            show_progress_bar=False,
        )
        if self.dimension is not None:
            vectors = vectors[:, : self.dimension]
        return normalize_rows(vectors)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with :attr:`document_prompt` (usually none) in front."""
        return self._encode(check_texts(texts), self.document_prompt)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with :attr:`query_prompt` in front."""
        return self._encode(check_texts(texts), self.query_prompt)
