"""Fusion tuning: nDCG, seeded folds, and cross-validation that never sees the held-out fold."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.evaluation import score_run
from manifold_core.fusion_tuning import (
    DEFAULT_SETTING,
    Candidates,
    FusionSetting,
    ScoreFn,
    assign_folds,
    cross_validate,
    fused_ranking,
    ndcg_at,
    setting_grid,
    tune,
    tune_candidates,
)

_ids = st.lists(st.sampled_from([f"d{i}" for i in range(25)]), max_size=20)


@settings(max_examples=150, deadline=None)
@given(
    ranked=_ids,
    judged=st.dictionaries(
        st.sampled_from([f"d{i}" for i in range(25)]), st.integers(1, 3), min_size=1, max_size=8
    ),
)
def test_ndcg_matches_trec_eval(ranked: list[str], judged: dict[str, int]) -> None:
    ours = ndcg_at(ranked, judged, 10)
    theirs = score_run({"q": judged}, {"q": ranked}, {"n": "nDCG@10"})["n"]
    assert ours == pytest.approx(theirs, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    ids=st.sets(st.text(min_size=1, max_size=4), min_size=2, max_size=40),
    folds=st.integers(2, 7),
    seed=st.integers(0, 5),
)
def test_folds_partition_deterministically(ids: set[str], folds: int, seed: int) -> None:
    parts = assign_folds(ids, folds, seed)
    flat = [q for p in parts for q in p]
    assert sorted(flat) == sorted(ids)  # a partition: every id once
    assert len(parts) == min(folds, len(ids))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert assign_folds(sorted(ids, reverse=True), folds, seed) == parts  # order-free


def test_folds_depend_on_seed() -> None:
    ids = [f"q{i}" for i in range(50)]
    assert assign_folds(ids, 5, 0) != assign_folds(ids, 5, 1)


@settings(max_examples=100, deadline=None)
@given(
    method=st.sampled_from(["rrf", "relative_score", "dbsf", "weighted"]),
    w=st.integers(0, 10),
    depth=st.integers(1, 200),
    c=st.integers(0, 100),
)
def test_setting_round_trips(method: str, w: int, depth: int, c: int) -> None:
    s = FusionSetting(method, w / 10, depth, c)
    assert FusionSetting.from_dict(s.to_dict()) == s
    assert sum(s.weights) == pytest.approx(1.0)


def test_setting_rejects_bad_values() -> None:
    for bad in ({"method": "max"}, {"dense_weight": 1.5}, {"depth": 0}, {"nope": 1}):
        with pytest.raises(ValueError):
            FusionSetting.from_dict({**DEFAULT_SETTING.to_dict(), **bad})


def test_grid_puts_the_default_first_and_ties_keep_it() -> None:
    grid = setting_grid()
    assert grid[0] == DEFAULT_SETTING and len(set(grid)) == len(grid)
    assert tune(["a", "b"], lambda s, q: 0.5, grid) == DEFAULT_SETTING


# ----------------------------------------------------------------- planted leak

A, B, C, D, E = (FusionSetting("rrf", w / 10, 50) for w in range(5))
GRID = [A, B, C, D, E]
QUERIES = [f"q{i:02d}" for i in range(50)]


def _opposite_world() -> tuple[ScoreFn, list[list[str]]]:
    """Fold f's queries score 1 only under GRID[f]: the other folds never prefer it."""
    parts = assign_folds(QUERIES, 5, seed=3)
    pref = {q: GRID[f] for f, part in enumerate(parts) for q in part}
    return (lambda s, q: 1.0 if s == pref[q] else 0.0), parts


def _leaky_tune(ids: Sequence[str], score: ScoreFn, grid: Sequence[FusionSetting]) -> FusionSetting:
    """A planted leak: tunes on every query, the held-out fold included."""
    return tune(QUERIES, score, grid)


def _assert_honest(tuner: object) -> None:
    score, parts = _opposite_world()
    cv = cross_validate(QUERIES, score, GRID, folds=5, seed=3, tuner=tuner)  # type: ignore[arg-type]
    assert [list(p) for p in cv.folds] == parts
    # each fold's held-out queries prefer a setting no other fold prefers: an honest
    # tuner can never pick it, so every held-out score is 0
    assert cv.score == 0.0
    for part, chosen in zip(parts, cv.fold_settings, strict=True):
        assert chosen != GRID[parts.index(part)]


def test_cross_validation_scores_the_other_folds_choice() -> None:
    _assert_honest(tune)
    score, _ = _opposite_world()
    assert cross_validate(QUERIES, score, GRID, folds=5, seed=3).setting == A  # all: a tie


def test_a_leaky_tuner_fails_the_check() -> None:
    with pytest.raises(AssertionError):
        _assert_honest(_leaky_tune)


