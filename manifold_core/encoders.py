"""Encoders: turn texts into normalised float32 vectors, documents and queries apart.

The :class:`Encoder` protocol is the one thing the rest of the core needs from an
embedding model. Queries and documents are separate calls because instruction-tuned
models (Qwen3-Embedding, E5, BGE) embed them differently: the query carries an
instruction, the document does not.

Wrappers turn a sentence-transformers model, a LangChain ``Embeddings``, a LlamaIndex
``BaseEmbedding`` or two plain callables into an :class:`Encoder`. None of them imports
a framework: they rely on the frameworks' method names (duck typing).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_QWEN3_TASK",
    "CallableEncoder",
    "Encoder",
    "HFTokenizer",
    "LangChainEmbeddingsEncoder",
    "LlamaIndexEmbeddingEncoder",
    "RegexTokenizer",
    "SentenceTransformerEncoder",
    "Tokenizer",
    "instructed_encoder",
    "model_label",
    "normalize_rows",
    "qwen3_query_prompt",
    "resolve_encoder",
    "tokenizer_for",
]

DEFAULT_EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
DEFAULT_QWEN3_TASK = "Given a web search query, retrieve relevant passages that answer the query"


def qwen3_query_prompt(task: str = DEFAULT_QWEN3_TASK) -> str:
    """The prefix Qwen3-Embedding expects before a query: ``Instruct: {task}\\nQuery:``."""
    return f"Instruct: {task}\nQuery:"


def normalize_rows(vectors: Any) -> np.ndarray:
    """Return ``vectors`` as a 2-D float32 array with unit-length rows (zero rows stay zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1) if array.size else array.reshape(0, 0)
    if array.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n_texts, dim); got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(array / norms, dtype=np.float32)


def _check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{what} must be a sequence of str, not a single str; wrap it in a list")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] must be str, got {type(text).__name__}")
    return out


@runtime_checkable
class Encoder(Protocol):
    """What the core needs from an embedding model.

    Both methods take a list of texts and return a float32 array of shape
    ``(len(texts), dim)`` whose rows have unit length, so a dot product is the cosine.
    """

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages (no instruction)."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (with the model's query instruction, if it has one)."""
        ...


@runtime_checkable
class Tokenizer(Protocol):
    """Counts tokens and locates them, so chunks can be held under a token limit."""

    def count(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text, without special tokens."""
        ...

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character ``(start, end)`` of each token of ``text``, in order."""
        ...


_CJK = (
    r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
    r"\U00020000-\U0002ffff"
)
_FALLBACK_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]", re.UNICODE)


class RegexTokenizer:
    """The fallback token counter, for encoders that expose no tokenizer.

    One token per CJK character (Han, kana, hangul), one per run of other letters and
    digits, one per punctuation mark. Sub-word tokenizers count more on English (1.25x on
    SciFact abstracts with all-MiniLM-L6-v2's tokenizer), so leave headroom when the limit
    is the model's hard maximum.
    """

    def count(self, texts: Sequence[str]) -> list[int]:
        """Count tokens of each text."""
        return [sum(1 for _ in _FALLBACK_TOKEN.finditer(t)) for t in texts]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of ``text``."""
        return [m.span() for m in _FALLBACK_TOKEN.finditer(text)]


class HFTokenizer:
    """A Hugging Face fast tokenizer seen through the :class:`Tokenizer` protocol."""

    def __init__(self, tokenizer: Any, batch_size: int = 4096) -> None:
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    def count(self, texts: Sequence[str]) -> list[int]:
        """Count tokens (no special tokens), in batches."""
        counts: list[int] = []
        items = list(texts)
        for i in range(0, len(items), self.batch_size):
            enc = self.tokenizer(
                items[i : i + self.batch_size],
                add_special_tokens=False,
                truncation=False,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,
            )
            counts.extend(len(ids) for ids in enc["input_ids"])
        return counts

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens (needs a fast tokenizer's offset mapping)."""
        enc = self.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        spans = [(int(s), int(e)) for s, e in enc["offset_mapping"]]
        # Byte-level BPE can give empty or overlapping spans for pieces of one character;
        # keep each character in exactly one token.
        cleaned: list[tuple[int, int]] = []
        last_end = 0
        for start, end in spans:
            start = max(start, last_end)
            if end <= start:
                continue
            cleaned.append((start, end))
            last_end = end
        return cleaned


