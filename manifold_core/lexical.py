"""Tokenizer (jieba for Chinese, words for Latin scripts) and a sparse, incremental BM25 index.

Two BM25 variants share one engine and differ only in their idf:

* ``lucene`` (default): Elasticsearch's BM25, ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))``,
  never negative, ``k1 = 1.2``, ``b = 0.75``, term weight ``tf * (k1 + 1) / (tf + k1 * (1 - b +
  b * dl / avgdl))`` (Elasticsearch's scale, which keeps the ``k1 + 1`` factor). Unlike Lucene,
  document lengths are exact rather than quantised to one byte, so scores can differ from
  Elasticsearch in the third digit; rankings almost never do.
* ``okapi``: exactly ``rank_bm25.BM25Okapi`` (``k1 = 1.5``, ``b = 0.75``,
  ``idf = ln(N - n + 0.5) - ln(n + 0.5)``, a negative idf replaced by ``epsilon`` times the mean
  idf of the vocabulary), verified against rank-bm25 in the tests.

Engine: documents live in immutable *segments* of term-major postings (CSC: per term, the
sorted rows holding it and their term frequencies). A query scores only the postings of its
terms, and selects the top k among the documents with a non-zero score (an ``argpartition``
over a mostly-zero score array of 1M costs ~60 ms; over the candidates, well under one).
``add`` builds a small segment from the batch; small segments merge geometrically, so the
total merge work stays O(n log n). ``delete`` sets tombstones and updates document
frequencies; when a third of the rows are dead, the index compacts. Readers work on an
immutable snapshot, so searches never wait for a writer and never see half an update.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import threading
import time
import unicodedata
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, count, pairwise
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from manifold_core.filters import MetadataFilter, MetadataTable, _normalise_value

__all__ = [
    "DEFAULT_LANGUAGE",
    "ENGLISH_STOPWORDS",
    "LexicalIndex",
    "LexicalTokenizer",
    "combine_fingerprints",
    "content_fingerprint",
    "default_tokenize",
    "record_digest",
    "record_digests",
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


# --- fingerprints ------------------------------------------------------------------------


def _canonical_metadata(metadata: Mapping[str, Any] | None) -> str:
    if not metadata:
        return ""
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            _, v = _normalise_value(value)
        except ValueError as exc:
            raise ValueError(f"metadata key {key!r}: {exc}") from None
        if v is not None:
            clean[str(key)] = v
    # repr of normalised str/int/float/bool/list values is deterministic and distinguishes
    # types (1, 1.0, True, "1"); 2.5x faster than json.dumps.
    return repr(sorted(clean.items()))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A fixed 64-bit mixing function (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _segment_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Wrapping uint64 sums of consecutive runs of ``values`` (empty runs sum to 0)."""
    ends = np.cumsum(lengths)
    csum = np.zeros(len(values) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(values, dtype=np.uint64, out=csum[1:])
        return csum[ends] - csum[ends - lengths]


def _hash_strings(strings: Sequence[str], chunk_bytes: int = 1 << 24) -> np.ndarray:
    """Stable 64-bit hashes of many strings at once (not cryptographic; for fingerprints).

    Each UTF-8 byte is weighted by a pseudo-random constant of its position and the
    weighted bytes are summed per string, all vectorised: ~20x faster than a Python-level
    ``blake2b`` per string, which dominated building an index from tokens.
    """
    out = np.empty(len(strings), dtype=np.uint64)
    if not len(strings):
        return out
    char_ends = np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)))
    cuts = np.searchsorted(char_ends, np.arange(chunk_bytes, int(char_ends[-1]), chunk_bytes))
    bounds = [0, *np.unique(cuts[cuts > 0]).tolist(), len(strings)]
    for start, stop in pairwise(bounds):
        if start == stop:
            continue
        part = strings[start:stop]
        joined = "".join(part)
        data = joined.encode("utf-8")
        if len(data) == len(joined):  # ASCII: byte lengths are character lengths
            lengths = np.diff(char_ends[start:stop], prepend=char_ends[start - 1] if start else 0)
        else:
            lengths = np.fromiter(
                (len(t.encode("utf-8")) for t in part), dtype=np.int64, count=len(part)
            )
        raw = np.frombuffer(data, dtype=np.uint8).astype(np.uint64) + np.uint64(1)
        position = np.arange(len(raw), dtype=np.int64) - np.repeat(
            np.cumsum(lengths) - lengths, lengths
        )
        mix = _splitmix64(np.arange(int(lengths.max(initial=0)) + 1, dtype=np.uint64))
        with np.errstate(over="ignore"):
            sums = _segment_sums(raw * mix[position], lengths)
        out[start:stop] = _splitmix64(sums ^ (lengths.astype(np.uint64) * _GOLDEN))
    return out


def _metadata_hashes(metadatas: Sequence[Mapping[str, Any] | None]) -> np.ndarray:
    present = [i for i, m in enumerate(metadatas) if m]
    out = np.zeros(len(metadatas), dtype=np.uint64)
    if present:
        canon = [_canonical_metadata(metadatas[i]) for i in present]
        out[present] = _hash_strings(canon)
    return out


def _combine_digests(
    ids: Sequence[str], content: np.ndarray, metadatas: Sequence[Mapping[str, Any] | None]
) -> np.ndarray:
    """Per-record digests from id, content hash and metadata (Chroma's normal form)."""
    id_hash = _hash_strings(ids)
    with np.errstate(over="ignore"):
        return _splitmix64(
            id_hash ^ _splitmix64(content + _splitmix64(_metadata_hashes(metadatas)))
        )


def record_digests(
    ids: Sequence[str],
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any] | None] | None = None,
) -> np.ndarray:
    """64-bit digests (uint64) of records (id, text, metadata as Chroma stores it)."""
    if not (len(ids) == len(texts) and (metadatas is None or len(metadatas) == len(ids))):
        raise ValueError("ids, texts and metadatas must have the same length")
    metas = metadatas if metadatas is not None else [None] * len(ids)
    return _combine_digests(ids, _hash_strings(texts), metas)


