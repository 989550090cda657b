"""LexicalMirror: a process's BM25 index as a cache of Chroma that converges by itself.

Three mechanisms, cheapest first (``docs/architecture.md`` has the whole argument):

1. **Journal catch-up.** Before a search, a mirror whose last check is older than
   ``max_staleness`` polls the write journal (:mod:`manifold_core.journal`), re-reads the ids
   other processes wrote and applies what Chroma holds now (present: upsert, absent:
   delete).
2. **Count check.** The same check compares Chroma's count with the index's. A mismatch
   that no journal activity explains, seen on two checks at least ``foreign_grace`` apart,
   is a writer that is not ours (langchain-chroma, LlamaIndex, a raw client, a writer killed
   between its Chroma write and its journal entry): it starts a repair scan.
3. **Repair scan.** Pages through the whole collection, compares every record's digest with
   the index's and re-reads and applies the ids that differ, plus the ids the index holds
   that Chroma no longer does. It runs in a background thread while searches go on over the
   current snapshot, every ``verify_interval`` seconds and whenever 2. fires, which catches
   foreign writes that keep the count (an upsert of an existing id).

All changes to the index go through one lock, and every one of them is "read the truth,
then apply it" under that lock (or a local write made under it), so the index never moves
back to an older state than one it has shown. A full rebuild (``refresh(force=True)``, a
journal position older than the retained window) builds a new index beside the served one;
ids touched meanwhile are re-read after the swap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from manifold_core.journal import Journal, JournalCursor, Poll
from manifold_core.lexical import LexicalIndex, record_digests

__all__ = ["LexicalMirror", "Source"]

logger = logging.getLogger(__name__)

Page = tuple[list[str], list[str], list[dict[str, Any] | None]]


class Source:
    """What the mirror needs from the store: Chroma reads in the lexical index's terms."""

    def count(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any] | None]]:
        """Current text and (lexical) metadata of those ids that exist."""
        raise NotImplementedError  # pragma: no cover - interface

    def pages(self) -> Iterator[Page]:
        """Every record as (ids, texts, lexical metadata), page by page."""
        raise NotImplementedError  # pragma: no cover - interface


