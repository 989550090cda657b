"""Access to the store's Chroma collection: finding it, its limits, filters rendered for it.

Reads never create a collection (a missing one raises :class:`CollectionNotFoundError`, so
a typo is never an empty result); the first write creates it in cosine space. Chroma's
limits live here: id lists go in chunks of :data:`_ID_CHUNK` (its SQLite rejects more than
32,766 bound variables), whole-collection reads in pages of :data:`_PAGE`, and a filter with
more ``$in``/``$nin`` values than it can bind is refused with a clear message.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manifold_core.filters import MetadataFilter
from manifold_core.journal import JOURNAL_SUFFIX

__all__ = [
    "CollectionAccess",
    "CollectionNotFoundError",
    "StoredRecord",
    "as_filter",
    "chroma_where",
    "filter_argument",
    "id_chunk_size",
    "id_chunks",
]

# Ids per Chroma call that names ids: far below SQLite's 32,766 bound-variable limit.
_ID_CHUNK = 5000
# Rows per page when reading the whole collection back.
_PAGE = 5000
# $in/$nin values per filter Chroma's SQLite can bind (two variables each, 32,766 max).
_MAX_LIST_VALUES = 16_000

Page = tuple[list[str], list[str], list[dict[str, Any] | None]]

_UNSET: Any = object()


class CollectionNotFoundError(ValueError):
    """A read named a collection that does not exist (reads never create one)."""


@dataclass(frozen=True)
class StoredRecord:
    """One stored item as Chroma holds it."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None


def as_filter(where: Any) -> MetadataFilter | None:
    """Parse a Chroma-style ``where`` dict (or pass a ``MetadataFilter`` through).

    ``None`` and ``{}`` mean no filter. Raises ``ValueError`` naming the bad operator or
    value for a filter that cannot be expressed.
    """
    if where is None:
        return None
    if isinstance(where, MetadataFilter):
        return where
    if not isinstance(where, Mapping):
        raise ValueError(
            f"filter must be a Chroma-style where dict or a MetadataFilter, got {where!r}"
        )
    return MetadataFilter.parse(dict(where))


def filter_argument(filter: Any, where: Any, method: str) -> Any:
    """The filter a method was given: ``filter=``, or the deprecated ``where=`` spelling.

    Every filter argument is spelled ``filter=`` (as in LangChain's vector stores);
    ``where=`` still works where it was public, with a ``DeprecationWarning``.
    """
    if where is _UNSET:
        return filter
    if filter is not None:
        raise TypeError(f"{method}() got both filter= and where=; pass filter= only")
    warnings.warn(
        f"{method}(where=...) is deprecated; pass filter=... (the same dict)",
        DeprecationWarning,
        stacklevel=3,
    )
    return where


def _list_values(where: Any) -> int:
    """How many ``$in``/``$nin`` values a ``where`` holds (each costs SQL variables)."""
    if isinstance(where, Mapping):
        return sum(
            len(v) if k in ("$in", "$nin") and isinstance(v, list) else _list_values(v)
            for k, v in where.items()
        )
    if isinstance(where, list):
        return sum(_list_values(v) for v in where)
    return 0


def chroma_where(flt: MetadataFilter | None) -> dict[str, Any] | None:
    """Render a filter for Chroma, refusing one its SQLite cannot run.

    Chroma 1.5 binds two SQL variables per ``$in``/``$nin`` value and fails above 32,766
    ("too many SQL variables", measured: 16,380 values pass, 16,400 fail); a clear
    ``ValueError`` beats that internal error.
    """
    if flt is None:
        return None
    where = flt.to_where()
    n = _list_values(where)
    if n > _MAX_LIST_VALUES:
        raise ValueError(
            f"filter has {n:,} $in/$nin values; Chroma's SQLite accepts at most "
            f"{_MAX_LIST_VALUES:,} per query. Use a coarser metadata key (a group or date) "
            "or split the filter into several searches"
        )
    return where


def id_chunk_size() -> int:
    """How many ids one Chroma call may name."""
    return _ID_CHUNK


def id_chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    """``ids`` in lists short enough for one Chroma call."""
    size = id_chunk_size()
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


def _is_not_found(exc: BaseException) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError) or (
        isinstance(exc, ValueError) and "does not exist" in str(exc)
    )


