"""Top-k selection: which documents a query's postings make candidates, which of them are
eligible (positive score, live, passing the filter), and the exact top k with id tie-break.

A query scores only the postings of its terms and selects among the documents with a
non-zero score (an ``argpartition`` over a mostly-zero score array of 1M costs ~60 ms; over
the candidates, well under one).
"""

from __future__ import annotations

import threading

import numpy as np

from manifold_core.filters import MetadataFilter
from manifold_core.lexical.scoring import Postings, accumulate
from manifold_core.lexical.segments import Snapshot

__all__ = ["Scratch", "eligible", "select", "top_k"]


class Scratch(threading.local):
    """Per-thread score buffer, so concurrent searches neither allocate nor share it."""

    def __init__(self) -> None:
        self.scores = np.zeros(0, dtype=np.float64)

    def get(self, n: int) -> np.ndarray:
        """A zeroed buffer of at least ``n`` scores; callers zero what they touch."""
        if len(self.scores) < n:
            self.scores = np.zeros(max(n, int(len(self.scores) * 1.5)), dtype=np.float64)
        return self.scores


def eligible(
    snap: Snapshot, cand: np.ndarray, scores: np.ndarray, flt: MetadataFilter | None
) -> tuple[np.ndarray, np.ndarray]:
    """The candidates (and their scores) that may be returned: a positive score, a live
    row, and metadata that satisfies ``flt``."""
    keep = scores > 0
    if snap.n_docs < snap.n_rows:
        keep &= snap.alive[cand]
    cand, scores = cand[keep], scores[keep]
    if flt is not None and len(cand):
        allowed = flt.mask(snap.table, cand)
        cand, scores = cand[allowed], scores[allowed]
    return cand, scores


def select(
    snap: Snapshot,
    terms: list[int],
    parts: Postings,
    k: int,
    flt: MetadataFilter | None,
    scratch: Scratch,
) -> list[tuple[str, float]]:
    """The top ``k`` ``(id, score)`` of the query whose ``terms`` have these postings."""
    sizes = {tid: sum(len(r) for r, _ in segs) for tid, segs in parts.items()}
    total = sum(sizes.values())
    n = snap.n_rows
    scores = scratch.get(n)
    if total * 16 < n:
        cand, cand_scores = _sparse_candidates(scores, terms, parts)
    else:
        cand, cand_scores = _dense_candidates(snap, scores, terms, parts, sizes, k, flt)
    cand, cand_scores = eligible(snap, cand, cand_scores, flt)
    return top_k(snap, cand, cand_scores, k)


def _sparse_candidates(
    scores: np.ndarray, terms: list[int], parts: Postings
) -> tuple[np.ndarray, np.ndarray]:
    """Few postings: gather the candidates (every row a term touches) sparsely."""
    all_rows = [r for segs in parts.values() for r, _ in segs]
    cand = all_rows[0] if len(all_rows) == 1 else np.unique(np.concatenate(all_rows))
    try:
        accumulate(scores, terms, parts)
        cand_scores = scores[cand]
    finally:
        for rows in all_rows:
            scores[rows] = 0.0
    return cand, cand_scores


def _dense_candidates(
    snap: Snapshot,
    scores: np.ndarray,
    terms: list[int],
    parts: Postings,
    sizes: dict[int, int],
    k: int,
    flt: MetadataFilter | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Many postings: accumulate densely, then bound the k-th best score from below with
    the documents of the rarest term (exact scores, usually the best ones); only documents
    scoring at least that bound can be in the top k, so the selection runs over a handful
    of rows instead of every document that shares a common word."""
    n = snap.n_rows
    total = sum(sizes.values())
    try:
        accumulate(scores, terms, parts)
        view = scores[:n]
        rarest = min(sizes, key=lambda t: sizes[t])
        probe = np.concatenate([r for r, _ in parts[rarest]])
        _, good = eligible(snap, probe, view[probe], flt)
        bound = 0.0
        if len(good) >= k:
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
    return cand, cand_scores


def top_k(snap: Snapshot, cand: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The best ``k`` candidates, score descending, ties by id ascending."""
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
