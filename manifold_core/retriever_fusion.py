"""Fusion of arbitrary retrievers' results: the drop-in mode of both ``EnsembleRetriever``s.

A framework adapter only turns its results (LangChain ``Document``, LlamaIndex
``NodeWithScore``) into items with a key and maybe a score, and back. The rules live here,
once: which mode an ensemble is in, the checks of its options (weights, ``k``, fusion
method), de-duplication by key (the first copy seen wins, as in LangChain's own
``EnsembleRetriever``), the score read from each item (anything but a number counts as
missing), fusion by :func:`~manifold_core.fusion.fuse_retrieved`, and the score metadata
each fused result carries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from manifold_core.fusion import FusedItem, default_fusion, fuse_retrieved, validate_fusion
from manifold_core.validation import check_weights, optional_positive_int

__all__ = [
    "FUSED_SCORE_KEYS",
    "check_ensemble",
    "ensemble_weights",
    "fuse_results",
    "fused_metadata",
    "refuse_filter",
    "score_of",
]

T = TypeVar("T")

FUSED_SCORE_KEYS = ("fused_score", "retriever_scores", "retriever_ranks")
"""The metadata keys :func:`fused_metadata` writes (the adapters hide them from the LLM)."""


def check_ensemble(
    store: Any, retrievers: Sequence[Any] | None, fusion: str | None
) -> tuple[bool, str]:
    """The mode (``True``: hybrid search over ``store``) and the fusion method it uses.

    Exactly one of ``store`` and ``retrievers`` must be given, and ``retrievers`` must
    not be empty. ``fusion=None`` picks the mode's default
    (:func:`~manifold_core.fusion.default_fusion`); an unknown name raises ``ValueError``.
    """
    if (store is None) == (retrievers is None):
        raise ValueError("give exactly one of store= (hybrid search) or retrievers=")
    if retrievers is not None and not list(retrievers):
        raise ValueError("retrievers must not be empty")
    hybrid = store is not None
    return hybrid, validate_fusion(fusion or default_fusion(hybrid=hybrid))


def ensemble_weights(
    weights: Sequence[float] | None, n: int, *, hybrid: bool
) -> list[float] | None:
    """``weights`` checked for an ensemble of ``n`` lists (``None`` stays ``None``: equal).

    Hybrid mode takes ``[dense, lexical]``, the drop-in mode one weight per retriever;
    each is a finite number >= 0 and at least one is > 0
    (:func:`~manifold_core.validation.check_weights`).
    """
    if weights is None:
        return None
    given = list(weights)
    if len(given) != n:
        what = "[dense, lexical]" if hybrid else "one per retriever"
        raise ValueError(f"got {len(given)} weights, expected {n} ({what})")
    return check_weights(given, n, names=("dense", "lexical") if hybrid else ())


def refuse_filter(value: Any, name: str = "filter") -> None:
    """Raise when a per-call filter is given to the drop-in mode, which cannot apply it."""
    if value:
        raise ValueError(
            f"{name}= applies in hybrid mode (store=) only; fused retrievers take their own "
            f"filters in their own constructors (got {name}={value!r})"
        )


def score_of(value: Any) -> float | None:
    """A retriever's score for an item: the number itself, ``None`` for anything else
    (missing, a bool, a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def fuse_results(
    results: Sequence[Sequence[T]],
    key: Callable[[T], str],
    score: Callable[[T], Any],
    *,
    fusion: str,
    weights: Sequence[float] | None = None,
    c: int = 60,
    k: int | None = None,
) -> list[tuple[T, FusedItem]]:
    """Fuse the result lists of several retrievers; each fused item with its first copy.

    Args:
        results: one list per retriever, best first.
        key: what identifies an item across lists (a document id, say).
        score: the retriever's own score of an item (see :func:`score_of`); the
            score-based fusion methods need one for every item.
        fusion: the fusion method; weights, ``c``: as :func:`~manifold_core.fusion.fuse`.
        k: keep the best ``k`` (``None``: every fused item).

    Returns:
        ``(item, fused)`` pairs, best first, where ``item`` is the first copy of the key
        seen (in retriever order, then rank order).
    """
    k_ = optional_positive_int(k, "k")
    first: dict[str, T] = {}
    ranked: list[list[tuple[str, float | None]]] = []
    for items in results:
        pairs: list[tuple[str, float | None]] = []
        for item in items:
            item_key = key(item)
            first.setdefault(item_key, item)
            pairs.append((item_key, score_of(score(item))))
        ranked.append(pairs)
    fused = fuse_retrieved(
        ranked,
        method=fusion,
        weights=list(weights) if weights is not None else None,
        c=c,
        k=k_,
    )
    return [(first[item.id], item) for item in fused]


def fused_metadata(item: FusedItem) -> dict[str, Any]:
    """A fused result's scores as metadata (:data:`FUSED_SCORE_KEYS`): the fused score and
    each retriever's rank and score (``None`` where it did not return the item)."""
    return {
        "fused_score": item.score,
        "retriever_ranks": list(item.ranks),
        "retriever_scores": list(item.scores),
    }