def record_digest(id: str, text: str, metadata: Mapping[str, Any] | None = None) -> int:
    """The 64-bit digest of one record; see :func:`record_digests`."""
    return int(record_digests([id], [text], [metadata])[0])


def _fingerprint(count: int, digest_sum: int) -> str:
    return f"v1:{count}:{digest_sum & 0xFFFFFFFFFFFFFFFF:016x}"


def content_fingerprint(
    ids: Sequence[str],
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any] | None] | None = None,
) -> str:
    """The :attr:`LexicalIndex.fingerprint` a set of records would have, in any order.

    Order-independent (a sum of per-record digests modulo 2**64), so a store can compute it
    page by page (sum the pages with :func:`combine_fingerprints`) from ``collection.get()``
    and compare it with the saved index.
    """
    digests = record_digests(list(ids), list(texts), None if metadatas is None else list(metadatas))
    return _fingerprint(len(digests), int(np.sum(digests, dtype=np.uint64)))


def combine_fingerprints(fingerprints: Iterable[str]) -> str:
    """The fingerprint of the union of disjoint record sets (e.g. pages of a collection)."""
    count, total = 0, 0
    for fp in fingerprints:
        version, n, value = fp.split(":")
        if version != "v1":
            raise ValueError(f"unknown fingerprint version in {fp!r}")
        count += int(n)
        total = (total + int(value, 16)) & 0xFFFFFFFFFFFFFFFF
    return _fingerprint(count, total)


# --- engine ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    """Immutable term-major postings of a contiguous block of rows."""

    indptr: np.ndarray  # int64, len = terms known when built + 1
    rows: np.ndarray  # int32 global rows, sorted within each term
    tfs: np.ndarray  # int32 term frequencies
    row_lo: int  # smallest and largest row of the block the segment covers
    row_hi: int

    @property
    def nnz(self) -> int:
        return len(self.rows)

    def term_of_postings(self) -> np.ndarray:
        counts = np.diff(self.indptr)
        return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


@dataclass
class _Snapshot:
    """Everything a search reads; never mutated after publication (caches aside)."""

    segments: tuple[_Segment, ...]
    n_rows: int
    alive: np.ndarray  # bool [n_rows]
    doc_len: np.ndarray  # int64 [n_rows]
    digests: np.ndarray  # uint64 [n_rows]
    ids: list[str]  # append-only; rows >= n_rows are not part of this snapshot
    table: MetadataTable  # read-only view
    df: np.ndarray  # int64 [vocab_size], live document frequency
    n_docs: int
    total_len: int
    vocab: dict[str, int]  # append-only term ids; replaced (not cleared) by clear()
    cache: dict[str, Any] = field(default_factory=dict)


_EMPTY_I64 = np.zeros(0, dtype=np.int64)


def _empty_snapshot() -> _Snapshot:
    return _Snapshot(
        segments=(),
        n_rows=0,
        alive=np.zeros(0, dtype=bool),
        doc_len=_EMPTY_I64,
        digests=np.zeros(0, dtype=np.uint64),
        ids=[],
        table=MetadataTable().view(),
        df=_EMPTY_I64,
        n_docs=0,
        total_len=0,
        vocab={},
    )


def _local_term_ids(tokens: Sequence[Sequence[str]], total: int) -> tuple[np.ndarray, list[str]]:
    """Number the distinct tokens of a batch in first-seen order, in one C-level pass.

    ``dict.setdefault(token, position)`` stores each token's first position and returns
    it for every later occurrence; those first positions, ranked, are the local ids. About
    twice as fast as ``dict.fromkeys`` followed by a lookup pass; no sorting.
    """
    first: dict[str, int] = {}
    pos = np.fromiter(
        map(first.setdefault, chain.from_iterable(tokens), count()), dtype=np.int64, count=total
    )
    starts = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    rank = np.empty(total, dtype=np.int32)
    rank[starts] = np.arange(len(starts), dtype=np.int32)
    return rank[pos], list(first)


def _token_digests(
    ids: Sequence[str],
    local_ids: np.ndarray,
    local_terms: list[str],
    lengths: np.ndarray,
    metas: Sequence[Mapping[str, Any] | None],
) -> np.ndarray:
    """Record digests for pre-tokenized documents: the content hash is a hash of the bag of
    tokens (BM25 ignores token order), computed with numpy from the batch's term ids."""
    term_hash = _hash_strings(local_terms)
    return _combine_digests(ids, _segment_sums(term_hash[local_ids], lengths), metas)


