"""The hybrid store: one Chroma collection and its lexical (BM25) index over the same ids.

One module per concern: :mod:`~manifold_core.store.chroma` (finding the collection,
Chroma's limits, filters rendered for it), :mod:`~manifold_core.store.lexical_side` (the
BM25 side index kept converging to Chroma), :mod:`~manifold_core.store.reads` (records by
id, filter or page; dense search), :mod:`~manifold_core.store.writes` (validated input,
embeddings first, journaled batches) and :mod:`~manifold_core.store.hybrid`, which
assembles :class:`HybridStore` from them. Every name is importable from here.
"""

from __future__ import annotations

from manifold_core.store.chroma import (
    CollectionNotFoundError,
    StoredRecord,
    as_filter,
    chroma_where,
)
from manifold_core.store.hybrid import DEFAULT_COLLECTION, HybridStore
from manifold_core.store.writes import PartialWriteError

__all__ = [
    "DEFAULT_COLLECTION",
    "CollectionNotFoundError",
    "HybridStore",
    "PartialWriteError",
    "StoredRecord",
    "as_filter",
    "chroma_where",
]
