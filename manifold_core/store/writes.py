"""The store's write path: validated input, embeddings first, journaled Chroma batches.

Every input is validated (:mod:`manifold_core.records`) and every embedding computed before
the first Chroma call, so a bad call writes nothing, however many batches it spans. Each
batch of ``client.get_max_batch_size()`` items is written between a ``begin`` and an ``end``
entry of the write journal (:mod:`manifold_core.journal`), which other processes' lexical
indexes catch up from, and mirrored into this process's lexical index at once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from manifold_core.encoders import Encoder, resolve_encoder
from manifold_core.records import check_ids, check_texts, clean_metadata
from manifold_core.store.chroma import (
    _UNSET,
    chroma_where,
    filter_argument,
    id_chunk_size,
    id_chunks,
)
from manifold_core.store.lexical_side import LexicalSide

__all__ = ["PartialWriteError", "WritePath"]

logger = logging.getLogger(__name__)

Metadata = Mapping[str, Any]


class PartialWriteError(RuntimeError):
    """A write spanning several Chroma batches failed after some were committed.

    Attributes:
        written: ids Chroma committed before the failure (they are searchable).
    """

    def __init__(self, message: str, written: list[str]) -> None:
        super().__init__(message)
        self.written = written


class WritePath(LexicalSide):
    """Writes to the collection and its lexical index (mixed into the store).

    Attributes:
        embedding_batch_size: texts handed to the encoder per call.
    """

    embedding_batch_size: int
    _encoder_spec: Any
    _encoder: Encoder | None
    _write_lock: threading.RLock

    @property
    def encoder(self) -> Encoder:
        """The embedding model, resolved on first use."""
        if self._encoder is None:
            self._encoder = resolve_encoder(self._encoder_spec)
        return self._encoder

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Document embeddings of ``texts``, ``embedding_batch_size`` texts per encoder call."""
        size = self.embedding_batch_size
        parts = [
            np.asarray(self.encoder.encode_documents(texts[i : i + size]), dtype=np.float32)
            for i in range(0, len(texts), size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

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
            vectors = self._embed(texts)
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
        for chunk in id_chunks(ids):
            found.extend(self._collection.get(ids=chunk, include=[])["ids"])
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

    def delete(
        self, ids: Sequence[str] | None = None, filter: Any = None, *, where: Any = _UNSET
    ) -> int:
        """Delete items by id, by filter, or both (an id must then also match the filter).

        Returns the number of items deleted. Neither ids nor a non-empty filter raises
        ``ValueError``, so a missing argument (or ``filter={}``) never empties the
        collection; to empty it, delete the collection. ``where=`` is a deprecated alias
        of ``filter=``.
        """
        filter = filter_argument(filter, where, "delete")
        self._check_writable()
        if isinstance(ids, str):
            raise TypeError("ids must be a list of str, not a single str")
        flt = self.parse_filter(filter) if filter is not None else None
        if ids is None and flt is None:
            raise ValueError(
                "delete() needs ids or where (a non-empty filter=); neither was given "
                "(filter={} would delete everything: delete the collection for that)"
            )
        rendered = chroma_where(flt)
        with self._write_lock:
            if self._find_collection() is None:
                return 0
            deleted = 0
            if ids is not None:
                for chunk in id_chunks(list(dict.fromkeys(ids))):
                    found = self._collection.get(ids=chunk, where=rendered, include=[])
                    deleted += self._delete_ids(list(found["ids"]))
            else:
                while True:
                    found = self._collection.get(where=rendered, limit=id_chunk_size(), include=[])
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
