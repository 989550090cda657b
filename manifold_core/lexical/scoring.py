"""BM25 scoring over a snapshot: the two variants' idf, length normalisation, and the
per-term weights of the postings a query touches.

* ``lucene`` (default): Elasticsearch's BM25, ``idf = ln(1 + (N - n + 0.5) / (n + 0.5))``,
  never negative, ``k1 = 1.2``, ``b = 0.75``, term weight ``tf * (k1 + 1) / (tf + k1 * (1 - b +
  b * dl / avgdl))`` (Elasticsearch's scale, which keeps the ``k1 + 1`` factor). Unlike Lucene,
  document lengths are exact rather than quantised to one byte, so scores can differ from
  Elasticsearch in the third digit; rankings almost never do.
* ``okapi``: exactly ``rank_bm25.BM25Okapi`` (``k1 = 1.5``, ``b = 0.75``,
  ``idf = ln(N - n + 0.5) - ln(n + 0.5)``, a negative idf replaced by ``epsilon`` times the mean
  idf of the vocabulary), verified against rank-bm25 in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from manifold_core.lexical.segments import EMPTY_I64, Snapshot

__all__ = ["BM25", "Postings", "Variant", "accumulate", "query_terms"]

Variant = Literal["lucene", "okapi"]
# Per distinct query term: (rows, weights) for each segment holding it.
Postings = dict[int, list[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class BM25:
    """The BM25 parameters of an index; its methods score a snapshot (cached on it)."""

    variant: Variant
    k1: float
    b: float
    epsilon: float

    @classmethod
    def checked(cls, variant: Variant, k1: float | None, b: float, epsilon: float) -> BM25:
        """Validated parameters; ``k1=None`` is the variant's default (1.2 or 1.5)."""
        if variant not in ("lucene", "okapi"):
            raise ValueError(f"unknown BM25 variant {variant!r}; use 'lucene' or 'okapi'")
        k1 = (1.2 if variant == "lucene" else 1.5) if k1 is None else float(k1)
        if not (math.isfinite(k1) and k1 >= 0):
            raise ValueError(f"k1 must be a finite number >= 0, got {k1!r}")
        if not (math.isfinite(b) and 0 <= b <= 1):
            raise ValueError(f"b must be between 0 and 1, got {b!r}")
        if not math.isfinite(epsilon):
            raise ValueError(f"epsilon must be finite, got {epsilon!r}")
        return cls(variant, k1, float(b), float(epsilon))

    def length_norm(self, snap: Snapshot) -> np.ndarray:
        """``k1 * (1 - b + b * dl / avgdl)`` per row."""
        norm = snap.cache.get("norm")
        if norm is None:
            avgdl = snap.total_len / snap.n_docs if snap.n_docs else 1.0
            if avgdl == 0:
                avgdl = 1.0
            # Same operation order as rank_bm25, so okapi scores match it bit for bit.
            norm = self.k1 * (1 - self.b + self.b * snap.doc_len / avgdl)
            snap.cache["norm"] = norm
        return norm

    def okapi_floor(self, snap: Snapshot) -> float:
        """``epsilon`` times the mean idf of the vocabulary: okapi's floor for negative idfs."""
        eps = snap.cache.get("okapi_eps")
        if eps is None:
            # Mean idf over the vocabulary from a histogram of document frequencies: the
            # same sum in an order that does not depend on insertion history.
            hist = np.bincount(snap.df)[1:] if len(snap.df) else EMPTY_I64
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

    def idf(self, snap: Snapshot, df: int) -> float:
        """The variant's idf of a term held by ``df`` live documents."""
        n = snap.n_docs
        if self.variant == "lucene":
            return math.log(1 + (n - df + 0.5) / (df + 0.5))
        idf = math.log(n - df + 0.5) - math.log(df + 0.5)
        return self.okapi_floor(snap) if idf < 0 else idf

    def postings(self, snap: Snapshot, terms: list[int]) -> Postings:
        """Per distinct query term: (rows, BM25 weights) for each segment holding it."""
        norm = self.length_norm(snap)
        k1p1 = self.k1 + 1
        parts: Postings = {}
        for tid in terms:
            if tid in parts:
                continue
            found = parts[tid] = []
            idf = self.idf(snap, int(snap.df[tid]))
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


def query_terms(snap: Snapshot, tokens: Iterable[str]) -> list[int]:
    """Term ids of the query's known terms, in query order, repeats kept."""
    vsize = len(snap.df)
    out = []
    for t in tokens:
        tid = snap.vocab.get(t)
        if tid is not None and tid < vsize and snap.df[tid] > 0:
            out.append(tid)
    return out


def accumulate(scores: np.ndarray, terms: list[int], parts: Postings) -> None:
    """Add the query's term weights into ``scores`` (indexed by row)."""
    # A repeated query term adds its weight again, in query order, as rank_bm25 does.
    for tid in terms:
        for rows, weights in parts[tid]:
            scores[rows] += weights
