"""Ordering reranked items: the argument rule, and relevance (optionally blended) to order.

:func:`order_by_relevance` holds the ordering logic (``top_n``, ``threshold``, and
``blend``: weighted reciprocal-rank fusion of the reranker's order with the incoming
retrieval order), shared by every reranker and every framework adapter;
:func:`validate_rerank_args` is the one check of those arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from manifold_core.fusion import fuse
from manifold_core.validation import optional_positive_int

__all__ = ["RerankedItem", "order_by_relevance", "validate_rerank_args"]

T = TypeVar("T")


@dataclass(frozen=True)
class RerankedItem(Generic[T]):
    """One reranked item.

    Attributes:
        item: what was passed in (a string, a Document, a node, a hit, ...).
        score: the reranker's relevance, in ``[0, 1]`` (``P(yes)`` or a sigmoid).
        index: the item's position in the input, i.e. its retrieval rank minus one.
        retrieval_score: the score the item came with, if any.
        blended_score: the weighted-RRF score when ``blend`` was set, else ``None``.
    """

    item: T
    score: float
    index: int
    retrieval_score: float | None = None
    blended_score: float | None = None

    @property
    def retrieval_rank(self) -> int:
        """The 1-based rank the item had before reranking."""
        return self.index + 1


def validate_rerank_args(
    query: str | None = None,
    top_n: int | None = None,
    threshold: float | None = None,
    blend: float | None = None,
    *,
    check_query: bool = True,
) -> None:
    """Raise ``ValueError``/``TypeError`` naming the bad value; return ``None`` when all fine."""
    if check_query:
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        if not query.strip():
            raise ValueError(f"query must be a non-empty string, got {query!r}")
    optional_positive_int(top_n, "top_n")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0.0 <= threshold <= 1.0
    ):
        raise ValueError(f"threshold must be a number in [0, 1] or None, got {threshold!r}")
    if blend is not None and (
        isinstance(blend, bool)
        or not isinstance(blend, (int, float))
        or not math.isfinite(blend)
        or blend < 0
    ):
        raise ValueError(f"blend must be a finite number >= 0 or None, got {blend!r}")


def order_by_relevance(
    items: Sequence[T],
    relevance: Sequence[float] | np.ndarray,
    retrieval_scores: Sequence[float | None] | None = None,
    *,
    top_n: int | None = None,
    threshold: float | None = None,
    blend: float | None = None,
    rrf_c: int = 60,
) -> list[RerankedItem[T]]:
    """Order ``items`` (given in retrieval order) by their reranker ``relevance``.

    Without ``blend`` the order is by relevance, best first, ties kept in input order.
    With ``blend = w`` the order is weighted reciprocal-rank fusion of the reranker's
    order (weight ``w``) and the input order (weight 1): ``w / (c + rank_rerank) +
    1 / (c + rank_retrieval)``. ``w = 0`` gives the retrieval order back, a very large
    ``w`` the reranker's; values around 1 hedge a reranker that is weak on the domain.
    ``threshold`` then drops items whose relevance is below it, and ``top_n`` keeps the
    first ``top_n``.
    """
    validate_rerank_args(top_n=top_n, threshold=threshold, blend=blend, check_query=False)
    scores = np.asarray(relevance, dtype=np.float64).reshape(-1)
    n = len(items)
    if scores.shape[0] != n:
        raise ValueError(f"got {scores.shape[0]} relevance scores for {n} items")
    if retrieval_scores is not None and len(retrieval_scores) != n:
        raise ValueError(f"got {len(retrieval_scores)} retrieval scores for {n} items")
    if n == 0:
        return []
    by_relevance = sorted(range(n), key=lambda i: (-scores[i], i))
    blended: dict[int, float] = {}
    if blend is None:
        order = by_relevance
    else:
        # Zero-padded ids sort as integers, so fuse's last tie-break is the input order.
        width = len(str(n))
        rerank_list = [(f"{i:0{width}d}", float(scores[i])) for i in by_relevance]
        retrieval_list = [(f"{i:0{width}d}", float(n - i)) for i in range(n)]
        fused = fuse([rerank_list, retrieval_list], "rrf", weights=[float(blend), 1.0], c=rrf_c)
        order = [int(f.id) for f in fused]
        blended = {int(f.id): f.score for f in fused}
    out: list[RerankedItem[T]] = []
    for i in order:
        if threshold is not None and scores[i] < threshold:
            continue
        rs = None if retrieval_scores is None else retrieval_scores[i]
        out.append(
            RerankedItem(
                item=items[i],
                score=float(scores[i]),
                index=i,
                retrieval_score=None if rs is None else float(rs),
                blended_score=blended.get(i),
            )
        )
        if top_n is not None and len(out) >= top_n:
            break
    return out
