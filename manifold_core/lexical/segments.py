"""The segment engine: immutable term-major postings, the snapshot a search reads, and the
pure steps that build, merge, tombstone and compact them.

Documents live in immutable *segments* of term-major postings (CSC: per term, the sorted
rows holding it and their term frequencies). ``add`` builds a small segment from the batch;
small segments merge geometrically, so the total merge work stays O(n log n). ``delete``
sets tombstones and updates document frequencies; when many rows are dead, the index
compacts. Every step returns a new :class:`Snapshot` and leaves the old one untouched, so
readers never see half an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, count
from typing import Any

import numpy as np

from manifold_core.filters import MetadataTable
from manifold_core.lexical.fingerprints import fingerprint

__all__ = [
    "Segment",
    "Snapshot",
    "build_segment",
    "compact",
    "empty_snapshot",
    "local_term_ids",
    "merge_small",
    "tombstone",
]

EMPTY_I64 = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Segment:
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
        """The term id of every posting (the expanded ``indptr``)."""
        counts = np.diff(self.indptr)
        return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


@dataclass
class Snapshot:
    """Everything a search reads; never mutated after publication (caches aside)."""

    segments: tuple[Segment, ...]
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

    @property
    def fingerprint(self) -> str:
        """The content fingerprint of the live rows (see :func:`content_fingerprint`)."""
        return fingerprint(self.digests[self.alive])


def empty_snapshot() -> Snapshot:
    """A snapshot of no documents, with a new vocabulary of its own."""
    return Snapshot(
        segments=(),
        n_rows=0,
        alive=np.zeros(0, dtype=bool),
        doc_len=EMPTY_I64,
        digests=np.zeros(0, dtype=np.uint64),
        ids=[],
        table=MetadataTable().view(),
        df=EMPTY_I64,
        n_docs=0,
        total_len=0,
        vocab={},
    )


def local_term_ids(tokens: Sequence[Sequence[str]], total: int) -> tuple[np.ndarray, list[str]]:
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


def build_segment(
    term_ids: np.ndarray, lengths: np.ndarray, row_start: int, vocab_size: int
) -> tuple[Segment, np.ndarray]:
    """Postings of a batch (flat term ids, tokens per doc); also returns its df increments."""
    n_docs = len(lengths)
    doc = np.repeat(np.arange(n_docs, dtype=np.int32), lengths)
    ones = np.ones(len(term_ids), dtype=np.int32)
    indptr, cols, tfs = _csr_postings(term_ids, doc, ones, vocab_size, n_docs)
    rows = cols.astype(np.int32, copy=False)
    if row_start:
        rows = rows + np.int32(row_start)
    df_inc = np.diff(indptr)
    segment = Segment(indptr, rows, tfs, row_start, row_start + n_docs - 1)
    return segment, df_inc


def _merge_segments(
    segments: Sequence[Segment],
    alive: np.ndarray,
    vocab_size: int,
    remap: np.ndarray | None = None,
) -> Segment:
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
    return Segment(indptr, rows.astype(np.int32), tfs, lo, hi)


def tombstone(snap: Snapshot, rows: np.ndarray) -> Snapshot:
    """A snapshot with ``rows`` (sorted, live) tombstoned and document frequencies updated."""
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
    return Snapshot(
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


def merge_small(snap: Snapshot, merge_ratio: int, max_segments: int) -> Snapshot:
    """Merge the newest segments while the last is within ``merge_ratio`` of its
    predecessor, and everything after the first once there are over ``max_segments``.

    ``snap`` is not published yet, so its segment tuple is replaced in place."""
    segs = list(snap.segments)
    vsize = len(snap.df)
    merged = False
    while len(segs) >= 2 and segs[-1].nnz * merge_ratio >= segs[-2].nnz:
        segs[-2:] = [_merge_segments(segs[-2:], snap.alive, vsize)]
        merged = True
    if len(segs) > max_segments:
        segs[1:] = [_merge_segments(segs[1:], snap.alive, vsize)]
        merged = True
    if merged:
        snap.segments = tuple(segs)
    return snap


def compact(snap: Snapshot, table: MetadataTable) -> tuple[Snapshot, MetadataTable]:
    """Drop the dead rows: one segment, rows renumbered, and the metadata ``table`` (the
    writer's, of ``snap.n_rows`` rows) cut to the live rows."""
    keep = np.flatnonzero(snap.alive)
    remap = np.full(snap.n_rows, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    vsize = len(snap.df)
    segments: tuple[Segment, ...] = ()
    if snap.segments:
        segments = (_merge_segments(snap.segments, snap.alive, vsize, remap),)
    table = table.take(keep)
    new = Snapshot(
        segments=segments,
        n_rows=len(keep),
        alive=np.ones(len(keep), dtype=bool),
        doc_len=snap.doc_len[keep],
        digests=snap.digests[keep],
        ids=[snap.ids[r] for r in keep.tolist()],
        table=table.view(),
        df=snap.df,
        n_docs=snap.n_docs,
        vocab=snap.vocab,
        total_len=snap.total_len,
    )
    return new, table
