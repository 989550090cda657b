"""HybridStore: one Chroma collection and its lexical (BM25) index over the same ids.

Chroma is the one source of truth, shared by any number of processes and machines (a
``chroma run`` server); each store's lexical index is a cache of it that converges by
itself (:mod:`manifold_core.mirror`): our writers leave entries in a write journal
(:mod:`manifold_core.journal`) that readers catch up from within ``max_staleness``, writes by
other tools are detected by the count and a periodic repair scan, and a saved snapshot is
loaded, then caught up. Every search result is read back from Chroma under the query's
filter, so a stale index can cost a candidate, never a wrong hit.

Every input is validated (:mod:`manifold_core.records`) and embeddings computed before the
first Chroma call, so a bad call writes nothing, however many batches it spans. Chroma's
limits are handled here: batches of ``client.get_max_batch_size()``, id lists in chunks
(its SQLite rejects more than 32,766 bound variables), ``$in`` lists refused above what it
can bind.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from manifold_core.encoders import Encoder, resolve_encoder
from manifold_core.journal import Journal
from manifold_core.locks import hold_directory
from manifold_core.mirror import LexicalMirror, Source
from manifold_core.records import check_ids, check_texts, clean_metadata

if TYPE_CHECKING:
    from manifold_core.filters import MetadataFilter
    from manifold_core.lexical import LexicalIndex

__all__ = [
    "DEFAULT_COLLECTION",
    "CollectionNotFoundError",
    "HybridStore",
    "PartialWriteError",
    "StoredRecord",
    "as_filter",
    "chroma_where",
]

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "manifold"
_OLD_MARKER_KEY = "manifold:lexical_fingerprint"  # written by 0.1 stores; removed on request
# Ids per Chroma call that names ids: far below SQLite's 32,766 bound-variable limit.
_ID_CHUNK = 5000
# Rows per page when reading the whole collection back.
_PAGE = 5000
# $in/$nin values per filter Chroma's SQLite can bind (two variables each, 32,766 max).
_MAX_LIST_VALUES = 16_000
# Attempts of a dense query that races a concurrent delete (see _query_with_retry).
_QUERY_RETRIES = 5

Metadata = Mapping[str, Any]


class CollectionNotFoundError(ValueError):
    """A read named a collection that does not exist (reads never create one)."""


class PartialWriteError(RuntimeError):
    """A write spanning several Chroma batches failed after some were committed.

    Attributes:
        written: ids Chroma committed before the failure (they are searchable).
    """

    def __init__(self, message: str, written: list[str]) -> None:
        super().__init__(message)
        self.written = written


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


def _is_not_found(exc: BaseException) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError) or (
        isinstance(exc, ValueError) and "does not exist" in str(exc)
    )


class HybridStore:
    """A Chroma collection plus a BM25 index over the same ids, kept converging.

    Args:
        encoder: the embedding model: anything :func:`resolve_encoder` accepts (a name, an
            ``Encoder``, a ``SentenceTransformer``, a LangChain ``Embeddings``, a LlamaIndex
            ``BaseEmbedding``). Resolved on first use, so a store fed only precomputed
            embeddings never loads a model. ``None`` means the default Qwen3 model.
        path: directory of the embedded ``chromadb.PersistentClient`` (default
            ``"manifold_db"``); ignored when ``client`` is given. One process at a time:
            a second one is refused (use a ``chroma run`` server for several).
        client: a ready Chroma client: ``EphemeralClient``, ``PersistentClient`` or
            ``HttpClient`` (a ``chroma run`` server, for several processes or machines).
        collection_name: the Chroma collection. It is created (cosine space) by the first
            write; reading a collection that does not exist raises
            :class:`CollectionNotFoundError`, so a typo is never an empty result.
        lexical_variant: ``"lucene"`` (default) or ``"okapi"`` BM25.
        tokenizer: a callable ``str -> list[str]`` for the lexical index (default: jieba
            for CJK, words for Latin scripts). A ``LexicalTokenizer`` is saved with the
            snapshot; any other callable is not persisted, so the
            index is rebuilt from Chroma when the store opens.
        lexical_dir: where to save lexical snapshots. Default: inside the persistent
            client's directory; for an ``HttpClient`` or ``EphemeralClient`` the index is
            kept in memory and built from Chroma when the store opens.
        autosave: save the lexical snapshot after every write.
        embedding_batch_size: texts handed to the encoder per call.
        max_staleness: seconds a search may run on an index that has not checked Chroma
            for other processes' writes (0: check before every search).
        verify_interval: seconds between background repair scans, which catch writes by
            other tools that keep the count (an upsert of an existing id).
        journal_retention: seconds journal entries are kept; a store that was not checked
            for longer re-verifies everything.
        intent_timeout: seconds after which a write that journaled its start but not its
            end (a writer killed mid-write) is re-read anyway.
        read_only: never write to Chroma or to disk (write methods raise
            ``PermissionError``); the lexical index lives in memory.
        hidden_keys: metadata keys that are storage internals of another tool: not
            mirrored into the lexical index, refused in filters, still returned by
            :meth:`get`.
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
        max_staleness: float = 1.0,
        verify_interval: float = 300.0,
        journal_retention: float = 3600.0,
        intent_timeout: float = 30.0,
        read_only: bool = False,
        hidden_keys: Iterable[str] = (),
    ) -> None:
        if lexical_variant not in ("lucene", "okapi"):
            raise ValueError(
                f"lexical_variant must be 'lucene' or 'okapi', got {lexical_variant!r}"
            )
        if embedding_batch_size <= 0:
            raise ValueError(f"embedding_batch_size must be positive, got {embedding_batch_size}")
        if isinstance(hidden_keys, str):
            raise TypeError("hidden_keys must be a collection of str, not a single str")
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb

        if client is None:
            client = chromadb.PersistentClient(
                path=str(path if path is not None else "manifold_db")
            )
        self.client = client
        self.collection_name = collection_name
        self.read_only = bool(read_only)
        self.hidden_keys = frozenset(hidden_keys)
        settings = client.get_settings()
        self._persist_dir = (
            Path(settings.persist_directory)
            if getattr(settings, "is_persistent", False) and settings.persist_directory
            else None
        )
        if self._persist_dir is not None:
            hold_directory(self._persist_dir)
        self._collection: Any = None
        self._find_collection()
        self.lexical_variant = lexical_variant
        self.tokenizer = tokenizer
        self.autosave = autosave
        self.embedding_batch_size = embedding_batch_size
        self._encoder_spec = encoder
        self._encoder: Encoder | None = encoder if isinstance(encoder, Encoder) else None
        self._dimension: int | None = None
        self._write_lock = threading.RLock()  # one writer at a time in this process
        self.lexical_dir = None if self.read_only else self._default_lexical_dir(lexical_dir)
        self.journal = Journal(client, collection_name, retention=journal_retention)
        self.mirror: LexicalMirror = LexicalMirror(
            _ChromaSource(self),
            self.journal,
            self._new_lexical,
            max_staleness=max_staleness,
            verify_interval=verify_interval,
            on_change=self._autosave,
        )
        self.mirror.cursor.intent_timeout = float(intent_timeout)
        self._open_lexical()

    @classmethod
    def from_collection(cls, collection: Any, encoder: Any = None, **kwargs: Any) -> HybridStore:
        """Open an existing ``chromadb.Collection`` (of any tool) as a hybrid store.

        Takes every keyword of the constructor except ``client``/``path``/
        ``collection_name``, which come from the collection.
        """
        api = getattr(collection, "_client", None)
        if api is None or not hasattr(collection, "name"):
            raise TypeError(f"expected a chromadb Collection, got {type(collection).__name__}")
        for key in ("client", "path", "collection_name"):
            if key in kwargs:
                raise TypeError(f"from_collection() takes the {key} from the collection")
        from chromadb.api.client import Client

        # A public client on the same Chroma system (in process: the very same one).
        client = Client(
            tenant=collection.tenant, database=collection.database, settings=api.get_settings()
        )
        return cls(encoder, client=client, collection_name=collection.name, **kwargs)

    # ------------------------------------------------------------------ setup

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
            from manifold_core.journal import JOURNAL_SUFFIX

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

    def _default_lexical_dir(self, lexical_dir: str | os.PathLike[str] | None) -> Path | None:
        if lexical_dir is not None:
            return Path(lexical_dir)
        if self._persist_dir is not None:
            return self._persist_dir / "manifold_lexical" / self.collection_name
        return None

    def _new_lexical(self) -> LexicalIndex:
        from manifold_core.lexical import LexicalIndex

        return LexicalIndex(self.lexical_variant, tokenizer=self.tokenizer)

    def _open_lexical(self) -> None:
        """Load the saved snapshot and catch up, or build the index from Chroma."""
        mirror = self.mirror
        index = self._load_snapshot()
        if index is None:
            mirror.rebuild()
            return
        with mirror.lock:
            mirror.index = index
        mirror.cursor.since = float(index.saved_extra["journal_since"])
        poll = mirror.catch_up()
        if poll.behind:
            logger.info("lexical snapshot older than the journal's retention; rebuilding")
            mirror.rebuild()
        elif self.count() != len(index):
            mirror.scan()  # a writer that is not ours changed the count
        else:
            mirror.start(mirror.scan)  # verify in the background; searches go on

    def _load_snapshot(self) -> LexicalIndex | None:
        from manifold_core.lexical import LexicalIndex, LexicalTokenizer

        # A LexicalTokenizer is saved with the index (its config); another callable is not.
        custom = self.tokenizer is not None and not isinstance(self.tokenizer, LexicalTokenizer)
        if self.lexical_dir is None or custom or not self.lexical_dir.exists():
            return None
        if self._find_collection() is None:
            return None

        try:
            index = LexicalIndex.load(self.lexical_dir)
        except (ValueError, OSError) as exc:
            logger.warning("lexical index at %s unreadable (%s); rebuilding", self.lexical_dir, exc)
            return None
        extra = index.saved_extra
        if self.tokenizer is not None and index.tokenizer != self.tokenizer:
            logger.info("lexical index at %s has another tokenizer; rebuilding", self.lexical_dir)
            return None
        if (
            index.variant != self.lexical_variant
            or extra.get("collection_id") != str(self._collection.id)
            or not isinstance(extra.get("journal_since"), (int, float))
        ):
            logger.info(
                "lexical index at %s is not this collection's; rebuilding", self.lexical_dir
            )
            return None
        return index

    def _autosave(self) -> None:
        if self.autosave:
            self.save()

    # ------------------------------------------------------------ properties

    @property
    def encoder(self) -> Encoder:
        """The embedding model, resolved on first use."""
        if self._encoder is None:
            self._encoder = resolve_encoder(self._encoder_spec)
        return self._encoder

    @property
    def lexical(self) -> LexicalIndex:
        """The lexical index now being served (an immutable-snapshot reader; see mirror)."""
        return self.mirror.index

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

    def metadata_keys(self) -> set[str]:
        """Metadata keys the lexical index has seen (hidden keys excluded)."""
        return set(self.mirror.index._table.keys)

    def lexical_metadata(self, meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """``meta`` as the lexical index holds it: without the hidden keys."""
        if not meta:
            return None
        if not self.hidden_keys:
            return dict(meta)
        out = {k: v for k, v in meta.items() if k not in self.hidden_keys}
        return out or None

    def parse_filter(self, where: Any) -> MetadataFilter | None:
        """:func:`as_filter`, refusing keys that are hidden storage internals."""
        flt = as_filter(where)
        if flt is not None and self.hidden_keys:
            bad = sorted(flt.keys() & self.hidden_keys)
            if bad:
                raise ValueError(
                    f"filter key {bad[0]!r} is a storage field of the tool that wrote this "
                    "collection, not document metadata; filter on the document's own keys"
                )
        return flt

    # ---------------------------------------------------------------- writes

    def _prepare(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Metadata | None] | None,
        ids: Sequence[str] | None,
        embeddings: Any,
    ) -> tuple[list[str], list[str], list[dict[str, Any] | None], np.ndarray]:
        self._check_writable()
        texts = check_texts(texts)
        n = len(texts)
        id_list = [uuid.uuid4().hex for _ in texts] if ids is None else check_ids(ids, n)
        if metadatas is None:
            metas: list[dict[str, Any] | None] = [None] * n
        else:
            raw = list(metadatas)
            if len(raw) != n:
                raise ValueError(f"got {len(raw)} metadatas for {n} texts")
            metas = [clean_metadata(m, i) for i, m in enumerate(raw)]
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
        if self._find_collection() is None:
            return []
        found: list[str] = []
        for chunk in _chunks(ids, _ID_CHUNK):
            found.extend(self._collection.get(ids=list(chunk), include=[])["ids"])
        return found

    def _journaled(self, op: Literal["upsert", "delete"], ids: list[str], write: Any) -> None:
        """One Chroma batch between a ``begin`` and an ``end`` journal entry.

        The begin entry goes first: when it cannot be written nothing is. After Chroma
        committed, nothing raises: a failed end entry only delays other readers until
        the begin entry's intent times out.
        """
        begin = self.journal.append("begin", op, ids)
        try:
            with self.mirror.lock:
                write()
                self.mirror.touched(ids)
        finally:
            try:
                self.journal.append("end", op, ids, begin=begin)
            except Exception:
                logger.warning("could not journal the end of a write of %d ids", len(ids))

    def _write(
        self,
        op: Literal["add", "upsert"],
        ids: list[str],
        texts: list[str],
        metas: list[dict[str, Any] | None],
        vectors: np.ndarray,
    ) -> None:
        collection = self._writable_collection()
        batch = max(1, int(self.client.get_max_batch_size()))
        written: list[str] = []
        for start in range(0, len(ids), batch):
            sl = slice(start, start + batch)
            kwargs: dict[str, Any] = {
                "ids": ids[sl],
                "documents": texts[sl],
                "embeddings": vectors[sl],
            }
            if any(m is not None for m in metas[sl]):
                kwargs["metadatas"] = metas[sl]

            def write(kwargs: dict[str, Any] = kwargs, sl: slice = sl) -> None:
                if op == "add":
                    collection.add(**kwargs)
                else:
                    collection.upsert(**kwargs)
                self._apply_local(ids[sl], texts[sl], metas[sl])

            try:
                self._journaled("upsert", ids[sl], write)
            except Exception as exc:
                self._after_failure(ids[sl])
                if not written:
                    raise
                raise PartialWriteError(
                    f"{op} failed after {len(written)} of {len(ids)} items were written "
                    f"({type(exc).__name__}: {exc}). The written items are stored and "
                    "searchable; to finish, call upsert() with the same input (it is "
                    "idempotent)",
                    written,
                ) from exc
            written.extend(ids[sl])
            if self._dimension is None and len(vectors):
                self._dimension = int(vectors.shape[1])
        self._after_write()

    def _apply_local(
        self, ids: Sequence[str], texts: Sequence[str], metas: Sequence[dict[str, Any] | None]
    ) -> None:
        """Mirror a batch Chroma just committed (a failure here never un-commits it)."""
        try:
            self.mirror.index.add(list(ids), list(texts), [self.lexical_metadata(m) for m in metas])
        except Exception:
            logger.exception("lexical index could not mirror a committed write; will repair")
            self.mirror.needs_scan = True

    def _after_failure(self, ids: Sequence[str]) -> None:
        """A batch failed: re-read its ids (Chroma holds whatever did get written)."""
        try:
            self.mirror.apply_truth(ids)
        except Exception:
            logger.warning("could not re-read %d ids after a failed write; will repair", len(ids))
            self.mirror.needs_scan = True

    def _after_write(self) -> None:
        try:
            self.journal.prune()
        except Exception:
            logger.warning("could not prune the write journal", exc_info=True)
        try:
            self._autosave()
        except Exception:
            logger.warning("could not save the lexical snapshot", exc_info=True)

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

        Raises:
            ValueError: bad input; nothing was written.
            PartialWriteError: Chroma failed after some batches were committed; retry
                with :meth:`upsert`.
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

        Returns the number of items deleted. Neither ids nor a non-empty filter raises
        ``ValueError``, so a missing argument (or ``where={}``) never empties the
        collection; to empty it, delete the collection.
        """
        self._check_writable()
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, not a single str")
        flt = self.parse_filter(where) if where is not None else None
        if ids is None and flt is None:
            raise ValueError(
                "delete() needs ids or where (a non-empty one); neither was given (where={} would "
                "delete everything: delete the collection for that)"
            )
        rendered = chroma_where(flt)
        with self._write_lock:
            if self._find_collection() is None:
                return 0
            deleted = 0
            if ids is not None:
                for chunk in _chunks(list(dict.fromkeys(ids)), _ID_CHUNK):
                    found = self._collection.get(ids=list(chunk), where=rendered, include=[])
                    deleted += self._delete_ids(list(found["ids"]))
            else:
                while True:
                    found = self._collection.get(where=rendered, limit=_ID_CHUNK, include=[])
                    if not found["ids"]:
                        break
                    deleted += self._delete_ids(list(found["ids"]))
            self._after_write()
            return deleted

    def _delete_ids(self, ids: list[str]) -> int:
        if not ids:
            return 0

        def write() -> None:
            self._collection.delete(ids=ids)
            self.mirror.index.delete(ids)

        try:
            self._journaled("delete", ids, write)
        except Exception:
            self._after_failure(ids)
            raise
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
        rendered = chroma_where(self.parse_filter(where) if where is not None else None)
        include = ["documents", "metadatas"] + (["embeddings"] if include_embeddings else [])
        collection = self._read_collection()
        records: dict[str, StoredRecord] = {}
        if ids is not None:
            if isinstance(ids, str):
                raise TypeError("ids must be a list of str, not a single str")
            wanted = list(dict.fromkeys(ids))
            for chunk in _chunks(wanted, _ID_CHUNK):
                res = collection.get(ids=list(chunk), where=rendered, include=include)
                records.update({r.id: r for r in self._records(res, include_embeddings)})
            return [records[i] for i in wanted if i in records]
        if limit is not None and limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        res = collection.get(where=rendered, limit=limit or 1000, offset=offset, include=include)
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

    def _pages(
        self, where: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[list[str], list[str], list[dict[str, Any] | None]]]:
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

    def iter_records(self, where: Any = None) -> Iterator[StoredRecord]:
        """Every item (optionally filtered), paged so that any collection size works."""
        rendered = chroma_where(self.parse_filter(where) if where is not None else None)
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

    def lexical_search(
        self,
        query: str,
        n: int,
        filter: MetadataFilter | None = None,
        max_staleness: float | None = None,
    ) -> list[tuple[str, float]]:
        """BM25 top ``n`` ``(id, score)`` among the items that satisfy ``filter``.

        Runs the freshness check first (:meth:`sync`); the search itself takes no lock
        (the index serves immutable snapshots), so queries never wait for a write.
        """
        self._read_collection()
        self.sync(max_staleness)
        return list(self.mirror.index.search(query, n, where=filter))

    def stale_among(self, records: Sequence[StoredRecord]) -> list[str]:
        """Ids of ``records`` (just read from Chroma) that the lexical index holds otherwise."""
        if not records:
            return []
        from manifold_core.lexical import record_digests

        ids = [r.id for r in records]
        truth = record_digests(
            ids, [r.text for r in records], [self.lexical_metadata(r.metadata) for r in records]
        )
        differs = truth != self.mirror.index.digests_of(ids)
        return [i for i, d in zip(ids, differs.tolist(), strict=True) if d]

    # ----------------------------------------------------------- maintenance

    def sync(self, max_staleness: float | None = None) -> None:
        """Catch up with other processes' writes if not checked for ``max_staleness`` s.

        ``None`` uses the store's ``max_staleness``; ``0`` checks now. Repairs of writes by
        other tools run in the background (see :meth:`wait_for_repairs`).
        """
        if self._find_collection() is None:
            return
        self.mirror.check(max_staleness)

    def wait_for_repairs(self, timeout: float | None = None) -> bool:
        """Wait until no background repair runs; True if none is left running."""
        return self.mirror.wait(timeout)

    def repair(self, ids: Iterable[str]) -> int:
        """Re-read ``ids`` from Chroma and fix their lexical entries; returns the changes."""
        return self.mirror.apply_truth(ids)

    def save(self) -> None:
        """Save the lexical snapshot with its journal position (no-op in memory)."""
        if self.lexical_dir is None or self._find_collection() is None:
            return
        mirror = self.mirror
        with mirror.lock:
            extra = {
                "collection_id": str(self._collection.id),
                "journal_since": mirror.cursor.since,
            }
            mirror.index.save(self.lexical_dir, extra=extra)

    def is_stale(self, deep: bool = False) -> bool:
        """True when Chroma holds changes the lexical index has not applied yet.

        The quick check compares the count and looks for unapplied journal entries; it
        cannot see a write by another tool that keeps the count. ``deep=True`` also pages
        through the whole collection and compares every record (about 2 s at 100k).
        """
        if self._find_collection() is None:
            return len(self.mirror.index) > 0
        if self.mirror.peek():
            return True
        return deep and bool(self.mirror.differences())

    def refresh(self, force: bool = False, deep: bool = False) -> bool:
        """Bring the lexical index up to date now; True if anything changed.

        Catches up with the journal; ``deep`` also runs a repair scan of the whole
        collection; ``force`` rebuilds the index from scratch (served until swapped).
        """
        if self._find_collection() is None:
            return False
        mirror = self.mirror
        mirror.wait()
        if force:
            mirror.rebuild()
            return True
        before = mirror.index.fingerprint
        mirror.catch_up()
        if deep or self.count() != len(mirror.index):
            mirror.scan()
        return mirror.index.fingerprint != before

    def remove_manifold_data(self) -> None:
        """Remove everything this package added: journal, snapshots, the 0.1 marker key.

        The collection's own records are untouched. Collection metadata is re-read and
        merged, never overwritten with a stale copy.
        """
        self._check_writable()
        import shutil

        self.mirror.wait()
        self.journal.drop()
        if self.lexical_dir is not None:
            shutil.rmtree(self.lexical_dir, ignore_errors=True)
            parent = self.lexical_dir.parent  # the default manifold_lexical/, once empty
            if parent.name == "manifold_lexical" and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
        if self._find_collection() is not None:
            fresh = self.client.get_collection(self.collection_name, embedding_function=None)
            meta = dict(fresh.metadata or {})
            if _OLD_MARKER_KEY in meta:
                meta.pop(_OLD_MARKER_KEY)
                meta = {k: v for k, v in meta.items() if not k.startswith("hnsw:")}
                fresh.modify(metadata=meta or None)


class _ChromaSource(Source):
    """The mirror's view of the store's collection (texts and lexical metadata)."""

    def __init__(self, store: HybridStore) -> None:
        self.store = store

    def count(self) -> int:
        return self.store.count()

    def read(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any] | None]]:
        store = self.store
        if store._find_collection() is None:
            return {}
        out: dict[str, tuple[str, dict[str, Any] | None]] = {}
        for chunk in _chunks(list(ids), _ID_CHUNK):
            res = store._collection.get(ids=list(chunk), include=["documents", "metadatas"])
            docs = res.get("documents") or [None] * len(res["ids"])
            metas = res.get("metadatas") or [None] * len(res["ids"])
            for i, d, m in zip(res["ids"], docs, metas, strict=True):
                out[i] = (d or "", store.lexical_metadata(m))
        return out

    def pages(self) -> Iterator[tuple[list[str], list[str], list[dict[str, Any] | None]]]:
        store = self.store
        for ids, texts, metas in store._pages():
            yield ids, texts, [store.lexical_metadata(m) for m in metas]