def _seen_by_tuner(tuner: object) -> list[tuple[set[str], set[str]]]:
    """For each tuning round: (ids the tuner scored, ids of the round's held-out fold)."""
    rounds: list[set[str]] = []

    def recording(
        ids: Sequence[str], score: ScoreFn, grid: Sequence[FusionSetting]
    ) -> FusionSetting:
        seen: set[str] = set()
        rounds.append(seen)

        def spy(s: FusionSetting, q: str) -> float:
            seen.add(q)
            return score(s, q)

        return tuner(ids, spy, grid)  # type: ignore[operator]

    score, _ = _opposite_world()
    cv = cross_validate(QUERIES, score, GRID, folds=5, seed=3, tuner=recording)
    assert len(rounds) == len(cv.folds) + 1  # one per fold, then the final one on all
    return [(rounds[i], set(fold)) for i, fold in enumerate(cv.folds)]


def test_the_tuner_never_sees_a_held_out_id() -> None:
    for seen, held_out in _seen_by_tuner(tune):
        assert seen and not seen & held_out


def test_the_spy_catches_a_leaky_tuner() -> None:
    assert all(seen & held_out for seen, held_out in _seen_by_tuner(_leaky_tune))


# ----------------------------------------------------------------- candidates


def _world(n: int = 40) -> tuple[dict[str, Candidates], dict[str, dict[str, int]]]:
    """Lexical ranks the relevant document first; dense ranks it 30th (a weak side)."""
    cands, qrels = {}, {}
    for i in range(n):
        rel = f"rel{i}"
        others = [f"x{i}_{j}" for j in range(60)]
        lexical = [(rel, 20.0)] + [(d, 10.0 - j * 0.1) for j, d in enumerate(others)]
        dense_ids = [*others[:29], rel, *others[29:]]
        dense = [(d, 0.9 - j * 0.001) for j, d in enumerate(dense_ids)]
        cands[f"q{i}"] = Candidates(dense=dense, lexical=lexical)
        qrels[f"q{i}"] = {rel: 1}
    return cands, qrels


def test_tuning_does_not_lose_to_the_strong_side() -> None:
    cands, qrels = _world()
    rrf = FusionSetting("rrf")
    hybrid = sum(ndcg_at(fused_ranking(c, rrf, 10), qrels[q]) for q, c in cands.items())
    assert hybrid / len(cands) < 1.0  # equal-weight RRF lets the weak side in
    cv = tune_candidates(cands, qrels, setting_grid(first=rrf), folds=4)
    assert cv.score == pytest.approx(1.0)
    assert cv.setting.dense_weight < 0.5 or cv.setting.method != "rrf"


def test_the_default_is_not_trapped_by_a_weak_side() -> None:
    cands, qrels = _world()
    default = sum(
        ndcg_at(fused_ranking(c, DEFAULT_SETTING, 10), qrels[q]) for q, c in cands.items()
    )
    assert DEFAULT_SETTING.method == "dbsf"
    assert default / len(cands) == pytest.approx(1.0)  # the lexical side's clear lead survives


def test_a_lucky_setting_does_not_displace_the_default() -> None:
    grid = [FusionSetting("dbsf"), FusionSetting("rrf"), FusionSetting("relative_score")]
    ids = [f"q{i}" for i in range(20)]
    noise = {q: (0.3 if i % 2 else -0.28) for i, q in enumerate(ids)}  # mean gain 0.01, se ~0.07

    def score(setting: FusionSetting, q: str) -> float:
        return 0.5 + (noise[q] if setting.method == "rrf" else 0.0)

    assert tune(ids, score, grid) == grid[0]
    assert tune(ids, score, grid, min_gain_se=0) == grid[1]  # the plain argmax would switch

    def clear(setting: FusionSetting, q: str) -> float:
        return 0.5 + (0.1 + noise[q] / 10 if setting.method == "rrf" else 0.0)

    assert tune(ids, clear, grid) == grid[1]


def test_a_tiny_consistent_gain_on_few_queries_keeps_the_default() -> None:
    """A weight step gains a little on every query: a paired test would call that clear,
    the one-SE rule (SE of the best setting's own scores) does not."""
    grid = [FusionSetting("dbsf"), FusionSetting("dbsf", 0.6)]
    ids = [f"q{i}" for i in range(40)]
    base = {q: (i % 5) / 5 for i, q in enumerate(ids)}  # queries differ a lot

    def score(setting: FusionSetting, q: str) -> float:
        return base[q] + (0.01 if setting == grid[1] else 0.0)

    assert tune(ids, score, grid) == grid[0]
    assert tune(ids, score, grid, min_gain_se=0) == grid[1]


def test_depth_cuts_each_side() -> None:
    cands, _ = _world(1)
    ids = fused_ranking(cands["q0"], FusionSetting("rrf", 1.0, 10), k=None)
    assert len(ids) == 10 and "rel0" not in ids  # the dense side's 30th is beyond depth 10
