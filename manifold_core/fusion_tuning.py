"""Choose a hybrid fusion setting from relevance judgements, scored honestly by cross-validation.

A :class:`FusionSetting` is one way to fuse the dense and the lexical candidate lists of a
query: the method (:mod:`manifold_core.fusion`), the dense weight ``w`` (the lexical side
gets ``1 - w``), the candidate depth taken from each side, and the RRF constant.

:func:`tune` picks the setting with the best mean nDCG@10 over a set of queries;
:func:`cross_validate` splits the queries into ``folds`` seeded folds and, for each fold,
tunes on the *other* folds and scores the chosen setting on the held-out one, so the
reported figure never rests on the judgements it was chosen with. The final setting is
tuned on every query. Everything here is pure: candidates are given, nothing is searched.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from manifold_core.fusion import FUSION_METHODS, HYBRID_FUSION, fuse, validate_fusion

__all__ = [
    "DEFAULT_DENSE_WEIGHTS",
    "DEFAULT_DEPTHS",
    "DEFAULT_METHODS",
    "DEFAULT_RRF_CS",
    "DEFAULT_SETTING",
    "Candidates",
    "CrossValidation",
    "FusionSetting",
    "assign_folds",
    "cross_validate",
    "fused_ranking",
    "ndcg_at",
    "setting_grid",
    "tune",
    "tune_candidates",
]

Ranked = Sequence[tuple[str, float]]


@dataclass(frozen=True)
class FusionSetting:
    """How the two candidate lists of a query are fused.

    Attributes:
        method: a fusion method of :data:`manifold_core.fusion.FUSION_METHODS`.
        dense_weight: weight of the dense list in ``[0, 1]``; the lexical list gets
            ``1 - dense_weight`` (0 and 1 are the single sides).
        depth: candidates taken from each side before fusion.
        c: the reciprocal-rank constant (used by ``rrf`` only).
    """

    method: str = HYBRID_FUSION
    dense_weight: float = 0.5
    depth: int = 50
    c: int = 60

    def __post_init__(self) -> None:
        validate_fusion(self.method)
        w = self.dense_weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 1:
            raise ValueError(f"dense_weight must be a number in [0, 1], got {w!r}")
        object.__setattr__(self, "dense_weight", round(float(w), 6))
        for name in ("depth", "c"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "depth" else 0):
                raise ValueError(f"{name} must be an int >= {1 if name == 'depth' else 0}")

    @property
    def weights(self) -> tuple[float, float]:
        """``(dense, lexical)`` weights, as ``HybridRetriever`` takes them."""
        return (self.dense_weight, round(1.0 - self.dense_weight, 6))

    def retriever_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``HybridRetriever`` (and the adapters) for this setting."""
        return {"fusion": self.method, "weights": self.weights, "fetch_k": self.depth, "c": self.c}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (what the index manifest stores)."""
        return {
            "method": self.method,
            "dense_weight": self.dense_weight,
            "depth": self.depth,
            "c": self.c,
        }

    @classmethod
    def from_dict(cls, data: Any) -> FusionSetting:
        """Parse :meth:`to_dict` output; ``ValueError`` for anything off."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a fusion setting must be an object, got {data!r}")
        unknown = set(data) - {"method", "dense_weight", "depth", "c"}
        if unknown:
            raise ValueError(f"unknown fusion setting keys: {', '.join(sorted(unknown))}")
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise ValueError(f"bad fusion setting {dict(data)!r}: {exc}") from None

    def label(self) -> str:
        """A short human-readable form, e.g. ``rrf w_dense=0.3 depth=20 c=60``."""
        c = f" c={self.c}" if self.method == "rrf" else ""
        return f"{self.method} w_dense={self.dense_weight:g} depth={self.depth}{c}"


DEFAULT_SETTING = FusionSetting()
"""Equal-weight ``dbsf`` over 50 candidates per side: what ``HybridRetriever`` does by default."""

DEFAULT_METHODS: tuple[str, ...] = ("rrf", "relative_score", "dbsf")
"""Methods tuned by default; ``weighted`` (raw scores) is left out: BM25 and cosine
scores are on incomparable scales, so its weights would only undo the scale gap."""
DEFAULT_DENSE_WEIGHTS: tuple[float, ...] = tuple(i / 10 for i in range(11))
DEFAULT_DEPTHS: tuple[int, ...] = (10, 20, 50, 100)
DEFAULT_RRF_CS: tuple[int, ...] = (10, 60)


