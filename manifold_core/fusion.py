"""Rank fusion: merge several ranked lists of ``(id, score)`` into one.

Four methods, each with one weight per list:

- ``"rrf"``: weighted reciprocal-rank fusion, ``sum_i w_i / (c + rank_i)``; uses ranks
  only, so lists on incomparable scales (BM25, cosine) mix safely. The default.
- ``"relative_score"``: each list's scores min-max scaled to ``[0, 1]``, then a
  weighted sum (Weaviate's and LlamaIndex's "relative score" fusion).
- ``"dbsf"``: distribution-based score fusion; each list's scores scaled by its own
  mean +- 3 standard deviations (``(s - (mu - 3 sigma)) / (6 sigma)``), then a weighted
  sum (Qdrant's and LlamaIndex's "dist_based_score").
- ``"weighted"``: the weighted sum of the *raw* scores, no scaling. Only meaningful
  when every list scores on the same scale (e.g. several cosine retrievers); it is not
  an alias of weighted RRF, which is ``"rrf"`` with ``weights``.

An id missing from a list contributes nothing from that list. A list scaled by
``relative_score``/``dbsf`` whose scores are all equal (or that has one item) gives each
of its items 1.0: they are all that list's best.

Ties are broken deterministically, independent of the order of the lists: higher fused
score first, then the better (smaller) best rank over the lists that count, then the
smaller id in plain string order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from manifold_core.validation import check_weights

__all__ = [
    "FUSION_METHODS",
    "HYBRID_FUSION",
    "RETRIEVERS_FUSION",
    "FusedItem",
    "FusionMethod",
    "default_fusion",
    "fuse",
    "fuse_retrieved",
    "validate_fusion",
]

FusionMethod = Literal["rrf", "weighted", "relative_score", "dbsf"]
FUSION_METHODS: tuple[str, ...] = get_args(FusionMethod)

HYBRID_FUSION: FusionMethod = "dbsf"
"""The default fusion of the dense and BM25 lists of a hybrid search (``HybridRetriever``,
both adapters, the CLI). Chosen over equal-weight RRF on SciFact and CMRC 2018, where score
fusion never fell far below the better side while RRF did (``docs/benchmarks.md``). Fusing
arbitrary retrievers stays ``"rrf"``: their scores may be missing or incomparable."""

RETRIEVERS_FUSION: FusionMethod = "rrf"
"""The default fusion of arbitrary retrievers' result lists (ranks only, scores not needed)."""


def default_fusion(hybrid: bool) -> str:
    """The default method: :data:`HYBRID_FUSION` for a hybrid search, else RRF."""
    return HYBRID_FUSION if hybrid else RETRIEVERS_FUSION


@dataclass(frozen=True)
class FusedItem:
    """One fused result.

    Attributes:
        id: the document id.
        score: the fused score (higher is better).
        ranks: the 1-based rank of the id in each input list, ``None`` where absent.
        scores: the id's original score in each input list, ``None`` where absent.
    """

    id: str
    score: float
    ranks: tuple[int | None, ...]
    scores: tuple[float | None, ...]


def validate_fusion(method: str) -> str:
    """Return ``method`` if it names a fusion method, else raise a ``ValueError`` naming it."""
    if method not in FUSION_METHODS:
        raise ValueError(
            f"unknown fusion method {method!r}; expected one of {', '.join(FUSION_METHODS)}"
        )
    return method


def _normalise(scores: list[float], method: str) -> list[float]:
    if method == "weighted":
        return scores
    if method == "relative_score":
        lo, hi = min(scores), max(scores)
        if hi - lo <= 0:
            return [1.0] * len(scores)
        return [(s - lo) / (hi - lo) for s in scores]
    # dbsf
    n = len(scores)
    mean = math.fsum(scores) / n
    std = math.sqrt(math.fsum((s - mean) ** 2 for s in scores) / n)
    if std <= 0:
        return [1.0] * n
    lo = mean - 3 * std
    return [(s - lo) / (6 * std) for s in scores]