def tokenizer_for(encoder: Any) -> Tokenizer:
    """The encoder's own tokenizer when it exposes one, else :class:`RegexTokenizer`."""
    tok = getattr(encoder, "tokenizer", None)
    if isinstance(tok, Tokenizer):
        return tok
    if tok is not None and callable(tok) and getattr(tok, "is_fast", False):
        return HFTokenizer(tok)
    return RegexTokenizer()


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
        query_prompt: text put before every query. ``"auto"`` (default) uses the Qwen3
            instruction ``Instruct: {task}\\nQuery:`` for Qwen3-Embedding models and the
            model's own ``"query"`` prompt (if configured) otherwise; ``None`` for none.
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

            from manifold_core.packaged import (
                check_model_name,
                is_packaged,
                load_error,
                packaged_folder,
            )

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
        if query_prompt == "auto":
            query_prompt = self._auto_query_prompt()
        self.query_prompt: str | None = query_prompt

    def _auto_query_prompt(self) -> str | None:
        names = [self.model_name]
        with contextlib.suppress(Exception):  # exotic model layouts have no config name
            names.append(str(self.model[0].auto_model.config._name_or_path))  # type: ignore[union-attr]
        if any("qwen3-embedding" in n.lower() for n in names):
            return qwen3_query_prompt(self.task)
        prompts = getattr(self.model, "prompts", None) or {}
        return prompts.get("query") or None

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
        """Embed passages as they are."""
        return self._encode(_check_texts(texts), None)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with :attr:`query_prompt` in front."""
        return self._encode(_check_texts(texts), self.query_prompt or None)


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
        items = _check_texts(texts)
        return normalize_rows(self.document_fn(items)) if items else np.zeros((0, 0), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with ``query_fn``."""
        items = _check_texts(texts)
        return normalize_rows(self.query_fn(items)) if items else np.zeros((0, 0), np.float32)


class LangChainEmbeddingsEncoder:
    """Any LangChain ``Embeddings`` (``embed_documents`` / ``embed_query``) as an Encoder."""

    def __init__(self, embeddings: Any) -> None:
        self.embeddings = embeddings

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with ``embed_documents``."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows(self.embeddings.embed_documents(items))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with ``embed_query``, one by one (LangChain's API has no batch)."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows([self.embeddings.embed_query(t) for t in items])


class LlamaIndexEmbeddingEncoder:
    """Any LlamaIndex ``BaseEmbedding`` as an Encoder (text batch / query methods)."""

    def __init__(self, embed_model: Any) -> None:
        self.embed_model = embed_model

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with ``get_text_embedding_batch``."""
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, 0), dtype=np.float32)
        return normalize_rows(self.embed_model.get_text_embedding_batch(items))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with ``get_query_embedding`` (which applies query instructions)."""
        items = _check_texts(texts)
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
    :class:`SentenceTransformerEncoder` whose queries always carry an instruction:
    ``query_prompt=None`` builds the Qwen3 one from ``task``, ``""`` turns it off.
    """
    if not isinstance(model, str) and isinstance(model, Encoder):
        return model
    if isinstance(model, str) and model.lower() == "pkg:multilingual-use":
        return resolve_encoder(model)  # not a sentence-transformers model; no instruction
    prompt = qwen3_query_prompt(task) if query_prompt is None else query_prompt
    return SentenceTransformerEncoder(
        model,
        query_prompt=prompt or None,
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
        from manifold_core.packaged import is_packaged, packaged_encoder

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
