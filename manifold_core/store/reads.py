"""The store's read path: records by id, filter or page, every record, dense search.

Reads go to Chroma, the source of truth; they never create the collection (a missing one
raises :class:`~manifold_core.store.chroma.CollectionNotFoundError`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from manifold_core.filters import MetadataFilter
from manifold_core.store.chroma import (
    _UNSET,
    CollectionAccess,
    StoredRecord,
    chroma_where,
    filter_argument,
    id_chunks,
)

__all__ = ["ReadPath"]

# Attempts of a dense query that races a concurrent delete (see _query_with_retry).
_QUERY_RETRIES = 5


def _records(res: Mapping[str, Any], with_embeddings: bool) -> list[StoredRecord]:
    """The records of one Chroma ``get`` answer."""
    ids = list(res["ids"])
    docs = res.get("documents") or [None] * len(ids)
    metas = res.get("metadatas") or [None] * len(ids)
    embs = res.get("embeddings") if with_embeddings else None
    return [
        StoredRecord(
            id=i,
            text=docs[n] or "",
            metadata=dict(metas[n] or {}),
            embedding=None if embs is None else np.asarray(embs[n], dtype=np.float32),
        )
        for n, i in enumerate(ids)
    ]


class ReadPath(CollectionAccess):
    """Reads of the collection (mixed into :class:`~manifold_core.store.HybridStore`)."""

    def get(
        self,
        ids: Sequence[str] | None = None,
        filter: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        include_embeddings: bool = False,
        *,
        where: Any = _UNSET,
    ) -> list[StoredRecord]:
        """Read items back from Chroma, by ids (in the order given), filter or page.

        Without ids, returns at most ``limit`` items (default 1000, to keep Chroma under its
        SQL limits); page with ``offset``. ``where=`` is a deprecated alias of ``filter=``.
        """
        filter = filter_argument(filter, where, "get")
        rendered = chroma_where(self.parse_filter(filter) if filter is not None else None)
        include = ["documents", "metadatas"] + (["embeddings"] if include_embeddings else [])
        collection = self._read_collection()
        records: dict[str, StoredRecord] = {}
        if ids is not None:
            if isinstance(ids, str):
                raise TypeError("ids must be a list of str, not a single str")
            wanted = list(dict.fromkeys(ids))
            for chunk in id_chunks(wanted):
                res = collection.get(ids=chunk, where=rendered, include=include)
                records.update({r.id: r for r in _records(res, include_embeddings)})
            return [records[i] for i in wanted if i in records]
        if limit is not None and limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        res = collection.get(where=rendered, limit=limit or 1000, offset=offset, include=include)
        return _records(res, include_embeddings)

    def iter_records(self, filter: Any = None, *, where: Any = _UNSET) -> Iterator[StoredRecord]:
        """Every item (optionally filtered), paged so that any collection size works.

        ``where=`` is a deprecated alias of ``filter=``.
        """
        filter = filter_argument(filter, where, "iter_records")
        rendered = chroma_where(self.parse_filter(filter) if filter is not None else None)
        self._read_collection()
        for ids, texts, metas in self._pages(rendered):
            for i, t, m in zip(ids, texts, metas, strict=True):
                yield StoredRecord(id=i, text=t, metadata=dict(m or {}))

    def dense_search(
        self, embedding: np.ndarray, n: int, filter: MetadataFilter | None = None
    ) -> list[tuple[str, float]]:
        """Chroma's ``n`` nearest neighbours of one query vector: ``(id, similarity)``.

        The similarity is ``1 - cosine distance`` (for ``l2`` and ``ip`` collections of unit
        vectors it is mapped to the same cosine). Only distances are fetched: texts and
        metadata of the few final hits are read afterwards with :meth:`get`.
        """
        self._read_collection()
        query = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        dim = self.dimension
        if dim is None:
            return []
        if query.shape[1] != dim:
            raise ValueError(
                f"query embedding has dimension {query.shape[1]}, the collection holds {dim}"
            )
        res = self._query_with_retry(query, n, chroma_where(filter))
        ids = res["ids"][0]
        dists = (res.get("distances") or [[0.0] * len(ids)])[0]
        half = self.space == "l2"
        return [
            (doc_id, 1.0 - float(d) / 2.0 if half else 1.0 - float(d))
            for doc_id, d in zip(ids, dists, strict=True)
        ]

    def _query_with_retry(
        self, query: np.ndarray, n: int, where: dict[str, Any] | None
    ) -> Mapping[str, Any]:
        """``collection.query``, retried when a concurrent delete races it.

        Chroma (1.x, embedded) can fail a query with ``InternalError: Error finding id``
        when an id it found in the vector index is deleted before its record is read.
        The next attempt sees a consistent state, so the query is retried a few times.
        """
        from chromadb.errors import InternalError

        for attempt in range(_QUERY_RETRIES):
            try:
                return self._collection.query(
                    query_embeddings=query, n_results=n, where=where, include=["distances"]
                )
            except InternalError as exc:
                if "finding id" not in str(exc) or attempt == _QUERY_RETRIES - 1:
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover
