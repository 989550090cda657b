"""The store's lexical (BM25) side index: a cache of Chroma that converges by itself.

The index is owned by a :class:`~manifold_core.mirror.LexicalMirror`: it is loaded from a
saved snapshot and caught up from the write journal (or built from Chroma), checked for
other writers' changes within ``max_staleness``, repaired where a search read back a
stale candidate, and saved after writes. Hidden keys (another tool's storage internals)
never reach it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from manifold_core.filters import MetadataFilter
from manifold_core.journal import Journal
from manifold_core.lexical import LexicalIndex, LexicalTokenizer, record_digests
from manifold_core.mirror import LexicalMirror, Page, Source
from manifold_core.store.chroma import CollectionAccess, StoredRecord, id_chunks

__all__ = ["LexicalSide"]

logger = logging.getLogger(__name__)

_OLD_MARKER_KEY = "manifold:lexical_fingerprint"  # written by 0.1 stores; removed on request


class LexicalSide(CollectionAccess):
    """The lexical index beside the collection (mixed into the store).

    Attributes:
        lexical_variant: ``"lucene"`` or ``"okapi"`` BM25.
        tokenizer: the lexical tokenizer (``None``: the index's default).
        lexical_dir: where snapshots are saved (``None``: in memory only).
        autosave: save a snapshot after every write.
        journal: the write journal beside the collection.
        mirror: the mirror that owns the index.
    """

    lexical_variant: Literal["lucene", "okapi"]
    tokenizer: Any
    lexical_dir: Path | None
    autosave: bool
    journal: Journal
    mirror: LexicalMirror
    _persist_dir: Path | None

    def _default_lexical_dir(self, lexical_dir: str | os.PathLike[str] | None) -> Path | None:
        if lexical_dir is not None:
            return Path(lexical_dir)
        if self._persist_dir is not None:
            return self._persist_dir / "manifold_lexical" / self.collection_name
        return None

    def _new_lexical(self) -> LexicalIndex:
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

    @property
    def lexical(self) -> LexicalIndex:
        """The lexical index now being served (an immutable-snapshot reader; see mirror)."""
        return self.mirror.index

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


class ChromaSource(Source):
    """The mirror's view of a store's collection (texts and lexical metadata)."""

    def __init__(self, store: LexicalSide) -> None:
        self.store = store

    def count(self) -> int:
        return self.store.count()

    def read(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any] | None]]:
        store = self.store
        if store._find_collection() is None:
            return {}
        out: dict[str, tuple[str, dict[str, Any] | None]] = {}
        for chunk in id_chunks(list(ids)):
            res = store._collection.get(ids=chunk, include=["documents", "metadatas"])
            docs = res.get("documents") or [None] * len(res["ids"])
            metas = res.get("metadatas") or [None] * len(res["ids"])
            for i, d, m in zip(res["ids"], docs, metas, strict=True):
                out[i] = (d or "", store.lexical_metadata(m))
        return out

    def pages(self) -> Iterator[Page]:
        store = self.store
        for ids, texts, metas in store._pages():
            yield ids, texts, [store.lexical_metadata(m) for m in metas]