def _csr_postings(
    terms: np.ndarray, cols: np.ndarray, tfs: np.ndarray, vocab_size: int, n_cols: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Term-major postings (indptr, sorted columns, summed tfs) from (term, column, tf) triples.

    scipy's COO-to-CSR conversion is a counting sort (linear, stable) that also sums
    duplicates: about five times faster than sorting composite keys with ``np.unique``.
    """
    from scipy import sparse

    m = sparse.csr_matrix((tfs, (terms, cols)), shape=(vocab_size, max(n_cols, 1)))
    m.sum_duplicates()
    if not m.has_sorted_indices:  # pragma: no cover - scipy keeps input order per row
        m.sort_indices()
    return m.indptr.astype(np.int64), m.indices, m.data.astype(np.int32)


def _build_segment(
    term_ids: np.ndarray, lengths: np.ndarray, row_start: int, vocab_size: int
) -> tuple[_Segment, np.ndarray]:
    """Postings of a batch (flat term ids, tokens per doc); also returns its df increments."""
    n_docs = len(lengths)
    doc = np.repeat(np.arange(n_docs, dtype=np.int32), lengths)
    ones = np.ones(len(term_ids), dtype=np.int32)
    indptr, cols, tfs = _csr_postings(term_ids, doc, ones, vocab_size, n_docs)
    rows = cols.astype(np.int32, copy=False)
    if row_start:
        rows = rows + np.int32(row_start)
    df_inc = np.diff(indptr)
    segment = _Segment(indptr, rows, tfs, row_start, row_start + n_docs - 1)
    return segment, df_inc


def _merge_segments(
    segments: Sequence[_Segment],
    alive: np.ndarray,
    vocab_size: int,
    remap: np.ndarray | None = None,
) -> _Segment:
    """One segment holding the live postings of ``segments`` (given in row order)."""
    terms = np.concatenate([s.term_of_postings() for s in segments])
    rows = np.concatenate([s.rows for s in segments])
    tfs = np.concatenate([s.tfs for s in segments])
    keep = alive[rows]
    terms, rows, tfs = terms[keep], rows[keep], tfs[keep]
    if remap is not None:
        rows = remap[rows]
    # Rows ascend across segments and the conversion is stable: rows stay sorted per term.
    indptr, rows, tfs = _csr_postings(terms, rows, tfs, vocab_size, len(alive))
    lo = min(s.row_lo for s in segments)
    hi = max(s.row_hi for s in segments)
    if remap is not None:
        lo, hi = 0, int(np.count_nonzero(alive)) - 1
    return _Segment(indptr, rows.astype(np.int32), tfs, lo, hi)


class _Scratch(threading.local):
    """Per-thread score buffer, so concurrent searches neither allocate nor share it."""

    def __init__(self) -> None:
        self.scores = np.zeros(0, dtype=np.float64)

    def get(self, n: int) -> np.ndarray:
        """A zeroed buffer of at least ``n`` scores; callers zero what they touch."""
        if len(self.scores) < n:
            self.scores = np.zeros(max(n, int(len(self.scores) * 1.5)), dtype=np.float64)
        return self.scores


Variant = Literal["lucene", "okapi"]


class LexicalIndex:
    """A BM25 index with upsert, delete, metadata filters, and atomic numpy/json persistence.

    Args:
        variant: ``"lucene"`` (Elasticsearch's BM25, default) or ``"okapi"`` (exactly
            ``rank_bm25.BM25Okapi``).
        k1: term-frequency saturation; default 1.2 for lucene, 1.5 for okapi.
        b: length normalisation.
        epsilon: okapi only: a negative idf is replaced by ``epsilon * mean idf``.
        tokenizer: ``text -> list[str]``; default :class:`LexicalTokenizer` (jieba + words).

    Search results are ``(id, score)`` pairs, best first, only documents with a positive
    score that satisfy the filter; equal scores are ordered by id (ascending), so results
    do not depend on insertion history. All methods are thread-safe: writers serialise on a
    lock, searches read an immutable snapshot without taking it.
    """

    FORMAT: ClassVar[str] = "manifold-lexical"
    VERSION: ClassVar[int] = 1
    MAX_SEGMENTS: ClassVar[int] = 8
    MERGE_RATIO: ClassVar[int] = 4
    COMPACT_DEAD_FRACTION: ClassVar[float] = 1 / 3

    def __init__(
        self,
        variant: Variant = "lucene",
        *,
        k1: float | None = None,
        b: float = 0.75,
        epsilon: float = 0.25,
        tokenizer: Callable[[str], list[str]] | None = None,
    ) -> None:
        if variant not in ("lucene", "okapi"):
            raise ValueError(f"unknown BM25 variant {variant!r}; use 'lucene' or 'okapi'")
        k1 = (1.2 if variant == "lucene" else 1.5) if k1 is None else float(k1)
        if not (math.isfinite(k1) and k1 >= 0):
            raise ValueError(f"k1 must be a finite number >= 0, got {k1!r}")
        if not (math.isfinite(b) and 0 <= b <= 1):
            raise ValueError(f"b must be between 0 and 1, got {b!r}")
        if not math.isfinite(epsilon):
            raise ValueError(f"epsilon must be finite, got {epsilon!r}")
        if tokenizer is not None and not callable(tokenizer):
            raise TypeError(f"tokenizer must be callable (text -> list[str]), got {tokenizer!r}")
        self.variant: Variant = variant
        self.k1 = k1
        self.b = float(b)
        self.epsilon = float(epsilon)
        self.tokenizer: Callable[[str], list[str]] = tokenizer or LexicalTokenizer()
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()
        self._snap = _empty_snapshot()
        self._vocab: dict[str, int] = self._snap.vocab
        self._row_of: dict[str, int] = {}
        self._table = MetadataTable()
        self._scratch = _Scratch()
        self._generations: list[str] = []  # generation folders this index saved
        self.saved_extra: dict[str, Any] = {}

    # --- introspection -------------------------------------------------------------------

    def __len__(self) -> int:
        return self._snap.n_docs

    def __contains__(self, id: object) -> bool:
        return id in self._row_of

    @property
    def ids(self) -> list[str]:
        """Live ids in row order (insertion order; an upserted id moves to the end)."""
        snap = self._snap
        rows = np.flatnonzero(snap.alive)
        return [snap.ids[r] for r in rows.tolist()]

    @property
    def fingerprint(self) -> str:
        """Cheap content identity: count + order-free sum of (id, text, metadata) digests.

        Equal to :func:`content_fingerprint` over the same records, so a store can tell
        whether the saved index still mirrors its collection.
        """
        snap = self._snap
        total = int(np.sum(snap.digests[snap.alive], dtype=np.uint64)) if snap.n_rows else 0
        return _fingerprint(snap.n_docs, total)

    @property
    def vocabulary_size(self) -> int:
        """Number of distinct terms with at least one live document."""
        return int(np.count_nonzero(self._snap.df))

    def tokenize(self, text: str) -> list[str]:
        """The index's tokenizer applied to ``text``."""
        return self.tokenizer(text)

    def digests_of(self, ids: Sequence[str]) -> np.ndarray:
        """Record digests (see :func:`record_digests`) of ``ids``; 0 where an id is absent."""
        snap = self._snap
        row_of = self._row_of
        out = np.zeros(len(ids), dtype=np.uint64)
        for n, i in enumerate(ids):
            row = row_of.get(i)
            if row is not None and row < snap.n_rows and snap.alive[row]:
                out[n] = snap.digests[row]
        return out

    def get_metadata(self, id: str) -> dict[str, Any]:
        """The metadata stored for ``id`` (as Chroma returns it: absent keys dropped)."""
        with self._lock:
            row = self._row_of.get(id)
            if row is None:
                raise KeyError(id)
            return self._table.get(row)

    def __repr__(self) -> str:
        return (
            f"LexicalIndex(variant={self.variant!r}, k1={self.k1}, b={self.b}, "
            f"docs={len(self)}, terms={self.vocabulary_size})"
        )

    # --- writes --------------------------------------------------------------------------

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None:
        """Add or replace documents (upsert: an existing id is replaced).

        Raises:
            ValueError: on mismatched lengths, duplicate ids in one call, non-str ids or
                texts, or metadata Chroma would reject; nothing is written then.
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str, not one str")
        if len(ids) != len(texts):
            raise ValueError(f"got {len(ids)} ids but {len(texts)} texts")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be str, got {type(t).__name__}")
        metas = self._check_batch(ids, metadatas)
        tokens = [self.tokenizer(t) for t in texts]
        digests = record_digests(list(ids), list(texts), metas)
        self._add_tokens(list(ids), tokens, metas, digests)

    def add_tokenized(
        self,
        ids: Sequence[str],
        tokens: Sequence[Sequence[str]],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        texts: Sequence[str] | None = None,
    ) -> None:
        """Like :meth:`add` for documents tokenized already (benchmarks, custom pipelines).

        ``texts``, when given, only feed the fingerprint (so it equals
        :func:`content_fingerprint` over the texts); otherwise a hash of each token sequence
        stands in for the text.
        """
        if len(ids) != len(tokens):
            raise ValueError(f"got {len(ids)} ids but {len(tokens)} token lists")
        if texts is not None and len(texts) != len(ids):
            raise ValueError(f"got {len(ids)} ids but {len(texts)} texts")
        metas = self._check_batch(ids, metadatas)
        if texts is not None:
            digests = record_digests(list(ids), list(texts), metas)
            self._add_tokens(list(ids), tokens, metas, digests)
        else:
            self._add_tokens(list(ids), tokens, metas, None)

    def _check_batch(
        self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any] | None] | None
    ) -> list[Mapping[str, Any] | None]:
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of str, not one str")
        for i in ids:
            if not isinstance(i, str) or not i:
                raise ValueError(f"ids must be non-empty str, got {i!r}")
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    raise ValueError(f"duplicate id {i!r} in one add; Chroma rejects it too")
                seen.add(i)
        if metadatas is None:
            return [None] * len(ids)
        if len(metadatas) != len(ids):
            raise ValueError(f"got {len(ids)} ids but {len(metadatas)} metadatas")
        return list(metadatas)

    def _add_tokens(
        self,
        ids: list[str],
        tokens: Sequence[Sequence[str]],
        metas: list[Mapping[str, Any] | None],
        digests: np.ndarray | None,
    ) -> None:
        if not ids:
            return
        lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
        local_ids, local_terms = _local_term_ids(tokens, int(lengths.sum()))
        if digests is None:
            digests = _token_digests(ids, local_ids, local_terms, lengths, metas)
        with self._lock:
            snap = self._snap
            vocab = self._vocab
            new_terms = [t for t in local_terms if t not in vocab]
            for t in new_terms:
                if not isinstance(t, str):
                    raise TypeError(f"tokens must be str, got {t!r} ({type(t).__name__})")
            # Metadata next: it validates everything before writing, so a bad value
            # leaves the index untouched.
            self._table.append(metas)
            replaced = [self._row_of[i] for i in ids if i in self._row_of]
            if replaced:  # upsert: tombstone the old rows in the snapshot we publish below
                snap = self._delete_rows(snap, np.asarray(sorted(replaced), dtype=np.int64))
            for t in new_terms:  # new terms get ids in first-seen order
                vocab[t] = len(vocab)
            to_global = np.fromiter(
                map(vocab.__getitem__, local_terms), dtype=np.int32, count=len(local_terms)
            )
            term_ids = to_global[local_ids]
            vsize = len(vocab)
            row_start = snap.n_rows
            segment, df_inc = _build_segment(term_ids, lengths, row_start, vsize)
            df = np.zeros(vsize, dtype=np.int64)
            df[: len(snap.df)] = snap.df
            df += df_inc
            ids_list = snap.ids
            if len(ids_list) != snap.n_rows:  # a compaction dropped the tail; never shared
                ids_list = ids_list[: snap.n_rows]
            ids_list.extend(ids)
            for offset, i in enumerate(ids):
                self._row_of[i] = row_start + offset
            new = _Snapshot(
                segments=(*snap.segments, segment),
                n_rows=row_start + len(ids),
                alive=np.concatenate([snap.alive, np.ones(len(ids), dtype=bool)]),
                doc_len=np.concatenate([snap.doc_len, lengths]),
                digests=np.concatenate([snap.digests, digests]),
                ids=ids_list,
                table=self._table.view(),
                df=df,
                n_docs=snap.n_docs + len(ids),
                vocab=vocab,
                total_len=snap.total_len + int(lengths.sum()),
            )
            self._snap = self._maintain(new)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents; unknown ids are ignored."""
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of str, not one str")
        with self._lock:
            rows = [self._row_of[i] for i in set(ids) if i in self._row_of]
            if rows:
                snap = self._delete_rows(self._snap, np.asarray(sorted(rows), dtype=np.int64))
                self._snap = self._maintain(snap)

    def clear(self) -> None:
        """Remove every document (keeps the configuration)."""
        with self._lock:
            # A new vocabulary object: searches still running on an old snapshot keep
            # reading the old one, whose term ids match their segments.
            self._snap = _empty_snapshot()
            self._vocab = self._snap.vocab
            self._row_of = {}
            self._table = MetadataTable()

    def _delete_rows(self, snap: _Snapshot, rows: np.ndarray) -> _Snapshot:
        """A snapshot with ``rows`` tombstoned and document frequencies updated."""
        alive = snap.alive.copy()
        alive[rows] = False
        df = snap.df.copy()
        marks = np.zeros(snap.n_rows, dtype=bool)
        marks[rows] = True
        lo, hi = int(rows.min()), int(rows.max())
        for seg in snap.segments:
            if not seg.nnz:
                continue
            # Segments cover contiguous row blocks; skip those outside the deleted range.
            if seg.row_hi < lo or seg.row_lo > hi:
                continue
            hit = np.flatnonzero(marks[seg.rows])
            if len(hit):
                terms = np.searchsorted(seg.indptr, hit, side="right") - 1
                df[: len(seg.indptr) - 1] -= np.bincount(terms, minlength=len(seg.indptr) - 1)
        for r in rows.tolist():
            self._row_of.pop(snap.ids[r], None)
        return _Snapshot(
            segments=snap.segments,
            n_rows=snap.n_rows,
            alive=alive,
            doc_len=snap.doc_len,
            digests=snap.digests,
            ids=snap.ids,
            table=snap.table,
            df=df,
            n_docs=snap.n_docs - len(rows),
            vocab=snap.vocab,
            total_len=snap.total_len - int(snap.doc_len[rows].sum()),
        )

    def _maintain(self, snap: _Snapshot) -> _Snapshot:
        """Merge small segments geometrically; compact when many rows are dead."""
        dead = snap.n_rows - snap.n_docs
        if dead and dead >= self.COMPACT_DEAD_FRACTION * snap.n_rows:
            return self._compact(snap)
        segs = list(snap.segments)
        vsize = len(snap.df)
        merged = False
        while len(segs) >= 2 and segs[-1].nnz * self.MERGE_RATIO >= segs[-2].nnz:
            segs[-2:] = [_merge_segments(segs[-2:], snap.alive, vsize)]
            merged = True
        if len(segs) > self.MAX_SEGMENTS:
            segs[1:] = [_merge_segments(segs[1:], snap.alive, vsize)]
            merged = True
        if merged:
            snap.segments = tuple(segs)
        return snap

    def _compact(self, snap: _Snapshot) -> _Snapshot:
        keep = np.flatnonzero(snap.alive)
        remap = np.full(snap.n_rows, -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        vsize = len(snap.df)
        segments: tuple[_Segment, ...] = ()
        if snap.segments:
            segments = (_merge_segments(snap.segments, snap.alive, vsize, remap),)
        ids = [snap.ids[r] for r in keep.tolist()]
        self._row_of = {i: r for r, i in enumerate(ids)}
        self._table = self._table.take(keep)
        return _Snapshot(
            segments=segments,
            n_rows=len(keep),
            alive=np.ones(len(keep), dtype=bool),
            doc_len=snap.doc_len[keep],
            digests=snap.digests[keep],
            ids=ids,
            table=self._table.view(),
            df=snap.df,
            n_docs=snap.n_docs,
            vocab=snap.vocab,
            total_len=snap.total_len,
        )

    def optimize(self) -> None:
        """Drop deleted rows and merge everything into one segment (optional; for speed)."""
        with self._lock:
            self._snap = self._compact(self._snap)

    # --- scoring -------------------------------------------------------------------------

    def _norm(self, snap: _Snapshot) -> np.ndarray:
        norm = snap.cache.get("norm")
        if norm is None:
            avgdl = snap.total_len / snap.n_docs if snap.n_docs else 1.0
            if avgdl == 0:
                avgdl = 1.0
            # Same operation order as rank_bm25, so okapi scores match it bit for bit.
            norm = self.k1 * (1 - self.b + self.b * snap.doc_len / avgdl)
            snap.cache["norm"] = norm
        return norm

    def _okapi_floor(self, snap: _Snapshot) -> float:
        eps = snap.cache.get("okapi_eps")
        if eps is None:
            # Mean idf over the vocabulary from a histogram of document frequencies: the
            # same sum in an order that does not depend on insertion history.
            hist = np.bincount(snap.df)[1:] if len(snap.df) else _EMPTY_I64
            d = np.arange(1, len(hist) + 1, dtype=np.float64)
            n = float(snap.n_docs)
            nz = hist > 0
            mean = 0.0
            if np.any(nz):
                idf = np.log(n - d[nz] + 0.5) - np.log(d[nz] + 0.5)
                weights = hist[nz].astype(np.float64)
                mean = float(np.dot(weights, idf) / weights.sum())
                # Positive and negative idfs can cancel; a mean within rounding noise of
                # zero is zero, or its sign (and whether such terms score > 0 at all)
                # would depend on the order of summation.
                noise = 1e-12 * float(np.dot(weights, np.abs(idf)) / weights.sum())
                if abs(mean) <= noise:
                    mean = 0.0
            eps = self.epsilon * mean
            snap.cache["okapi_eps"] = eps
        return float(eps)

    def _idf(self, snap: _Snapshot, df: int) -> float:
        n = snap.n_docs
        if self.variant == "lucene":
            return math.log(1 + (n - df + 0.5) / (df + 0.5))
        idf = math.log(n - df + 0.5) - math.log(df + 0.5)
        return self._okapi_floor(snap) if idf < 0 else idf

    def _query_terms(self, snap: _Snapshot, tokens: Iterable[str]) -> list[int]:
        """Term ids of the query's known terms, in query order, repeats kept."""
        vsize = len(snap.df)
        out = []
        for t in tokens:
            tid = snap.vocab.get(t)
            if tid is not None and tid < vsize and snap.df[tid] > 0:
                out.append(tid)
        return out

    def _postings(
        self, snap: _Snapshot, terms: list[int]
    ) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
        """Per distinct query term: (rows, weights) for each segment holding it."""
        norm = self._norm(snap)
        k1p1 = self.k1 + 1
        parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for tid in terms:
            if tid in parts:
                continue
            found = parts[tid] = []
            idf = self._idf(snap, int(snap.df[tid]))
            for seg in snap.segments:
                if tid + 1 >= len(seg.indptr):
                    continue
                a, b = seg.indptr[tid], seg.indptr[tid + 1]
                if a == b:
                    continue
                rows = seg.rows[a:b]
                tf = seg.tfs[a:b].astype(np.float64)
                # Same operation order as rank_bm25, so okapi scores match it bit for bit.
                found.append((rows, idf * (tf * k1p1 / (tf + np.take(norm, rows)))))
        return parts

    @staticmethod
    def _accumulate(
        scores: np.ndarray, terms: list[int], parts: dict[int, list[tuple[np.ndarray, np.ndarray]]]
    ) -> None:
        # A repeated query term adds its weight again, in query order, as rank_bm25 does.
        for tid in terms:
            for rows, weights in parts[tid]:
                scores[rows] += weights

    def get_scores(self, query: str | Sequence[str]) -> np.ndarray:
        """BM25 score of every live document, aligned with :attr:`ids` (zeros included).

        ``query`` is a string (tokenized) or a token list. In okapi mode this equals
        ``rank_bm25.BM25Okapi(corpus).get_scores(tokens)`` for the same corpus order.
        """
        snap = self._snap
        tokens = self.tokenizer(query) if isinstance(query, str) else list(query)
        full = np.zeros(snap.n_rows, dtype=np.float64)
        terms = self._query_terms(snap, tokens)
        if terms and snap.n_docs:
            self._accumulate(full, terms, self._postings(snap, terms))
        return full[snap.alive]

    def search(
        self,
        query: str | Sequence[str],
        k: int,
        where: Mapping[str, Any] | MetadataFilter | None = None,
    ) -> list[tuple[str, float]]:
        """Top ``k`` documents for ``query``: ``(id, score)``, best first, score > 0 only.

        Args:
            query: text (tokenized with the index's tokenizer) or a token list.
            k: number of results wanted (fewer come back when fewer documents match).
            where: a Chroma ``where`` dict or :class:`MetadataFilter`; only documents that
                satisfy it are scored into the result (the same semantics as Chroma's).

        Raises:
            ValueError: for ``k < 1`` or an invalid filter.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
        flt = MetadataFilter.parse(where)
        if isinstance(query, str):
            tokens = self.tokenizer(query)
        elif isinstance(query, Sequence) and all(isinstance(t, str) for t in query):
            tokens = list(query)
        else:
            raise TypeError(f"query must be a str or a list of str tokens, got {query!r}")
        snap = self._snap
        terms = self._query_terms(snap, tokens)
        if not terms or not snap.n_docs:
            return []
        parts = self._postings(snap, terms)
        sizes = {tid: sum(len(r) for r, _ in segs) for tid, segs in parts.items()}
        total = sum(sizes.values())
        n = snap.n_rows
        has_dead = snap.n_docs < n
        if total * 16 < n:
            # Few postings: gather the candidates sparsely.
            all_rows = [r for segs in parts.values() for r, _ in segs]
            cand = all_rows[0] if len(all_rows) == 1 else np.unique(np.concatenate(all_rows))
            scores = self._scratch.get(n)
            try:
                self._accumulate(scores, terms, parts)
                cand_scores = scores[cand]
            finally:
                for rows in all_rows:
                    scores[rows] = 0.0
            keep = cand_scores > 0
            if has_dead:
                keep &= snap.alive[cand]
            cand, cand_scores = cand[keep], cand_scores[keep]
            if flt is not None and len(cand):
                allowed = flt.mask(snap.table, cand)
                cand, cand_scores = cand[allowed], cand_scores[allowed]
            return self._top_k(snap, cand, cand_scores, int(k))
        # Many postings: accumulate densely, then bound the k-th best score from below with
        # the documents of the rarest term (exact scores, usually the best ones); only
        # documents scoring at least that bound can be in the top k, so the selection runs
        # over a handful of rows instead of every document that shares a common word.
        scores = self._scratch.get(n)
        try:
            self._accumulate(scores, terms, parts)
            view = scores[:n]
            rarest = min(sizes, key=lambda t: sizes[t])
            probe = np.concatenate([r for r, _ in parts[rarest]])
            probe_scores = view[probe]
            ok = probe_scores > 0
            if has_dead:
                ok &= snap.alive[probe]
            if flt is not None and np.count_nonzero(ok) >= k:
                ok[ok] = flt.mask(snap.table, probe[ok])
            bound = 0.0
            if np.count_nonzero(ok) >= k:
                good = probe_scores[ok]
                bound = float(np.partition(good, len(good) - k)[len(good) - k])
            cand = np.flatnonzero(view >= bound) if bound > 0 else np.flatnonzero(view > 0)
            cand_scores = view[cand]
        finally:
            if total * 4 > n:
                scores[:n] = 0.0
            else:
                for segs in parts.values():
                    for rows, _ in segs:
                        scores[rows] = 0.0
        if has_dead:
            live = snap.alive[cand]
            cand, cand_scores = cand[live], cand_scores[live]
        if flt is not None and len(cand):
            allowed = flt.mask(snap.table, cand)
            cand, cand_scores = cand[allowed], cand_scores[allowed]
        return self._top_k(snap, cand, cand_scores, int(k))

    @staticmethod
    def _top_k(
        snap: _Snapshot, cand: np.ndarray, scores: np.ndarray, k: int
    ) -> list[tuple[str, float]]:
        if not len(cand):
            return []
        if len(cand) > k:
            part = np.argpartition(-scores, k - 1)[:k]
            kth = scores[part].min()
            # Keep every candidate tied with the k-th so the id tie-break is exact.
            sel = np.flatnonzero(scores >= kth)
            cand, scores = cand[sel], scores[sel]
        ids = snap.ids
        pairs = sorted(
            ((-float(s), ids[r]) for r, s in zip(cand.tolist(), scores.tolist(), strict=True))
        )
        return [(i, -s) for s, i in pairs[:k]]

    # --- persistence ---------------------------------------------------------------------

    def _tokenizer_config(self) -> dict[str, Any]:
        if isinstance(self.tokenizer, LexicalTokenizer):
            return self.tokenizer.config()
        name = getattr(self.tokenizer, "__qualname__", type(self.tokenizer).__qualname__)
        module = getattr(self.tokenizer, "__module__", "")
        if self.tokenizer is default_tokenize:
            return LexicalTokenizer().config()
        return {"kind": "custom", "name": f"{module}.{name}"}

    def save(self, directory: str | Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write the index to ``directory`` atomically (numpy ``.npy`` and JSON, no pickle).

        A new generation folder is written and fsynced, then a ``CURRENT`` pointer file is
        replaced atomically; a crash at any point leaves the previous index loadable.
        Temporary names are private to this process, and a save removes only generations
        this index wrote itself (or leftovers a day old), never another process's files.
        ``extra`` is stored in the manifest and comes back as :attr:`saved_extra`.
        """
        with self._save_lock:  # concurrent saves would clean up each other's generations
            self._save(Path(directory), dict(extra or {}))

    def _save(self, directory: Path, extra: dict[str, Any]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:  # one consistent state; searches continue on their snapshot
            snap = self._snap
            vocab = list(snap.vocab)[: len(snap.df)]
            table = snap.table
        gen = f"gen-{uuid.uuid4().hex[:16]}"
        tmp = directory / f"{gen}.tmp"
        tmp.mkdir()
        files: dict[str, dict[str, Any]] = {}
        try:
            arrays: dict[str, np.ndarray] = {
                "alive.npy": snap.alive,
                "doc_len.npy": snap.doc_len,
                "digests.npy": snap.digests,
            }
            for i, seg in enumerate(snap.segments):
                arrays[f"seg{i}_indptr.npy"] = seg.indptr
                arrays[f"seg{i}_rows.npy"] = seg.rows
                arrays[f"seg{i}_tfs.npy"] = seg.tfs
            meta_header, meta_arrays = table.to_arrays()
            for name, arr in meta_arrays.items():
                arrays[f"meta_{name}.npy"] = arr
            for name, arr in arrays.items():
                files[name] = _write_array(tmp / name, np.ascontiguousarray(arr))
            files["vocab.json"] = _write_json(tmp / "vocab.json", vocab)
            files["ids.json"] = _write_json(tmp / "ids.json", snap.ids[: snap.n_rows])
            files["meta.json"] = _write_json(tmp / "meta.json", meta_header)
            manifest = {
                "format": self.FORMAT,
                "version": self.VERSION,
                "variant": self.variant,
                "k1": self.k1,
                "b": self.b,
                "epsilon": self.epsilon,
                "tokenizer": self._tokenizer_config(),
                "rows": snap.n_rows,
                "docs": snap.n_docs,
                "segments": len(snap.segments),
                "vocab_size": len(snap.df),
                "fingerprint": self._fingerprint_of(snap),
                "files": files,
                "extra": extra,
            }
            _write_json(tmp / "manifest.json", manifest)
            _fsync_dir(tmp)
            os.replace(tmp, directory / gen)
            pointer = directory / f"CURRENT.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
            _write_json(pointer, {"format": self.FORMAT, "generation": gen})
            os.replace(pointer, directory / "CURRENT")
            _fsync_dir(directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old, self._generations = self._generations, [gen]
        for name in old:  # generations this index wrote before
            shutil.rmtree(directory / name, ignore_errors=True)
        day_ago = time.time() - 86_400
        for child in directory.iterdir():  # leftovers of crashed processes, a day old
            if child.name.startswith(("gen-", "CURRENT.")) and child.name not in (gen, "CURRENT"):
                try:
                    if child.stat().st_mtime >= day_ago:
                        continue
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink()
                except OSError:
                    pass

    @staticmethod
    def _fingerprint_of(snap: _Snapshot) -> str:
        total = int(np.sum(snap.digests[snap.alive], dtype=np.uint64)) if snap.n_rows else 0
        return _fingerprint(snap.n_docs, total)

    @staticmethod
    def saved_fingerprint(directory: str | Path) -> str | None:
        """The fingerprint recorded in a saved index, without loading it (None if absent)."""
        try:
            directory = Path(directory)
            pointer = json.loads((directory / "CURRENT").read_text(encoding="utf-8"))
            manifest = json.loads(
                (directory / str(pointer["generation"]) / "manifest.json").read_text("utf-8")
            )
            return str(manifest["fingerprint"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def load(
        cls, directory: str | Path, *, tokenizer: Callable[[str], list[str]] | None = None
    ) -> LexicalIndex:
        """Load an index saved by :meth:`save`, validating every file.

        Args:
            directory: the folder given to :meth:`save`.
            tokenizer: required when the index was built with a custom tokenizer.

        Raises:
            ValueError: naming the file that is missing, corrupt, or not ours.
        """
        directory = Path(directory)
        pointer = _read_json(directory / "CURRENT")
        if not isinstance(pointer, dict) or pointer.get("format") != cls.FORMAT:
            raise ValueError(f"{directory / 'CURRENT'} is not a {cls.FORMAT} pointer file")
        gen = pointer.get("generation")
        if not isinstance(gen, str) or not re.fullmatch(r"gen-[0-9a-f]+", gen):
            raise ValueError(f"{directory / 'CURRENT'} names an invalid generation {gen!r}")
        root = directory / gen
        mpath = root / "manifest.json"
        manifest = _read_json(mpath)
        if not isinstance(manifest, dict) or manifest.get("format") != cls.FORMAT:
            raise ValueError(f"{mpath} is not a {cls.FORMAT} manifest")
        if manifest.get("version") != cls.VERSION:
            raise ValueError(
                f"{mpath} has format version {manifest.get('version')!r}; this code reads "
                f"version {cls.VERSION} (rebuild the index from the collection)"
            )
        try:
            files: dict[str, Any] = dict(manifest["files"])
            variant, rows, n_docs = (
                manifest["variant"],
                int(manifest["rows"]),
                int(manifest["docs"]),
            )
            n_segments, vsize = int(manifest["segments"]), int(manifest["vocab_size"])
            tok_conf = dict(manifest["tokenizer"])
            k1, b, eps = float(manifest["k1"]), float(manifest["b"]), float(manifest["epsilon"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{mpath} is malformed: {exc}") from None
        for name, info in files.items():
            _verify(root / name, info)
        if tokenizer is None:
            if tok_conf.get("kind") == "manifold.default":
                tokenizer = LexicalTokenizer.from_config(tok_conf)
            else:
                raise ValueError(
                    f"the index in {directory} was built with the custom tokenizer "
                    f"{tok_conf.get('name')!r}; pass it again: LexicalIndex.load(path, "
                    "tokenizer=...)"
                )
        index = cls(variant, k1=k1, b=b, epsilon=eps, tokenizer=tokenizer)

        def arr(name: str, dtype: Any, length: int | None = None) -> np.ndarray:
            if name not in files:
                raise ValueError(f"{root / name} is missing from the manifest")
            a = _read_array(root / name)
            if (
                a.dtype != np.dtype(dtype)
                or a.ndim != 1
                or (length is not None and len(a) != length)
            ):
                raise ValueError(
                    f"{root / name} holds {a.dtype}{list(a.shape)}, expected {np.dtype(dtype)}"
                    f"[{length if length is not None else 'n'}]"
                )
            return a

        alive = arr("alive.npy", np.bool_, rows)
        doc_len = arr("doc_len.npy", np.int64, rows)
        digests = arr("digests.npy", np.uint64, rows)
        vocab = _read_json(root / "vocab.json")
        ids = _read_json(root / "ids.json")
        if not (
            isinstance(vocab, list)
            and len(vocab) == vsize
            and all(isinstance(t, str) for t in vocab)
        ):
            raise ValueError(f"{root / 'vocab.json'} is not a list of {vsize} terms")
        if not (
            isinstance(ids, list) and len(ids) == rows and all(isinstance(i, str) for i in ids)
        ):
            raise ValueError(f"{root / 'ids.json'} is not a list of {rows} ids")
        if int(alive.sum()) != n_docs or (doc_len < 0).any():
            raise ValueError(f"{root / 'alive.npy'} disagrees with the manifest's document count")
        segments = []
        df = np.zeros(vsize, dtype=np.int64)
        for i in range(n_segments):
            indptr = arr(f"seg{i}_indptr.npy", np.int64)
            srows = arr(f"seg{i}_rows.npy", np.int32)
            tfs = arr(f"seg{i}_tfs.npy", np.int32, len(srows))
            if (
                len(indptr) < 1
                or len(indptr) > vsize + 1
                or indptr[0] != 0
                or indptr[-1] != len(srows)
                or np.any(np.diff(indptr) < 0)
                or (len(srows) and (srows.min() < 0 or srows.max() >= rows))
                or (len(tfs) and tfs.min() < 1)
            ):
                raise ValueError(f"{root / f'seg{i}_indptr.npy'} and its postings are inconsistent")
            seg = _Segment(
                indptr,
                srows,
                tfs,
                int(srows.min()) if len(srows) else 0,
                int(srows.max()) if len(srows) else -1,
            )
            live = alive[srows]
            counts = np.bincount(seg.term_of_postings()[live], minlength=len(indptr) - 1)
            df[: len(counts)] += counts
            segments.append(seg)
        meta_header = _read_json(root / "meta.json")
        meta_arrays = {
            name[len("meta_") : -len(".npy")]: _read_array(root / name)
            for name in files
            if name.startswith("meta_") and name.endswith(".npy")
        }
        try:
            table = MetadataTable.from_arrays(meta_header, meta_arrays)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{root / 'meta.json'} or its columns are invalid: {exc}") from None
        if len(table) != rows:
            raise ValueError(f"{root / 'meta.json'} has {len(table)} rows, expected {rows}")
        index._vocab = {t: i for i, t in enumerate(vocab)}
        if len(index._vocab) != len(vocab):
            raise ValueError(f"{root / 'vocab.json'} repeats a term")
        live_ids = [ids[r] for r in np.flatnonzero(alive).tolist()]
        index._row_of = {
            i: r for r, i in zip(np.flatnonzero(alive).tolist(), live_ids, strict=True)
        }
        if len(index._row_of) != len(live_ids):
            raise ValueError(f"{root / 'ids.json'} repeats a live id")
        index._table = table
        index._snap = _Snapshot(
            segments=tuple(segments),
            n_rows=rows,
            alive=alive,
            doc_len=doc_len,
            digests=digests,
            ids=ids,
            table=table.view(),
            df=df,
            n_docs=n_docs,
            vocab=index._vocab,
            total_len=int(doc_len[alive].sum()),
        )
        if index.fingerprint != manifest.get("fingerprint"):
            raise ValueError(f"{root / 'digests.npy'} does not match the manifest's fingerprint")
        extra = manifest.get("extra", {})
        index.saved_extra = dict(extra) if isinstance(extra, dict) else {}
        return index


# --- file helpers (module level so tests can simulate a crash mid-save) ------------------


def _crc_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _finish_file(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    return {"bytes": path.stat().st_size, "crc32": _crc_file(path)}


def _write_array(path: Path, array: np.ndarray) -> dict[str, Any]:
    """Write one ``.npy`` (never pickled) and return its size and checksum."""
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
    return _finish_file(path)


def _write_json(path: Path, obj: Any) -> dict[str, Any]:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    return _finish_file(path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _verify(path: Path, info: Any) -> None:
    if not path.is_file():
        raise ValueError(f"{path} is missing; the index is incomplete (rebuild it)")
    try:
        size, crc = int(info["bytes"]), int(info["crc32"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"the manifest entry of {path} is malformed") from None
    if path.stat().st_size != size or _crc_file(path) != crc:
        raise ValueError(f"{path} is corrupt (size or checksum differs from the manifest)")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path} is missing; no lexical index saved there") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


def _read_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path} is not a valid .npy array: {exc}") from None
