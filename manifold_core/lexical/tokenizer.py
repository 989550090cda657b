"""Text to BM25 terms: jieba words for Chinese, lowercased words elsewhere, optional
Snowball stemming and stop words (:class:`LexicalTokenizer`, savable as a config)."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "DEFAULT_LANGUAGE",
    "ENGLISH_STOPWORDS",
    "LexicalTokenizer",
    "default_tokenize",
    "saved_tokenizer",
    "tokenizer_config",
]

# Han ideographs (CJK Unified Ideographs, extensions A-F, compatibility ideographs).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN_RE = re.compile(rf"([{_HAN}]+)|([^\W_{_HAN}]+)")
_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba() -> Any:
    """Import jieba and build its dictionary once, thread-safely (the first call costs ~1 s)."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                # jieba logs its dictionary build at DEBUG to stderr; keep that out of
                # users' terminals unless they lower the "jieba" logger's level themselves.
                jieba.setLogLevel(max(logging.getLogger("jieba").level, logging.INFO))
                jieba.initialize()
                _jieba_ready = True
    return jieba


def default_tokenize(text: str) -> list[str]:
    """Split text into BM25 terms: jieba words for Chinese, lowercased words elsewhere.

    The text is NFKC-normalised (full-width ``Ｘ１`` becomes ``X1``) and lowercased. Runs of
    Han characters go through jieba's search mode (``cut_for_search``) with its HMM off.
    Search mode also emits the shorter dictionary words inside a long one
    (``中华人民共和国`` yields ``人民`` and ``共和国`` too), so a query that spells a term
    shorter or longer than the document still matches. The HMM guesses unknown words from
    context, so the same name can be cut differently in a query and in a document; without
    it an unknown run falls back to single characters, which always match. On CMRC 2018 dev
    (BM25 lucene, nDCG@10): search mode without HMM 0.983, plain ``cut`` without HMM 0.983,
    either with HMM 0.977; without HMM tokenizing is also twice as fast. Other runs of
    letters and digits become one lowercased token each; punctuation and whitespace are
    dropped.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    jieba = None
    for match in _TOKEN_RE.finditer(text):
        han, word = match.groups()
        if word is not None:
            out.append(word)
            continue
        if jieba is None:
            jieba = _jieba()
        out.extend(t for t in jieba.cut_for_search(han, HMM=False) if not t.isspace() and t)
    return out


# Lucene's English stop words (EnglishAnalyzer's default set): short, and well known.
ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
# What `language=` accepts: a Snowball stemmer of PyStemmer, with these stop words.
_STOPWORDS_BY_LANGUAGE: dict[str, frozenset[str]] = {"english": ENGLISH_STOPWORDS}
# The stemmer new indexes built by `manifold ingest` use (and the adapters' default): English
# Snowball stemming, no stop words, measured best by benchmarks/lexical_analysis.py (SciFact
# BM25 nDCG@10 +4% on train and test; CMRC 2018 unchanged; stop words cost a little).
DEFAULT_LANGUAGE = "english"
_stemmers: dict[str, Any] = {}
_stemmers_lock = threading.Lock()


def _stemmer(language: str) -> Any:
    """PyStemmer's Snowball stemmer for ``language`` (one per language, built once)."""
    stemmer = _stemmers.get(language)
    if stemmer is None:
        with _stemmers_lock:
            try:
                import Stemmer
            except ImportError:
                raise ImportError(
                    f"stemming ({language!r}) needs PyStemmer: pip install PyStemmer"
                ) from None
            if language not in Stemmer.algorithms():
                raise ValueError(
                    f"no stemmer for language {language!r}; choose one of "
                    f"{', '.join(sorted(Stemmer.algorithms()))} or None"
                )
            stemmer = _stemmers.setdefault(language, Stemmer.Stemmer(language))
    return stemmer