def fuse(
    ranked_lists: Sequence[Sequence[tuple[str, float]]],
    method: FusionMethod | str = "rrf",
    weights: Sequence[float] | None = None,
    c: int = 60,
    k: int | None = None,
) -> list[FusedItem]:
    """Fuse ranked lists of ``(id, score)`` (each best first) into one list, best first.

    Args:
        ranked_lists: one list per retriever; position in a list is the rank (1-based),
            so lists must already be sorted best first. A repeated id within one list
            keeps its first (best) position.
        method: ``"rrf"`` (default), ``"weighted"``, ``"relative_score"`` or ``"dbsf"``.
        weights: one non-negative weight per list (default all 1.0). A weight of 0
            removes that list: its ids neither score nor appear unless another list has
            them (their rank and score in the removed list are still reported).
        c: the RRF constant (60, as in Cormack et al.); larger flattens the rank curve.
        k: keep only the best ``k``; ``None`` keeps every id.

    Returns:
        ``FusedItem`` records, highest fused score first (ties: see the module docs).

    Raises:
        ValueError: unknown method, wrong number of weights, negative or all-zero
            weights, ``c < 0``, ``k <= 0``, or a non-finite score.
    """
    validate_fusion(method)
    lists = list(ranked_lists)
    w = check_weights(weights, len(lists))
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or c < 0:
        raise ValueError(f"c must be a finite number >= 0, got {c!r}")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k <= 0):
        raise ValueError(f"k must be a positive int or None, got {k!r}")

    n = len(lists)
    ranks: dict[str, list[int | None]] = {}
    raw: dict[str, list[float | None]] = {}
    parts_of: dict[str, list[float]] = {}
    best_rank: dict[str, int] = {}
    for li, items in enumerate(lists):
        seen: set[str] = set()
        ids: list[str] = []
        scores: list[float] = []
        for doc_id, score in items:
            if doc_id in seen:
                continue
            score = float(score)
            if not math.isfinite(score):
                raise ValueError(f"ranked_lists[{li}] gives id {doc_id!r} a non-finite score")
            seen.add(doc_id)
            ids.append(doc_id)
            scores.append(score)
            if doc_id not in ranks:
                ranks[doc_id] = [None] * n
                raw[doc_id] = [None] * n
            ranks[doc_id][li] = len(ids)
            raw[doc_id][li] = score
        if w[li] <= 0 or not ids:
            continue
        if method == "rrf":
            parts = [w[li] / (c + r) for r in range(1, len(ids) + 1)]
        else:
            parts = [w[li] * s for s in _normalise(scores, method)]
        for r, (doc_id, part) in enumerate(zip(ids, parts, strict=True), start=1):
            parts_of.setdefault(doc_id, []).append(part)
            if r < best_rank.get(doc_id, r + 1):
                best_rank[doc_id] = r

    # fsum is exactly rounded, so the fused score does not depend on the order of lists.
    contributions = {d: math.fsum(p) for d, p in parts_of.items()}
    order = sorted(contributions, key=lambda d: (-contributions[d], best_rank[d], d))
    if k is not None:
        order = order[:k]
    return [
        FusedItem(id=d, score=contributions[d], ranks=tuple(ranks[d]), scores=tuple(raw[d]))
        for d in order
    ]


def fuse_retrieved(
    ranked_lists: Sequence[Sequence[tuple[str, float | None]]],
    method: FusionMethod | str = "rrf",
    weights: Sequence[float] | None = None,
    c: int = 60,
    k: int | None = None,
) -> list[FusedItem]:
    """:func:`fuse` for lists from arbitrary retrievers, whose scores may be missing.

    Reciprocal-rank fusion needs ranks only, so a missing score (``None``) is fine there
    and is reported as ``None``. The score-based methods need every score and raise a
    ``ValueError`` naming the list that lacks one, rather than guessing.
    """
    validate_fusion(method)
    filled: list[list[tuple[str, float]]] = []
    for li, items in enumerate(ranked_lists):
        out: list[tuple[str, float]] = []
        for doc_id, score in items:
            if score is None:
                if method != "rrf":
                    raise ValueError(
                        f"fusion {method!r} needs scores, but result list {li} has none for "
                        f"{doc_id!r}; use fusion='rrf' or a retriever that returns scores"
                    )
                score = 0.0
            out.append((doc_id, score))
        filled.append(out)
    fused = fuse(filled, method=method, weights=weights, c=c, k=k)
    if method != "rrf":
        return fused
    missing = {
        (li, doc_id) for li, items in enumerate(ranked_lists) for doc_id, s in items if s is None
    }
    if not missing:
        return fused
    return [
        FusedItem(
            id=item.id,
            score=item.score,
            ranks=item.ranks,
            scores=tuple(
                None if (li, item.id) in missing else s for li, s in enumerate(item.scores)
            ),
        )
        for item in fused
    ]