class CollectionAccess:
    """The store's Chroma client and collection (found lazily, created by the first write).

    Attributes:
        client: the Chroma client.
        collection_name: the collection's name.
        read_only: never write (write methods raise ``PermissionError``).
        hidden_keys: metadata keys that are another tool's storage internals.
    """

    client: Any
    collection_name: str
    read_only: bool
    hidden_keys: frozenset[str]
    _collection: Any
    _dimension: int | None

    def _find_collection(self) -> Any:
        if self._collection is None:
            try:
                self._collection = self.client.get_collection(
                    self.collection_name, embedding_function=None
                )
            except Exception as exc:
                if not _is_not_found(exc):
                    raise
        return self._collection

    @property
    def collection(self) -> Any:
        """The Chroma collection, created now if missing (unless the store is read-only).

        Searches and reads never create it: they raise :class:`CollectionNotFoundError`.
        """
        if self._find_collection() is None and not self.read_only:
            return self._writable_collection()
        return self._read_collection()

    def _read_collection(self) -> Any:
        """The collection for a read; :class:`CollectionNotFoundError` if it does not exist."""
        found = self._find_collection()
        if found is None:
            names = sorted(
                c if isinstance(c, str) else c.name for c in self.client.list_collections()
            )
            names = [n for n in names if not n.endswith(JOURNAL_SUFFIX)]
            raise CollectionNotFoundError(
                f"collection {self.collection_name!r} does not exist on this Chroma "
                f"(collections there: {', '.join(names) or 'none'}); check the name, or add "
                "documents first (writes create it)"
            )
        return found

    def _writable_collection(self) -> Any:
        self._check_writable()
        if self._find_collection() is None:
            self._collection = self.client.get_or_create_collection(
                self.collection_name,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        return self._collection

    def _check_writable(self) -> None:
        if self.read_only:
            raise PermissionError(
                f"this store was opened with read_only=True; collection "
                f"{self.collection_name!r} is not written"
            )

    @property
    def space(self) -> str:
        """The collection's distance space (``cosine`` for collections we create)."""
        if self._find_collection() is None:
            return "cosine"
        # the raw JSON: reading `.configuration` warns about a "legacy embedding function"
        config = getattr(self._collection, "configuration_json", None) or {}
        hnsw = config.get("hnsw") or {}
        meta = self._collection.metadata or {}
        return str(hnsw.get("space") or meta.get("hnsw:space") or "l2")

    @property
    def dimension(self) -> int | None:
        """Embedding dimension of the collection, ``None`` while it is empty or missing."""
        if self._dimension is None and self._find_collection() is not None:
            res = self._collection.get(limit=1, include=["embeddings"])
            embs = res.get("embeddings")
            if embs is not None and len(embs):
                self._dimension = len(embs[0])
        return self._dimension

    def exists(self) -> bool:
        """Whether the collection exists (reads of a missing one raise)."""
        return self._find_collection() is not None

    def count(self) -> int:
        """Number of items in the collection (0 if it does not exist yet)."""
        found = self._find_collection()
        return 0 if found is None else int(found.count())

    def __len__(self) -> int:
        return self.count()

    def parse_filter(self, filter: Any) -> MetadataFilter | None:
        """:func:`as_filter`, refusing keys that are hidden storage internals."""
        flt = as_filter(filter)
        if flt is not None and self.hidden_keys:
            bad = sorted(flt.keys() & self.hidden_keys)
            if bad:
                raise ValueError(
                    f"filter key {bad[0]!r} is a storage field of the tool that wrote this "
                    "collection, not document metadata; filter on the document's own keys"
                )
        return flt

    def _pages(self, where: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Every record (under a rendered ``where``) as ``(ids, texts, metadatas)`` pages."""
        if self._find_collection() is None:
            return
        offset = 0
        while True:
            res = self._collection.get(
                where=where, limit=_PAGE, offset=offset, include=["documents", "metadatas"]
            )
            ids = list(res["ids"])
            if not ids:
                return
            texts = [d or "" for d in (res.get("documents") or [""] * len(ids))]
            metas = [dict(m) if m else None for m in (res.get("metadatas") or [None] * len(ids))]
            yield ids, texts, metas
            offset += len(ids)
