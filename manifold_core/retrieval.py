"""HybridRetriever: one query, dense and lexical candidates under one filter, fused.

The query is embedded with the encoder's query instruction (``encode_queries``); Chroma
returns the ``fetch_k`` nearest neighbours that satisfy the filter (rendered to its
``where``), the lexical index the ``fetch_k`` best BM25 matches among the documents that
satisfy the *same* filter (evaluated on its metadata mirror), and the two ranked lists
are fused (:func:`manifold_core.fusion.fuse`). Every score is kept on the :class:`Hit`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from manifold_core.filter_hints import warn_unknown_keys
from manifold_core.fusion import HYBRID_FUSION, FusedItem, fuse, validate_fusion
from manifold_core.store import HybridStore
from manifold_core.validation import check_weights, positive_int

if TYPE_CHECKING:
    from manifold_core.filters import MetadataFilter

__all__ = ["HIT_SCORE_KEYS", "Hit", "HybridRetriever"]

HIT_SCORE_KEYS = ("fused_score", "dense_score", "dense_rank", "lexical_score", "lexical_rank")
"""The metadata keys :meth:`Hit.score_metadata` writes (the adapters hide them from the LLM)."""

# Search rounds when stale lexical candidates leave fewer than k hits.
_ROUNDS = 3


@dataclass(frozen=True)
class Hit:
    """One search result with every score that produced it.

    Attributes:
        id: document id.
        text: document text.
        metadata: document metadata (a copy).
        score: the fused score (higher is better).
        dense_score: cosine similarity to the query (``1 - cosine distance``), ``None``
            if the document was not among the dense candidates.
        dense_rank: 1-based rank among the dense candidates, ``None`` if absent.
        lexical_score: BM25 score, ``None`` if not among the lexical candidates.
        lexical_rank: 1-based rank among the lexical candidates, ``None`` if absent.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    dense_score: float | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None

    def scores(self) -> dict[str, float | None]:
        """The fused, dense and lexical scores, by side (the CLI's ``scores``)."""
        return {"fused": self.score, "dense": self.dense_score, "lexical": self.lexical_score}

    def ranks(self) -> dict[str, int | None]:
        """The dense and lexical ranks, by side (``None`` where the hit was not a candidate)."""
        return {"dense": self.dense_rank, "lexical": self.lexical_rank}

    def score_metadata(self) -> dict[str, float | int | None]:
        """Every score and rank as flat metadata (:data:`HIT_SCORE_KEYS`), as the adapters
        put them on each returned document or node."""
        scores, ranks = self.scores(), self.ranks()
        return {
            "fused_score": scores["fused"],
            "dense_score": scores["dense"],
            "dense_rank": ranks["dense"],
            "lexical_score": scores["lexical"],
            "lexical_rank": ranks["lexical"],
        }


def _check_weights(weights: Any) -> tuple[float, float]:
    dense_w, lexical_w = check_weights(weights, 2, names=("dense", "lexical"))
    return dense_w, lexical_w