def setting_grid(
    methods: Iterable[str] = DEFAULT_METHODS,
    dense_weights: Iterable[float] = DEFAULT_DENSE_WEIGHTS,
    depths: Iterable[int] = DEFAULT_DEPTHS,
    rrf_cs: Iterable[int] = DEFAULT_RRF_CS,
    *,
    first: FusionSetting | None = DEFAULT_SETTING,
) -> list[FusionSetting]:
    """Every combination, ``first`` (the default setting) in front; no duplicates.

    Order matters: :func:`tune` breaks ties in favour of the earlier setting, so an
    improvement must be real to displace the default.
    """
    ms, ws, ds, cs = list(methods), list(dense_weights), list(depths), list(rrf_cs)
    for m in ms:
        if m not in FUSION_METHODS:
            validate_fusion(m)
    out: dict[FusionSetting, None] = {}
    if first is not None:
        out[first] = None
    for m in ms:
        for d in ds:
            for w in ws:
                for c in cs if m == "rrf" else [60]:
                    out[FusionSetting(m, w, d, c)] = None
    if not out:
        raise ValueError("the grid is empty")
    return list(out)


def ndcg_at(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranking as ``trec_eval``'s ``ndcg_cut`` computes it (gain = grade).

    A repeated id counts once, at its first position; no relevant document gives 0.
    """
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    idcg = math.fsum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    dcg = math.fsum(
        qrels.get(doc, 0) / math.log2(i + 2)
        for i, doc in enumerate(list(dict.fromkeys(ranked))[:k])
        if qrels.get(doc, 0) > 0
    )
    return dcg / idcg


@dataclass(frozen=True)
class Candidates:
    """The dense and the lexical candidates of one query, each best first."""

    dense: Ranked
    lexical: Ranked


def fused_ranking(
    cands: Candidates,
    setting: FusionSetting,
    k: int | None = None,
    doc_of: Mapping[str, str] | None = None,
) -> list[str]:
    """Ids of ``cands`` fused under ``setting`` (each side cut to its depth), best first.

    With ``doc_of`` (candidate id -> document id, e.g. chunk -> source document) the
    fused candidates are mapped to their documents, each document kept at its first
    position, before the first ``k`` are taken.
    """
    dense_w, lexical_w = setting.weights
    lists = [list(cands.dense[: setting.depth]), list(cands.lexical[: setting.depth])]
    cut = k if doc_of is None else None
    fused = fuse(lists, method=setting.method, weights=[dense_w, lexical_w], c=setting.c, k=cut)
    ids = [item.id for item in fused]
    if doc_of is not None:
        ids = list(dict.fromkeys(doc_of.get(i, i) for i in ids))
    return ids if k is None else ids[:k]


ScoreFn = Callable[[FusionSetting, str], float]
"""``score(setting, query_id)``: the quality of one query's ranking under one setting."""

Tuner = Callable[[Sequence[str], ScoreFn, Sequence[FusionSetting]], FusionSetting]
"""``tuner(query_ids, score, grid)``: the setting to use, chosen from ``query_ids`` only."""


def tune(
    query_ids: Sequence[str],
    score: ScoreFn,
    grid: Sequence[FusionSetting],
    *,
    min_gain_se: float = 1.0,
) -> FusionSetting:
    """The setting of ``grid`` with the best mean ``score`` over ``query_ids``, unless it
    does not clearly beat ``grid[0]`` (the default).

    Ties (within 1e-12) go to the earlier setting of ``grid``. The guard against fitting
    noise (a grid of ~180 settings always holds one that is lucky on a few dozen queries)
    is the "one standard error" rule of model selection: the best setting replaces
    ``grid[0]`` only when its mean beats the default's by more than ``min_gain_se``
    standard errors of the best setting's per-query scores; ``min_gain_se=0`` takes the
    plain argmax. (A paired error of the per-query gains was tried first: two settings
    that differ by a weight step score almost alike on every query, so their gain always
    looked significant and the guard never held on 40 queries.)
    """
    if not query_ids:
        raise ValueError("no query to tune on")
    if not grid:
        raise ValueError("the grid is empty")
    best, best_mean = grid[0], -math.inf
    for setting in grid:
        mean = math.fsum(score(setting, q) for q in query_ids) / len(query_ids)
        if mean > best_mean + 1e-12:
            best, best_mean = setting, mean
    if best == grid[0] or min_gain_se <= 0:
        return best
    n = len(query_ids)
    if n < 2:
        return grid[0]
    scores = [score(best, q) for q in query_ids]
    var = math.fsum((s - best_mean) ** 2 for s in scores) / (n - 1)
    default_mean = math.fsum(score(grid[0], q) for q in query_ids) / n
    return best if best_mean - default_mean > min_gain_se * math.sqrt(var / n) else grid[0]


def assign_folds(query_ids: Iterable[str], folds: int = 5, seed: int = 0) -> list[list[str]]:
    """Split query ids into ``min(folds, n)`` folds of near-equal size, deterministically.

    The ids are sorted, then shuffled by ``random.Random(seed)``, so the split depends on
    the set of ids and the seed only, not on their order.
    """
    ids = sorted(dict.fromkeys(query_ids))
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an int >= 2, got {folds!r}")
    if len(ids) < 2:
        raise ValueError(f"cross-validation needs at least 2 queries, got {len(ids)}")
    random.Random(seed).shuffle(ids)
    n = min(folds, len(ids))
    return [ids[i::n] for i in range(n)]


@dataclass(frozen=True)
class CrossValidation:
    """What :func:`cross_validate` found.

    Attributes:
        score: mean held-out score over every query (each scored with the setting tuned
            without its fold): the honest figure.
        setting: the setting tuned on all queries (the one to use from now on).
        fold_settings: the setting chosen for each fold, in fold order.
        folds: the query ids of each fold.
        per_query: query id -> its held-out score.
    """

    score: float
    setting: FusionSetting
    fold_settings: tuple[FusionSetting, ...]
    folds: tuple[tuple[str, ...], ...]
    per_query: dict[str, float] = field(repr=False)

    def held_out_setting(self) -> dict[str, FusionSetting]:
        """Query id -> the setting its held-out score was computed with."""
        return {q: s for fold, s in zip(self.folds, self.fold_settings, strict=True) for q in fold}


def cross_validate(
    query_ids: Iterable[str],
    score: ScoreFn,
    grid: Sequence[FusionSetting] | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    tuner: Tuner = tune,
) -> CrossValidation:
    """K-fold cross-validation of ``tuner`` over queries.

    For each fold the tuner sees only the other folds' ids; the held-out queries are
    then scored with its choice. ``score`` is memoised, so every (setting, query) pair is
    computed at most once.
    """
    grid = list(grid) if grid is not None else setting_grid()
    parts = assign_folds(query_ids, folds, seed)
    cache: dict[tuple[FusionSetting, str], float] = {}

    def cached(setting: FusionSetting, qid: str) -> float:
        key = (setting, qid)
        if key not in cache:
            cache[key] = score(setting, qid)
        return cache[key]

    per_query: dict[str, float] = {}
    chosen: list[FusionSetting] = []
    for i, held_out in enumerate(parts):
        train = [q for j, part in enumerate(parts) if j != i for q in part]
        setting = tuner(train, cached, grid)
        chosen.append(setting)
        for q in held_out:
            per_query[q] = cached(setting, q)
    everything = [q for part in parts for q in part]
    final = tuner(everything, cached, grid)
    mean = math.fsum(per_query.values()) / len(per_query)
    return CrossValidation(
        score=mean,
        setting=final,
        fold_settings=tuple(chosen),
        folds=tuple(tuple(p) for p in parts),
        per_query=per_query,
    )


def tune_candidates(
    candidates: Mapping[str, Candidates],
    qrels: Mapping[str, Mapping[str, int]],
    grid: Sequence[FusionSetting] | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    k: int = 10,
    doc_of: Mapping[str, str] | None = None,
) -> CrossValidation:
    """:func:`cross_validate` by nDCG@k over the judged queries of ``candidates``.

    ``doc_of`` maps candidate ids to the ids ``qrels`` judges (see :func:`fused_ranking`).
    """
    ids = [q for q in candidates if qrels.get(q)]

    def score(setting: FusionSetting, qid: str) -> float:
        return ndcg_at(fused_ranking(candidates[qid], setting, k, doc_of), qrels[qid], k)

    return cross_validate(ids, score, grid, folds=folds, seed=seed)
