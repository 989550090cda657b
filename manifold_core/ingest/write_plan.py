"""Writing chunks held in memory: which ids are new, replaced or stale (library use).

:func:`~manifold_core.ingest.run.run_ingest` streams and settles each file as it goes;
this is the same replace-by-source rule for a caller that has all chunks at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from manifold_core.ingest.chunks import ChunkRecord
from manifold_core.store import HybridStore

__all__ = ["WritePlan", "apply_write", "plan_write"]

# Sources per $in filter when looking up the chunks an index already holds.
_SOURCES_PER_LOOKUP = 500


@dataclass(frozen=True)
class WritePlan:
    """A write for chunks held in memory.

    Attributes:
        chunks: the new chunks, in order.
        embeddings: one row per chunk.
        stale_ids: chunks the index holds for the ingested sources that were not
            produced again (a file got shorter, a JSONL record went away).
        replaced: how many of ``chunks`` already existed (their ids).
    """

    chunks: list[ChunkRecord]
    embeddings: np.ndarray
    stale_ids: list[str]
    replaced: int


def plan_write(
    store: HybridStore,
    chunks: Sequence[ChunkRecord],
    embeddings: np.ndarray,
    sources: Iterable[str],
) -> WritePlan:
    """Compare the new chunks with what ``store`` holds for the same ``sources``."""
    if len(embeddings) != len(chunks):
        raise ValueError(f"got {len(embeddings)} embeddings for {len(chunks)} chunks")
    new_ids = {c.id for c in chunks}
    if len(new_ids) != len(chunks):
        raise ValueError("two chunks share an id; a file was read twice")
    existing: set[str] = set()
    source_list = sorted(set(sources))
    if store.count():
        for i in range(0, len(source_list), _SOURCES_PER_LOOKUP):
            batch = source_list[i : i + _SOURCES_PER_LOOKUP]
            where = {"source": {"$in": batch}} if len(batch) > 1 else {"source": batch[0]}
            existing.update(r.id for r in store.iter_records(filter=where))
    stale = sorted(existing - new_ids)
    return WritePlan(list(chunks), embeddings, stale, len(existing & new_ids))


def apply_write(store: HybridStore, plan: WritePlan) -> None:
    """Upsert the new chunks first, then delete the stale ones.

    In this order an interrupted ingest leaves every chunk that exists in the files
    searchable (possibly next to a few stale ones), never a file with no chunks.
    """
    if plan.chunks:
        store.upsert(
            [c.text for c in plan.chunks],
            [c.metadata for c in plan.chunks],
            ids=[c.id for c in plan.chunks],
            embeddings=plan.embeddings,
        )
    if plan.stale_ids:
        store.delete(ids=plan.stale_ids)
