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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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

DEFAULT_EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
DEFAULT_QWEN3_TASK = "Given a web search query, retrieve relevant passages that answer the query"


def qwen3_query_prompt(task: str = DEFAULT_QWEN3_TASK) -> str:
    """The prefix Qwen3-Embedding expects before a query: ``Instruct: {task}\\nQuery:``."""
    return f"Instruct: {task}\nQuery:"


BGE_EN_QUERY_PROMPT = "Represent this sentence for searching relevant passages: "
BGE_ZH_QUERY_PROMPT = "为这个句子生成表示以用于检索相关文章："


@dataclass(frozen=True)
class ModelPrompts:
    """The texts an embedding model expects before queries and before documents.

    Attributes:
        query: prefix of every query (``None``: none).
        document: prefix of every document (``None``: none).
        rule: which rule chose them (``"qwen3"``, ``"configured"``, ``"e5"``,
            ``"e5-instruct"``, ``"bge"``, ``"bge-zh"`` or ``"none"``), for messages and tests.
    """

    query: str | None
    document: str | None
    rule: str


def _name_tail(name: str) -> str:
    """The last two path parts of a name (``org/model`` of a Hub id or a folder path)."""
    parts = [p for p in re.split(r"[/\\]+", name.lower()) if p]
    return "/".join(parts[-2:])


def _name_tokens(name: str) -> set[str]:
    return {t for t in re.split(r"[/_\-.:\s]+", name) if t}


def model_prompts(
    names: Sequence[str],
    *,
    task: str = DEFAULT_QWEN3_TASK,
    model_type: str | None = None,
    configured: Mapping[str, str] | None = None,
) -> ModelPrompts:
    """The one rule that decides an embedding model's query and document prompts.

    Every entry point (``resolve_encoder``, the CLI, ``Qwen3Embeddings``,
    ``Qwen3Embedding``) goes through this function, so one model name always gets the
    same prompts. In order:

    1. Qwen3-Embedding (a name containing ``qwen3-embedding``, or a folder whose
       ``config.json`` says ``model_type: qwen3``): ``Instruct: {task}\\nQuery:`` before
       queries, nothing before documents (the model card's usage).
    2. Prompts the model's folder configures (sentence-transformers'
       ``config_sentence_transformers.json``: ``"query"``, and ``"document"`` or
       ``"passage"``).
    3. E5 (a name with an ``e5`` part, e.g. ``intfloat/multilingual-e5-small``):
       ``"query: "`` and ``"passage: "``; the ``-instruct`` variants take
       ``Instruct: {task}\\nQuery: `` and nothing before documents.
    4. BGE (a name with a ``bge`` part): the English query instruction
       (``"Represent this sentence for searching relevant passages: "``), the Chinese one
       for ``-zh`` models, none for ``bge-m3``; nothing before documents.
    5. Anything else (all-MiniLM-L6-v2, Universal Sentence Encoder, ...): no prompts.

    Args:
        names: the names the model is known by (the name the user gave, the folder's
            recorded ``_name_or_path``); matched case-insensitively.
        task: the task sentence of the Qwen3 (and E5-instruct) instruction.
        model_type: ``model_type`` of the folder's ``config.json``, if known.
        configured: the prompts the folder's sentence-transformers config defines.
    """
    lowered = [_name_tail(n) for n in names if n]
    tokens: set[str] = set().union(*(_name_tokens(n) for n in lowered)) if lowered else set()
    if any("qwen3-embedding" in n for n in lowered) or (model_type or "").lower() == "qwen3":
        return ModelPrompts(qwen3_query_prompt(task), None, "qwen3")
    configured = dict(configured or {})
    query = configured.get("query") or None
    document = configured.get("document") or configured.get("passage") or None
    if query or document:
        return ModelPrompts(query, document, "configured")
    if "e5" in tokens:
        if "instruct" in tokens:
            return ModelPrompts(f"Instruct: {task}\nQuery: ", None, "e5-instruct")
        return ModelPrompts("query: ", "passage: ", "e5")
    if "bge" in tokens:
        if "m3" in tokens:
            return ModelPrompts(None, None, "none")
        if "zh" in tokens:
            return ModelPrompts(BGE_ZH_QUERY_PROMPT, None, "bge-zh")
        return ModelPrompts(BGE_EN_QUERY_PROMPT, None, "bge")
    return ModelPrompts(None, None, "none")


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
        return self._encode(_check_texts(texts), self.document_prompt)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with :attr:`query_prompt` in front."""
        return self._encode(_check_texts(texts), self.query_prompt)


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
    :class:`SentenceTransformerEncoder` with the same prompts ``resolve_encoder`` (and so
    the CLI) gives that model: ``query_prompt=None`` means the model's own prompt by
    :func:`model_prompts` (the Qwen3 instruction built from ``task`` only for
    Qwen3-Embedding), ``""`` embeds queries bare, any other string is used as given.
    """
    if not isinstance(model, str) and isinstance(model, Encoder):
        return model
    if isinstance(model, str) and model.lower() in (
        "pkg:multilingual-use",
        "pkg:multilingual-e5-small",
    ):
        return resolve_encoder(model)  # not sentence-transformers; their own prompts
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
