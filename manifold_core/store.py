"""HybridStore: one Chroma collection and its lexical (BM25) index, kept in sync.

Chroma is the source of truth for ids, texts, metadata and embeddings. The lexical index
is derived from it, saved beside it, and rebuilt from Chroma (by paging ``get``) whenever
it is missing, unreadable or stale. Staleness is detected with a marker that the store
keeps in the collection's own metadata: before a write it is set to ``"writing"``, after
the write to the lexical index's fingerprint. A saved index whose fingerprint or size does
not match the collection is rebuilt on open, so a crash between the Chroma write and the
index save costs a rebuild, never a wrong answer.

Chroma's limits are handled here: writes go in batches of ``client.get_max_batch_size()``,
id lists are chunked (its SQLite rejects more than 32,766 bound variables), metadata
``None`` values are dropped and an empty metadata dict is sent as ``None``. Every input
(ids, texts, metadata, embedding dimension) is validated, and embeddings computed, before
anything is written, so a bad call writes nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from manifold_core.encoders import Encoder, resolve_encoder

if TYPE_CHECKING:
    from manifold_core.filters import MetadataFilter
    from manifold_core.lexical import LexicalIndex

__all__ = ["DEFAULT_COLLECTION", "HybridStore", "StoredRecord", "as_filter", "chroma_where"]

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "manifold"
_MARKER_KEY = "manifold:lexical_fingerprint"
_WRITING = "writing"
# Ids per Chroma call that names ids: far below SQLite's 32,766 bound-variable limit.
_ID_CHUNK = 5000
# Rows per page when reading the whole collection back.
_PAGE = 5000
# $in/$nin values per filter Chroma's SQLite can bind (two variables each, 32,766 max).
_MAX_LIST_VALUES = 16_000
# Attempts of a dense query that races a concurrent delete (see _query_with_retry).
_QUERY_RETRIES = 5

Metadata = Mapping[str, Any]


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
    from manifold_core.filters import MetadataFilter

    if isinstance(where, MetadataFilter):
        return where
    if not isinstance(where, Mapping):
        raise ValueError(
            f"filter must be a Chroma-style where dict or a MetadataFilter, got {where!r}"
        )
    return MetadataFilter.parse(dict(where))


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


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _check_scalar(value: Any, index: int, key: str) -> None:
    """Refuse values Chroma would store inexactly (so both indexes always agree)."""
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"metadatas[{index}][{key!r}] is not finite: {value!r}")
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(
            f"metadatas[{index}][{key!r}] = {value} does not fit in 64 bits; Chroma would "
            "store it as an inexact float. Store it as a str instead"
        )


def _clean_metadata(meta: Any, index: int) -> dict[str, Any] | None:
    """Drop ``None`` values; an empty dict becomes ``None`` (Chroma rejects ``{}``)."""
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        raise ValueError(f"metadatas[{index}] must be a dict or None, got {type(meta).__name__}")
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"metadatas[{index}] has a key that is not a non-empty str: {key!r}")
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            if not value:
                continue  # Chroma rejects empty lists; treat like a missing value
            if not all(isinstance(v, (str, int, float, bool)) for v in value):
                raise ValueError(
                    f"metadatas[{index}][{key!r}] must hold only str, int, float or bool, "
                    f"got {value!r}"
                )
            if len({bool if isinstance(v, bool) else type(v) for v in value}) > 1:
                raise ValueError(
                    f"metadatas[{index}][{key!r}] mixes value types ({value!r}); "
                    "Chroma needs one type per list"
                )
            for v in value:
                _check_scalar(v, index, key)
            out[key] = list(value)
        elif isinstance(value, (str, int, float, bool)):
            _check_scalar(value, index, key)
            out[key] = value
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            raise ValueError(
                f"metadatas[{index}][{key!r}] has type {type(value).__name__}; Chroma accepts "
                "str, int, float, bool or a list of one of them"
            )
    return out or None


class HybridStore:
    """A Chroma collection plus a BM25 index over the same ids, persisted together.

    Args:
        encoder: the embedding model: anything :func:`resolve_encoder` accepts (a name, an
            ``Encoder``, a ``SentenceTransformer``, a LangChain ``Embeddings``, a LlamaIndex
            ``BaseEmbedding``). Resolved on first use, so a store fed only precomputed
            embeddings never loads a model. ``None`` means the default Qwen3 model.
        path: directory of the embedded ``chromadb.PersistentClient`` (default
            ``"manifold_db"``); ignored when ``client`` is given.
        client: a ready Chroma client: ``EphemeralClient``, ``PersistentClient`` or
            ``HttpClient`` (a ``chroma run`` server).
        collection_name: the Chroma collection; created in cosine space if missing.
        lexical_variant: ``"lucene"`` (default) or ``"okapi"`` BM25.
        tokenizer: a callable ``str -> list[str]`` for the lexical index (default: jieba
            for CJK, words for Latin scripts). A custom tokenizer is not persisted, so the
            index is rebuilt from Chroma when the store opens.
        lexical_dir: where to save the lexical index. Default: inside the persistent
            client's directory; for an ``HttpClient`` or ``EphemeralClient`` the index is
            kept in memory and rebuilt from Chroma when the store opens.
        autosave: save the lexical index after every write (call :meth:`save` yourself
            when off, e.g. during a bulk load of many small batches).
        embedding_batch_size: texts handed to the encoder per call.
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        path: str | os.PathLike[str] | None = None,
        client: Any = None,
        collection_name: str = DEFAULT_COLLECTION,
        lexical_variant: Literal["lucene", "okapi"] = "lucene",
        tokenizer: Any = None,
        lexical_dir: str | os.PathLike[str] | None = None,
        autosave: bool = True,
        embedding_batch_size: int = 256,
    ) -> None:
        if lexical_variant not in ("lucene", "okapi"):
            raise ValueError(
                f"lexical_variant must be 'lucene' or 'okapi', got {lexical_variant!r}"
            )
        if embedding_batch_size <= 0:
            raise ValueError(f"embedding_batch_size must be positive, got {embedding_batch_size}")
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb

        if client is None:
            client = chromadb.PersistentClient(
                path=str(path if path is not None else "manifold_db")
            )
        self.client = client
        self.collection_name = collection_name
        self.collection = client.get_or_create_collection(
            collection_name,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        self.space = self._read_space()
        self.lexical_variant = lexical_variant
        self.tokenizer = tokenizer
        self.autosave = autosave
        self.embedding_batch_size = embedding_batch_size
        self._encoder_spec = encoder
        self._encoder: Encoder | None = encoder if isinstance(encoder, Encoder) else None
        self._dimension: int | None = None
        self._write_lock = threading.RLock()  # one writer at a time
        self._lex_lock = threading.RLock()  # guards the lexical index object
        self.lexical_dir = self._default_lexical_dir(lexical_dir)
        self._lexical: LexicalIndex = self._open_lexical()

    # ------------------------------------------------------------------ setup

    def _read_space(self) -> str:
        # the raw JSON: reading `.configuration` warns about a "legacy embedding function"
        config = getattr(self.collection, "configuration_json", None) or {}
        hnsw = config.get("hnsw") or {}
        space = hnsw.get("space") or (self.collection.metadata or {}).get("hnsw:space") or "l2"
        return str(space)

    def _default_lexical_dir(self, lexical_dir: str | os.PathLike[str] | None) -> Path | None:
        if lexical_dir is not None:
            return Path(lexical_dir)
        settings = self.client.get_settings()
        if getattr(settings, "is_persistent", False) and settings.persist_directory:
            return Path(settings.persist_directory) / "manifold_lexical" / self.collection_name
        return None

    def _new_lexical(self) -> LexicalIndex:
        from manifold_core.lexical import LexicalIndex

        return LexicalIndex(self.lexical_variant, tokenizer=self.tokenizer)

    def _marker(self) -> str | None:
        meta = self.client.get_collection(self.collection_name).metadata or {}
        value = meta.get(_MARKER_KEY)
        return None if value is None else str(value)

    def _set_marker(self, value: str) -> None:
        meta = {
            k: v for k, v in (self.collection.metadata or {}).items() if not k.startswith("hnsw:")
        }
        meta[_MARKER_KEY] = value
        self.collection.modify(metadata=meta)

    def _open_lexical(self) -> LexicalIndex:
        """Load the saved index if it matches the collection, else rebuild it from Chroma."""
        index: LexicalIndex | None = None
        if self.lexical_dir is not None and self.lexical_dir.exists() and self.tokenizer is None:
            from manifold_core.lexical import LexicalIndex

            try:
                index = LexicalIndex.load(self.lexical_dir)
            except (ValueError, OSError) as exc:
                logger.warning(
                    "lexical index at %s unreadable (%s); rebuilding", self.lexical_dir, exc
                )
                index = None
            if index is not None and getattr(index, "variant", self.lexical_variant) != (
                self.lexical_variant
            ):
                index = None
            if index is not None and not self._matches(index):
                logger.info(
                    "lexical index at %s is stale; rebuilding from Chroma", self.lexical_dir
                )
                index = None
        if index is None:
            index = self._rebuild()
        return index

    def _matches(self, index: LexicalIndex) -> bool:
        return len(index) == self.collection.count() and self._marker() == str(index.fingerprint)

    def _rebuild(self) -> LexicalIndex:
        index = self._new_lexical()
        for ids, texts, metas in self._pages():
            index.add(ids, texts, metas)
        if self.lexical_dir is not None:
            index.save(self.lexical_dir)
        if self.collection.count() or self._marker() is not None:
            self._set_marker(str(index.fingerprint))
        return index

    def _pages(
        self, where: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[list[str], list[str], list[dict[str, Any] | None]]]:
        offset = 0
        while True:
            res = self.collection.get(
                where=where, limit=_PAGE, offset=offset, include=["documents", "metadatas"]
            )
            ids = list(res["ids"])
            if not ids:
                return
            texts = [d or "" for d in (res.get("documents") or [""] * len(ids))]
            metas = [dict(m) if m else None for m in (res.get("metadatas") or [None] * len(ids))]
            yield ids, texts, metas
            offset += len(ids)

    # ------------------------------------------------------------ properties

    @property
    def encoder(self) -> Encoder:
        """The embedding model, resolved on first use."""
        if self._encoder is None:
            self._encoder = resolve_encoder(self._encoder_spec)
        return self._encoder

    @property
    def lexical(self) -> LexicalIndex:
        """The lexical index (read it under :meth:`lexical_search`, not directly, when threaded)."""
        return self._lexical

    @property
    def dimension(self) -> int | None:
        """Embedding dimension of the collection, ``None`` while it is empty."""
        if self._dimension is None:
            res = self.collection.get(limit=1, include=["embeddings"])
            embs = res.get("embeddings")
            if embs is not None and len(embs):
                self._dimension = len(embs[0])
        return self._dimension

    def count(self) -> int:
        """Number of items in the collection."""
        return int(self.collection.count())

    def __len__(self) -> int:
        return self.count()

    # ---------------------------------------------------------------- writes

    def _prepare(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Metadata | None] | None,
        ids: Sequence[str] | None,
        embeddings: Any,
    ) -> tuple[list[str], list[str], list[dict[str, Any] | None], np.ndarray]:
        if isinstance(texts, str):
            raise TypeError("texts must be a list of str, not a single str; wrap it in a list")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be str, got {type(t).__name__}")
        n = len(texts)
        if ids is None:
            id_list = [uuid.uuid4().hex for _ in texts]
        else:
            if isinstance(ids, str):
                raise TypeError("ids must be a list of str, not a single str")
            id_list = list(ids)
            if len(id_list) != n:
                raise ValueError(f"got {len(id_list)} ids for {n} texts")
            for i, d in enumerate(id_list):
                if not isinstance(d, str) or not d:
                    raise ValueError(f"ids[{i}] must be a non-empty str, got {d!r}")
            seen: set[str] = set()
            dupes = [d for d in id_list if d in seen or seen.add(d)]  # type: ignore[func-returns-value]
            if dupes:
                raise ValueError(f"duplicate ids in one call: {sorted(set(dupes))[:5]!r}")
        if metadatas is None:
            metas: list[dict[str, Any] | None] = [None] * n
        else:
            raw = list(metadatas)
            if len(raw) != n:
                raise ValueError(f"got {len(raw)} metadatas for {n} texts")
            metas = [_clean_metadata(m, i) for i, m in enumerate(raw)]
        if embeddings is None:
            parts = [
                np.asarray(self.encoder.encode_documents(list(chunk)), dtype=np.float32)
                for chunk in _chunks(texts, self.embedding_batch_size)
            ]
            vectors = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
            source = "the encoder"
        else:
            vectors = np.asarray(embeddings, dtype=np.float32)
            source = "embeddings"
        if n and (vectors.ndim != 2 or vectors.shape[0] != n):
            raise ValueError(f"{source} gave shape {vectors.shape} for {n} texts")
        if n and not np.isfinite(vectors).all():
            raise ValueError(f"{source} contain NaN or infinite values")
        dim = self.dimension
        if n and dim is not None and vectors.shape[1] != dim:
            raise ValueError(
                f"embedding dimension {vectors.shape[1]} from {source} does not match the "
                f"collection {self.collection_name!r}, which holds dimension {dim}; use the "
                "same model or another collection"
            )
        return id_list, texts, metas, vectors

    def _existing(self, ids: Sequence[str]) -> list[str]:
        found: list[str] = []
        for chunk in _chunks(ids, _ID_CHUNK):
            found.extend(self.collection.get(ids=list(chunk), include=[])["ids"])
        return found

    def _write(
        self,
        op: Literal["add", "upsert"],
        ids: list[str],
        texts: list[str],
        metas: list[dict[str, Any] | None],
        vectors: np.ndarray,
    ) -> None:
        batch = max(1, int(self.client.get_max_batch_size()))
        with self._writing():
            for start in range(0, len(ids), batch):
                sl = slice(start, start + batch)
                kwargs: dict[str, Any] = {
                    "ids": ids[sl],
                    "documents": texts[sl],
                    "embeddings": vectors[sl],
                }
                if any(m is not None for m in metas[sl]):
                    kwargs["metadatas"] = metas[sl]
                if op == "add":
                    self.collection.add(**kwargs)
                else:
                    self.collection.upsert(**kwargs)
                with self._lex_lock:
                    self._lexical.add(ids[sl], texts[sl], metas[sl])
                if self._dimension is None and len(vectors):
                    self._dimension = int(vectors.shape[1])

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Mark the collection as being written; on success record the new fingerprint.

        If the write fails part-way (Chroma down, a batch rejected), the lexical index is
        rebuilt from Chroma, which holds whatever did get written. If even that fails, or
        the process dies, the marker stays ``"writing"`` and the next open rebuilds.
        """
        self._set_marker(_WRITING)
        try:
            yield
        except Exception:
            try:
                index = self._rebuild()
                with self._lex_lock:
                    self._lexical = index
            except Exception:
                logger.exception("could not resync the lexical index after a failed write")
            raise
        self._after_write()

    def _after_write(self) -> None:
        with self._lex_lock:
            fingerprint = str(self._lexical.fingerprint)
            self._set_marker(fingerprint)
            if self.autosave and self.lexical_dir is not None:
                self._lexical.save(self.lexical_dir)

    def add(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Metadata | None] | None = None,
        ids: Sequence[str] | None = None,
        embeddings: Any = None,
    ) -> list[str]:
        """Add new items; raises ``ValueError`` (writing nothing) if an id already exists.

        Args:
            texts: the documents.
            metadatas: one dict (or ``None``) per text; ``None`` values are dropped.
            ids: one id per text (default: random UUIDs).
            embeddings: precomputed ``(n, dim)`` vectors; default: computed with the
                store's encoder, in batches, before anything is written.

        Returns:
            The ids, in order.
        """
        with self._write_lock:
            id_list, texts_, metas, vectors = self._prepare(texts, metadatas, ids, embeddings)
            if not id_list:
                return []
            existing = self._existing(id_list)
            if existing:
                raise ValueError(
                    f"{len(existing)} ids already exist in {self.collection_name!r} "
                    f"(e.g. {sorted(existing)[:3]!r}); use upsert() to replace them"
                )
            self._write("add", id_list, texts_, metas, vectors)
            return id_list

    def upsert(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Metadata | None] | None = None,
        ids: Sequence[str] | None = None,
        embeddings: Any = None,
    ) -> list[str]:
        """Insert or replace items by id (text, metadata and embedding all replaced)."""
        with self._write_lock:
            id_list, texts_, metas, vectors = self._prepare(texts, metadatas, ids, embeddings)
            if id_list:
                self._write("upsert", id_list, texts_, metas, vectors)
            return id_list

    def delete(self, ids: Sequence[str] | None = None, where: Any = None) -> int:
        """Delete items by id, by filter, or both (an id must then also match the filter).

        Returns the number of items deleted. Calling with neither deletes nothing and
        raises ``ValueError``, so a missing argument never empties the collection.
        """
        if ids is None and where is None:
            raise ValueError("delete() needs ids or where; neither was given")
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, not a single str")
        flt = as_filter(where) if where is not None else None
        rendered = chroma_where(flt)
        with self._write_lock, self._writing():
            deleted = 0
            if ids is not None:
                for chunk in _chunks(list(dict.fromkeys(ids)), _ID_CHUNK):
                    found = self.collection.get(ids=list(chunk), where=rendered, include=[])
                    deleted += self._delete_ids(list(found["ids"]))
            else:
                while True:
                    found = self.collection.get(where=rendered, limit=_ID_CHUNK, include=[])
                    if not found["ids"]:
                        break
                    deleted += self._delete_ids(list(found["ids"]))
            return deleted

    def _delete_ids(self, ids: list[str]) -> int:
        if not ids:
            return 0
        self.collection.delete(ids=ids)
        with self._lex_lock:
            self._lexical.delete(ids)
        return len(ids)

    # ----------------------------------------------------------------- reads

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        include_embeddings: bool = False,
    ) -> list[StoredRecord]:
        """Read items back from Chroma, by ids (in the order given), filter or page.

        Without ids, returns at most ``limit`` items (default 1000, to keep Chroma under its
        SQL limits); page with ``offset``.
        """
        rendered = chroma_where(as_filter(where) if where is not None else None)
        include = ["documents", "metadatas"] + (["embeddings"] if include_embeddings else [])
        records: dict[str, StoredRecord] = {}
        if ids is not None:
            if isinstance(ids, str):
                raise TypeError("ids must be a list of str, not a single str")
            wanted = list(dict.fromkeys(ids))
            for chunk in _chunks(wanted, _ID_CHUNK):
                res = self.collection.get(ids=list(chunk), where=rendered, include=include)
                records.update({r.id: r for r in self._records(res, include_embeddings)})
            return [records[i] for i in wanted if i in records]
        if limit is not None and limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        res = self.collection.get(
            where=rendered, limit=limit or 1000, offset=offset, include=include
        )
        return self._records(res, include_embeddings)

    @staticmethod
    def _records(res: Mapping[str, Any], with_embeddings: bool) -> list[StoredRecord]:
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

    def iter_records(self, where: Any = None) -> Iterator[StoredRecord]:
        """Every item (optionally filtered), paged so that any collection size works."""
        rendered = chroma_where(as_filter(where) if where is not None else None)
        for ids, texts, metas in self._pages(rendered):
            for i, t, m in zip(ids, texts, metas, strict=True):
                yield StoredRecord(id=i, text=t, metadata=dict(m or {}))

    def dense_search(
        self, embedding: np.ndarray, n: int, filter: MetadataFilter | None = None
    ) -> list[tuple[str, float]]:
        """Chroma's ``n`` nearest neighbours of one query vector: ``(id, similarity)``.

        The similarity is ``1 - cosine distance`` (for ``l2`` and ``ip`` collections of unit
        vectors it is mapped to the same cosine). Only distances are fetched: texts and
        metadata of the few final hits are read afterwards with :meth:`get`, which is
        cheaper than materialising every candidate.
        """
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
                return self.collection.query(
                    query_embeddings=query,
                    n_results=n,
                    where=where,
                    include=["distances"],
                )
            except InternalError as exc:
                if "finding id" not in str(exc) or attempt == _QUERY_RETRIES - 1:
                    raise
                time.sleep(0.005 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def lexical_search(
        self, query: str, n: int, filter: MetadataFilter | None = None
    ) -> list[tuple[str, float]]:
        """BM25 top ``n`` ``(id, score)`` among the items that satisfy ``filter``.

        Takes no lock: the index serves searches from an immutable snapshot, so queries
        never wait for a write or a save.
        """
        return list(self._lexical.search(query, n, where=filter))

    # ----------------------------------------------------------- maintenance

    def save(self) -> None:
        """Save the lexical index (a no-op for an in-memory index)."""
        with self._write_lock, self._lex_lock:
            self._set_marker(str(self._lexical.fingerprint))
            if self.lexical_dir is not None:
                self._lexical.save(self.lexical_dir)

    def is_stale(self, deep: bool = False) -> bool:
        """True when the collection changed behind this store's back (another process).

        The quick check compares the item count and the marker the store keeps in the
        collection's metadata; it cannot see a raw ``collection.upsert`` by another program
        that keeps the count. ``deep=True`` also pages through the whole collection and
        compares the content fingerprint of every (id, text, metadata) (about 2 s at 100k).
        """
        with self._lex_lock:
            index = self._lexical
            if not self._matches(index):
                return True
        if not deep:
            return False
        from manifold_core.lexical import content_fingerprint

        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any] | None] = []
        for page_ids, page_texts, page_metas in self._pages():
            ids += page_ids
            texts += page_texts
            metas += page_metas
        return content_fingerprint(ids, texts, metas) != index.fingerprint

    def refresh(self, force: bool = False, deep: bool = False) -> bool:
        """Rebuild the lexical index from Chroma if stale (or ``force``); True if rebuilt."""
        with self._write_lock:
            if not force and not self.is_stale(deep=deep):
                return False
            index = self._rebuild()
            with self._lex_lock:
                self._lexical = index
            return True
