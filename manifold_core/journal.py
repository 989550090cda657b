"""The write journal: how every process learns which ids other processes wrote.

Chroma has no change feed, so each :class:`~manifold_core.store.HybridStore` write leaves
two entries in a companion collection ``<collection>.manifold-journal``: ``begin`` before
the Chroma write and ``end`` after it, both naming the ids and the operation. A reader polls
the entries newer than its previous poll (minus a look-back window, which absorbs clock
skew between machines and commit delays) and re-reads the named ids from the main
collection: present means upsert, absent means delete. Applying the truth rather than the
entry makes catch-up idempotent and independent of order.

A ``begin`` without its ``end`` is an open intent: a write in flight, or a writer killed in
the middle. Its ids are re-read when the ``end`` arrives or, at the latest, when the intent
is ``intent_timeout`` seconds old; while an intent is open a count mismatch between Chroma
and the lexical index is expected, not a sign of a foreign writer.

Writers prune entries older than ``retention``; a reader whose previous poll is older than
that has lost track and must re-verify the whole collection.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["JOURNAL_SUFFIX", "Journal", "JournalCursor", "Poll", "journal_name"]

logger = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".manifold-journal"
_UNIT = np.ones((1, 1), dtype=np.float32)  # Chroma wants a vector; the journal needs none
_ID_CHUNK = 5000


def journal_name(collection_name: str) -> str:
    """The companion collection that journals writes to ``collection_name``."""
    return f"{collection_name}{JOURNAL_SUFFIX}"


def _writer_id() -> str:
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:24] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class Poll:
    """What one poll of the journal found.

    Attributes:
        reread: ids whose truth must be read from the main collection and applied.
        activity: new entries were seen or intents are still open (a count mismatch is
            then expected).
        behind: the previous poll is older than the retained window: verify everything.
    """

    reread: set[str] = field(default_factory=set)
    activity: bool = False
    behind: bool = False


@dataclass
class JournalCursor:
    """A reader's position in the journal (pure bookkeeping, no I/O).

    Attributes:
        since: writer-clock time of the previous poll's start; entries from ``since -
            lookback`` on are read again, and the ones already seen skipped.
        lookback: seconds of overlap between polls.
        intent_timeout: seconds after which an open intent is re-read and closed.
    """

    since: float
    lookback: float = 60.0
    intent_timeout: float = 30.0
    seen: dict[str, float] = field(default_factory=dict)
    open: dict[str, tuple[list[str], float]] = field(default_factory=dict)

    def lower_bound(self) -> float:
        return self.since - self.lookback

    def unseen(self, entry_ids: Iterable[str]) -> list[str]:
        return [e for e in entry_ids if e not in self.seen]

    def apply(
        self, entries: Sequence[tuple[str, dict[str, Any]]], own_writer: str, now: float
    ) -> Poll:
        """Fold new entries ``(entry_id, body)`` into the cursor; return what to re-read."""
        poll = Poll(activity=bool(entries))
        for entry_id, body in entries:
            self.seen[entry_id] = float(body.get("t", self.since))
            ids = [str(i) for i in body.get("ids", [])]
            phase = body.get("phase")
            own = body.get("w") == own_writer
            if phase == "begin":
                if not own:
                    self.open[entry_id] = (ids, now)
            else:
                self.open.pop(str(body.get("begin", "")), None)
                if not own:
                    poll.reread.update(ids)
        for begin_id, (ids, first_seen) in list(self.open.items()):
            if now - first_seen >= self.intent_timeout:
                poll.reread.update(ids)
                del self.open[begin_id]
        poll.activity = poll.activity or bool(self.open)
        horizon = self.lower_bound() - self.lookback
        for entry_id, t in list(self.seen.items()):
            if t < horizon:
                del self.seen[entry_id]
        return poll


class Journal:
    """Append and read journal entries of one collection (the I/O half of the journal).

    Args:
        client: the Chroma client of the main collection.
        collection_name: the main collection.
        retention: seconds an entry is kept; writers prune older ones.
    """

    def __init__(self, client: Any, collection_name: str, retention: float = 3600.0) -> None:
        self.client = client
        self.name = journal_name(collection_name)
        self.retention = float(retention)
        self.writer = _writer_id()
        self._seq = itertools.count()
        self._collection: Any = None
        self._last_prune = 0.0

    # ------------------------------------------------------------------ access

    def _get(self, create: bool) -> Any:
        if self._collection is None:
            if create:
                self._collection = self.client.get_or_create_collection(
                    self.name, embedding_function=None, metadata={"manifold:journal": 1}
                )
            else:
                from chromadb.errors import NotFoundError

                try:
                    self._collection = self.client.get_collection(
                        self.name, embedding_function=None
                    )
                except (NotFoundError, ValueError):
                    return None
        return self._collection

    def drop(self) -> bool:
        """Delete the journal collection; True if there was one."""
        from chromadb.errors import NotFoundError

        self._collection = None
        try:
            self.client.delete_collection(self.name)
        except (NotFoundError, ValueError):
            return False
        return True

    # ------------------------------------------------------------------ writes

    def append(
        self,
        phase: Literal["begin", "end"],
        op: Literal["upsert", "delete"],
        ids: Sequence[str],
        begin: str | None = None,
    ) -> str:
        """Write one entry and return its id (time-ordered, unique per writer)."""
        t = time.time()
        entry_id = f"{time.time_ns():020d}.{self.writer}.{next(self._seq)}"
        body = {"phase": phase, "op": op, "ids": list(ids), "w": self.writer, "t": t}
        if begin is not None:
            body["begin"] = begin
        meta = {"t": t, "w": self.writer, "phase": phase, "n": len(ids)}
        self._get(create=True).add(
            ids=[entry_id], documents=[json.dumps(body)], metadatas=[meta], embeddings=_UNIT
        )
        return entry_id

    def prune(self, force: bool = False) -> int:
        """Delete entries older than ``retention`` (at most every ``retention / 10`` s)."""
        now = time.time()
        if not force and now - self._last_prune < self.retention / 10:
            return 0
        self._last_prune = now
        col = self._get(create=False)
        if col is None:
            return 0
        old = col.get(where={"t": {"$lt": now - self.retention}}, include=[])["ids"]
        for i in range(0, len(old), _ID_CHUNK):
            col.delete(ids=list(old[i : i + _ID_CHUNK]))
        return len(old)

    # ------------------------------------------------------------------- reads

    def skip(self, cursor: JournalCursor) -> None:
        """Mark every entry visible now as seen and move the cursor to now.

        For a reader about to build its index from the collection: writes whose entries are
        visible before the build's reads are in what it reads. (One whose ``end`` comes
        later is re-read when that entry arrives.)
        """
        start = time.time()
        col = self._get(create=False)
        if col is not None:
            found = col.get(where={"t": {"$gte": cursor.lower_bound()}}, include=["metadatas"])
            for entry_id, meta in zip(found["ids"], found["metadatas"] or [], strict=False):
                cursor.seen[entry_id] = float((meta or {}).get("t", start))
        cursor.since = start

    def poll(self, cursor: JournalCursor) -> Poll:
        """Read the entries the cursor has not seen and fold them into it."""
        start = time.time()
        behind = start - cursor.since > self.retention - cursor.lookback
        col = self._get(create=False)
        entries: list[tuple[str, dict[str, Any]]] = []
        if col is not None:
            found = col.get(where={"t": {"$gte": cursor.lower_bound()}}, include=[])["ids"]
            new = sorted(cursor.unseen(found))
            for i in range(0, len(new), _ID_CHUNK):
                res = col.get(ids=new[i : i + _ID_CHUNK], include=["documents"])
                for entry_id, doc in zip(res["ids"], res["documents"] or [], strict=False):
                    try:
                        body = json.loads(doc or "{}")
                    except ValueError:
                        logger.warning("journal entry %s is not JSON; ignored", entry_id)
                        body = {}
                    entries.append((entry_id, body if isinstance(body, dict) else {}))
            entries.sort(key=lambda e: e[0])
        poll = cursor.apply(entries, self.writer, now=time.monotonic())
        poll.behind = behind
        cursor.since = start
        return poll