class LexicalMirror:
    """Owns one store's lexical index and keeps it converging to Chroma.

    Args:
        source: reads from the main collection.
        journal: the collection's write journal (``None`` for a read-only store that never
            found one; it is looked up again on every check).
        new_index: makes an empty index of the store's configuration.
        max_staleness: default seconds between freshness checks (0: before every search).
        verify_interval: seconds between background repair scans.
        foreign_grace: seconds an unexplained count mismatch must last before a scan.
        on_change: called (under the lock) after the index changed, e.g. to autosave.
    """

    def __init__(
        self,
        source: Source,
        journal: Journal,
        new_index: Callable[[], LexicalIndex],
        *,
        max_staleness: float = 1.0,
        verify_interval: float = 300.0,
        foreign_grace: float = 1.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        for name, value in (
            ("max_staleness", max_staleness),
            ("verify_interval", verify_interval),
            ("foreign_grace", foreign_grace),
        ):
            if not (isinstance(value, (int, float)) and value >= 0 and value == value):
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        self.source = source
        self.journal = journal
        self.new_index = new_index
        self.max_staleness = float(max_staleness)
        self.verify_interval = float(verify_interval)
        self.foreign_grace = float(foreign_grace)
        self.on_change = on_change
        self.index: LexicalIndex = new_index()
        self.cursor = JournalCursor(since=time.time())
        self.lock = threading.RLock()  # every change to the index
        self._check_lock = threading.Lock()
        self._last_check = float("-inf")  # monotonic start of the last completed check
        self._last_scan = time.monotonic()
        self._mismatch_since: float | None = None
        self._last_count = float("-inf")
        self._dirty: set[str] | None = None  # ids touched while a rebuild runs
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self.needs_scan = False
        self.stats = {"checks": 0, "reread": 0, "scans": 0, "rebuilds": 0, "repaired": 0}

    # ---------------------------------------------------------------- applying

    def touched(self, ids: Iterable[str]) -> None:
        """Record ids changed by a local write (call under :attr:`lock`)."""
        if self._dirty is not None:
            self._dirty.update(ids)

    def apply_truth(self, ids: Iterable[str]) -> int:
        """Re-read ``ids`` from Chroma and make the index hold exactly that; returns changes."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return 0
        changed = 0
        with self.lock:
            for start in range(0, len(wanted), 5000):
                chunk = wanted[start : start + 5000]
                truth = self.source.read(chunk)
                gone = [i for i in chunk if i not in truth and i in self.index]
                present = [i for i in chunk if i in truth]
                if present:
                    texts = [truth[i][0] for i in present]
                    metas = [truth[i][1] for i in present]
                    new = record_digests(present, texts, metas)
                    differs = new != self.index.digests_of(present)
                    keep = [n for n, d in enumerate(differs.tolist()) if d]
                    if keep:
                        self.index.add(
                            [present[n] for n in keep],
                            [texts[n] for n in keep],
                            [metas[n] for n in keep],
                        )
                        changed += len(keep)
                if gone:
                    self.index.delete(gone)
                    changed += len(gone)
                self.touched(chunk)
            if changed and self.on_change is not None:
                self.on_change()
        self.stats["reread"] += len(wanted)
        return changed

    # --------------------------------------------------------------- checking

    def check(self, max_staleness: float | None = None) -> None:
        """The freshness check: catch up if the last one is older than ``max_staleness``."""
        staleness = self.max_staleness if max_staleness is None else float(max_staleness)
        asked = time.monotonic()
        if asked - self._last_check < staleness:
            return
        with self._check_lock:
            if self._last_check >= asked:  # another thread checked after we asked
                return
            started = time.monotonic()
            self._check_once()
            self._last_check = started

    def _check_once(self) -> None:
        self.stats["checks"] += 1
        # The count costs a round trip: at most once per foreign_grace. It is read before
        # the poll, so a write of ours that it counts has its begin entry in the poll.
        count = None
        if time.monotonic() - self._last_count >= self.foreign_grace:
            self._last_count = time.monotonic()
            count = self.source.count()
        poll = self.journal.poll(self.cursor)
        if poll.reread:
            self.apply_truth(poll.reread)
        now = time.monotonic()
        if poll.behind:
            logger.info("journal position older than its retention; rebuilding")
            self.start(self.rebuild)
            return
        if count is None:
            pass
        elif count != len(self.index) and not poll.activity:
            if self._mismatch_since is None:
                self._mismatch_since = now
            elif now - self._mismatch_since >= self.foreign_grace:
                self.needs_scan = True
        else:
            self._mismatch_since = None
        if self.needs_scan or now - self._last_scan >= self.verify_interval:
            self.start(self.scan)

    def peek(self) -> bool:
        """True if the journal or the count shows changes not applied yet (no side effects)."""
        if self.source.count() != len(self.index):
            return True
        col = self.journal._get(create=False)
        if col is None:
            return False
        found = col.get(where={"t": {"$gte": self.cursor.lower_bound()}}, include=["metadatas"])
        return any(
            entry not in self.cursor.seen and (meta or {}).get("w") != self.journal.writer
            for entry, meta in zip(found["ids"], found["metadatas"] or [], strict=False)
        )

    # ------------------------------------------------------------ background

    def start(self, job: Callable[[], Any]) -> bool:
        """Run ``job`` in the background unless a job already runs; True if started."""
        with self._worker_lock:
            if self._worker is not None and self._worker.is_alive():
                return False

            def run() -> None:
                try:
                    job()
                except Exception:  # a failed repair is retried by the next check
                    logger.exception("background lexical repair failed; will retry")
                    self.needs_scan = True

            self._worker = threading.Thread(target=run, name="manifold-lexical-repair")
            self._worker.daemon = True
            self._worker.start()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running background job; True when none is left running."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    # ------------------------------------------------------------- repairing

    def differences(self) -> list[str]:
        """Ids whose index entry differs from Chroma (found by paging the collection)."""
        seen: set[str] = set()
        suspects: list[str] = []
        for ids, texts, metas in self.source.pages():
            digests = record_digests(ids, texts, metas)
            differs = digests != self.index.digests_of(ids)
            suspects.extend(i for i, d in zip(ids, differs.tolist(), strict=True) if d)
            seen.update(ids)
        suspects.extend(i for i in self.index.ids if i not in seen)
        return suspects

    def scan(self) -> int:
        """Repair every difference between the index and Chroma; returns the ids changed."""
        self.needs_scan = False
        self._mismatch_since = None
        suspects = self.differences()
        changed = self.apply_truth(suspects) if suspects else 0
        self._last_scan = time.monotonic()
        self.stats["scans"] += 1
        self.stats["repaired"] += changed
        if changed:
            logger.info("repair scan fixed %d lexical entries", changed)
        return changed

    def build(self) -> LexicalIndex:
        """A fresh index of every record (not published)."""
        index = self.new_index()
        for ids, texts, metas in self.source.pages():
            index.add(ids, texts, metas)
        return index

    def rebuild(self) -> None:
        """Build a new index beside the served one, swap it in, re-apply what changed meanwhile."""
        with self.lock:
            self._dirty = set()
        self.journal.skip(self.cursor)
        try:
            index = self.build()
        except BaseException:
            with self.lock:
                self._dirty = None
            raise
        with self.lock:
            dirty, self._dirty = self._dirty or set(), None
            self.index = index
            self.needs_scan = False
            self._mismatch_since = None
            self._last_scan = time.monotonic()
            if self.on_change is not None:
                self.on_change()
        self.stats["rebuilds"] += 1
        if dirty:
            self.apply_truth(dirty)

    def catch_up(self) -> Poll:
        """Poll the journal now and apply it (no staleness shortcut)."""
        poll = self.journal.poll(self.cursor)
        if poll.reread:
            self.apply_truth(poll.reread)
        return poll