class LexicalTokenizer:
    """The default tokenizer, with stemming and stop words; a picklable-free, savable callable.

    Args:
        stopwords: terms to drop after tokenization (compared after NFKC + lowercasing),
            or ``"language"`` for the language's list (English: Lucene's 33 words).
        language: a Snowball stemmer of PyStemmer (``"english"``, ``"german"``...) for the
            words of Latin, Greek and Cyrillic scripts, or ``None`` for none. Chinese
            (jieba) tokens are never stemmed. Stemming happens after the stop words are
            removed, so stop words are listed unstemmed.
    """

    def __init__(
        self, stopwords: Iterable[str] | str | None = None, language: str | None = None
    ) -> None:
        if language is not None:
            if not isinstance(language, str) or not language:
                raise ValueError(f"language must be a non-empty str or None, got {language!r}")
            language = language.lower()
            _stemmer(language)  # fail now on an unknown language
        words: set[str] = set()
        if isinstance(stopwords, str):
            if stopwords != "language":
                raise ValueError(
                    f"stopwords must be a list of words or 'language', got {stopwords!r}"
                )
            if language not in _STOPWORDS_BY_LANGUAGE:
                raise ValueError(
                    f"no stop-word list for language {language!r}; pass the words themselves"
                )
            words.update(_STOPWORDS_BY_LANGUAGE[language])
        else:
            for w in stopwords or ():
                if not isinstance(w, str):
                    raise TypeError(f"stopwords must be str, got {w!r}")
                words.add(unicodedata.normalize("NFKC", w).lower())
        self.stopwords: frozenset[str] = frozenset(words)
        self.language = language
        self._stem = _stemmer(language).stemWords if language is not None else None

    def __call__(self, text: str) -> list[str]:
        tokens = default_tokenize(text)
        if self.stopwords:
            tokens = [t for t in tokens if t not in self.stopwords]
        if self._stem is not None:
            stemmed = self._stem(tokens)
            # Han tokens come back unchanged from a Latin stemmer; keep them as they were.
            return list(stemmed)
        return tokens

    def config(self) -> dict[str, Any]:
        """A JSON-able description that :meth:`from_config` turns back into this tokenizer."""
        out: dict[str, Any] = {"kind": "manifold.default", "stopwords": sorted(self.stopwords)}
        if self.language is not None:
            out["language"] = self.language
        return out

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LexicalTokenizer:
        """The tokenizer a :meth:`config` describes (no ``language``: no stemming)."""
        if config.get("kind") != "manifold.default":
            raise ValueError(f"not a LexicalTokenizer config: {dict(config)!r}")
        return cls(config.get("stopwords") or (), language=config.get("language"))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, LexicalTokenizer)
            and other.stopwords == self.stopwords
            and other.language == self.language
        )

    def __hash__(self) -> int:
        return hash((self.stopwords, self.language))

    def __repr__(self) -> str:
        return (
            f"LexicalTokenizer(stopwords={len(self.stopwords)} words, language={self.language!r})"
        )


def tokenizer_config(tokenizer: Callable[[str], list[str]]) -> dict[str, Any]:
    """What a saved index records about its tokenizer: a config, or the custom one's name."""
    if isinstance(tokenizer, LexicalTokenizer):
        return tokenizer.config()
    if tokenizer is default_tokenize:
        return LexicalTokenizer().config()
    name = getattr(tokenizer, "__qualname__", type(tokenizer).__qualname__)
    module = getattr(tokenizer, "__module__", "")
    return {"kind": "custom", "name": f"{module}.{name}"}


def saved_tokenizer(config: Mapping[str, Any], where: object) -> LexicalTokenizer:
    """The tokenizer a saved :func:`tokenizer_config` describes; a custom one must be passed
    again (``where`` names the saved index in the message)."""
    if config.get("kind") == "manifold.default":
        return LexicalTokenizer.from_config(config)
    raise ValueError(
        f"the index in {where} was built with the custom tokenizer "
        f"{config.get('name')!r}; pass it again: LexicalIndex.load(path, tokenizer=...)"
    )