class HybridRetriever:
    """Dense + BM25 search over a :class:`HybridStore`, with one metadata filter for both.

    Args:
        store: the store to search.
        k: results returned by default.
        fetch_k: candidates taken from each side before fusion (raised to ``k`` if lower).
        fusion: ``"dbsf"`` (default), ``"rrf"``, ``"relative_score"`` or ``"weighted"``.
        weights: ``(dense, lexical)`` fusion weights; a weight of 0 skips that side.
        c: the reciprocal-rank constant.
        max_staleness: seconds a search may run on a lexical index that has not checked
            Chroma for other processes' writes; ``None`` uses the store's setting.

    Every hit is read back from Chroma under the query's filter, so it exists and satisfies
    the filter when returned; a lexical candidate that turns out stale is repaired in the
    index and replaced by the next candidate, so ``k`` hits come back whenever ``k``
    documents match.
    """

    def __init__(
        self,
        store: HybridStore,
        k: int = 4,
        fetch_k: int = 50,
        fusion: str = HYBRID_FUSION,
        weights: Sequence[float] = (1.0, 1.0),
        c: int = 60,
        max_staleness: float | None = None,
    ) -> None:
        if max_staleness is not None and not (
            isinstance(max_staleness, (int, float)) and max_staleness >= 0
        ):
            raise ValueError(f"max_staleness must be seconds >= 0 or None, got {max_staleness!r}")
        self.max_staleness = max_staleness
        self.store = store
        self.k = positive_int(k, "k")
        self.fetch_k = positive_int(fetch_k, "fetch_k")
        self.fusion = validate_fusion(fusion)
        self.weights = _check_weights(weights)
        self.c = c

    def search(
        self,
        query: str,
        k: int | None = None,
        filter: Any = None,
        fetch_k: int | None = None,
        weights: Sequence[float] | None = None,
        fusion: str | None = None,
    ) -> list[Hit]:
        """Return the ``k`` best hits for ``query`` among documents that satisfy ``filter``.

        Args:
            query: the search text (must contain something other than whitespace).
            k: number of hits (default: the retriever's ``k``).
            filter: a Chroma-style ``where`` dict or a ``MetadataFilter``; applied to
                both sides. A filter that cannot be expressed raises ``ValueError``.
            fetch_k: candidates per side (default: the retriever's ``fetch_k``).
            weights: ``(dense, lexical)`` weights for this call.
            fusion: fusion method for this call.

        Raises:
            ValueError: empty query, ``k``/``fetch_k`` not positive, unknown fusion,
                bad weights, or an unexpressible filter.
        """
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"query must be a non-empty string, got {query!r}")
        k_ = self.k if k is None else positive_int(k, "k")
        fetch = self.fetch_k if fetch_k is None else positive_int(fetch_k, "fetch_k")
        fetch = max(fetch, k_)
        method = self.fusion if fusion is None else validate_fusion(fusion)
        dense_w, lexical_w = self.weights if weights is None else _check_weights(weights)
        flt = self.store.parse_filter(filter)
        store = self.store
        store.sync(self.max_staleness)
        if flt is not None:  # a key no document has: warn, naming the closest keys
            warn_unknown_keys(flt, store.metadata_keys())
        vector = None
        if dense_w > 0:
            vector = np.asarray(store.encoder.encode_queries([query]), dtype=np.float32)[0]
        for _ in range(_ROUNDS):
            dense = store.dense_search(vector, fetch, flt) if vector is not None else []
            lexical = (
                store.lexical_search(query, fetch, flt, max_staleness=math.inf)
                if lexical_w > 0
                else []
            )
            fused = fuse([dense, lexical], method=method, weights=[dense_w, lexical_w], c=self.c)
            hits, stale = self._read_back(fused, k_, flt)
            full = len(dense) >= fetch or len(lexical) >= fetch
            if not stale or len(hits) >= k_ or not full:
                return hits
            fetch *= 4  # stale candidates took places: ask both sides for more
        return hits

    def _read_back(
        self, fused: list[FusedItem], k: int, flt: MetadataFilter | None
    ) -> tuple[list[Hit], bool]:
        """The first ``k`` fused items that Chroma still holds under ``flt``, as hits.

        Lexical candidates that Chroma no longer holds, or holds differently, are repaired
        in the lexical index on the spot; returns the hits and whether any was stale.
        """
        store = self.store
        hits: list[Hit] = []
        suspects: list[str] = []
        pos = 0
        while len(hits) < k and pos < len(fused):
            batch = fused[pos : pos + k - len(hits)]
            pos += len(batch)
            records = {r.id: r for r in store.get(ids=[item.id for item in batch], filter=flt)}
            lexical_ids = [i.id for i in batch if i.ranks[1] is not None and i.id in records]
            if lexical_ids:
                suspects.extend(store.stale_among([records[i] for i in lexical_ids]))
            for item in batch:
                record = records.get(item.id)
                if record is None:  # deleted, or no longer matching the filter
                    if item.ranks[1] is not None:
                        suspects.append(item.id)
                    continue
                hits.append(
                    Hit(
                        id=item.id,
                        text=record.text,
                        metadata=record.metadata,
                        score=item.score,
                        dense_score=item.scores[0],
                        dense_rank=item.ranks[0],
                        lexical_score=item.scores[1],
                        lexical_rank=item.ranks[1],
                    )
                )
        if suspects:
            store.repair(suspects)
        return hits, bool(suspects)

    async def asearch(
        self,
        query: str,
        k: int | None = None,
        filter: MetadataFilter | Any = None,
        fetch_k: int | None = None,
        weights: Sequence[float] | None = None,
        fusion: str | None = None,
    ) -> list[Hit]:
        """:meth:`search` in a worker thread, so an event loop is never blocked."""
        return await asyncio.to_thread(self.search, query, k, filter, fetch_k, weights, fusion)
