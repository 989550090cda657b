"""Fusion: exact values on small cases and invariances on random ranked lists."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.fusion import FUSION_METHODS, fuse

IDS = st.sampled_from([f"d{i}" for i in range(12)])
SCORES = st.floats(min_value=-5, max_value=5, allow_nan=False, allow_infinity=False)


@st.composite
def ranked_list(draw: st.DrawFn) -> list[tuple[str, float]]:
    ids = draw(st.lists(IDS, unique=True, max_size=8))
    scores = sorted((draw(SCORES) for _ in ids), reverse=True)
    return list(zip(ids, scores, strict=True))


LISTS = st.lists(ranked_list(), min_size=1, max_size=4)
METHODS = st.sampled_from(FUSION_METHODS)


def _as_pairs(items: list) -> list[tuple[str, float]]:
    return [(it.id, it.score) for it in items]


def test_rrf_scores_are_weighted_reciprocal_ranks() -> None:
    out = fuse([[("a", 9.0), ("b", 8.0)], [("b", 0.5), ("c", 0.1)]], weights=[1.0, 2.0])
    scores = {it.id: it.score for it in out}
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["b"] == pytest.approx(1 / 62 + 2 / 61)
    assert scores["c"] == pytest.approx(2 / 62)
    assert [it.id for it in out] == ["b", "c", "a"]
    b = out[0]
    assert b.ranks == (2, 1) and b.scores == (8.0, 0.5)
    assert out[2].ranks == (1, None) and out[2].scores == (9.0, None)


def test_c_changes_rrf_curve() -> None:
    out = fuse([[("a", 1.0), ("b", 0.0)]], c=0)
    assert [it.score for it in out] == pytest.approx([1.0, 0.5])


def test_relative_score_min_max_scales_each_list() -> None:
    out = fuse(
        [[("a", 10.0), ("b", 5.0), ("c", 0.0)], [("c", 0.9), ("a", 0.1)]],
        method="relative_score",
    )
    scores = {it.id: it.score for it in out}
    assert scores == pytest.approx({"a": 1.0, "b": 0.5, "c": 1.0})
    # tie between a and c at 1.0: both have best rank 1, so the id decides.
    assert [it.id for it in out] == ["a", "c", "b"]


def test_dbsf_uses_mean_plus_minus_three_sigma() -> None:
    scores = [3.0, 2.0, 1.0]
    mean, std = 2.0, math.sqrt(2 / 3)
    out = fuse([list(zip("abc", scores, strict=True))], method="dbsf")
    expected = [(s - (mean - 3 * std)) / (6 * std) for s in scores]
    assert [it.score for it in out] == pytest.approx(expected)


def test_weighted_sums_raw_scores() -> None:
    out = fuse([[("a", 0.8), ("b", 0.2)], [("b", 0.7)]], method="weighted", weights=[0.5, 1])
    assert {it.id: it.score for it in out} == pytest.approx({"a": 0.4, "b": 0.8})


def test_single_valued_list_scores_one() -> None:
    for method in ("relative_score", "dbsf"):
        out = fuse([[("a", 3.0), ("b", 3.0)]], method=method)
        assert [it.score for it in out] == [1.0, 1.0]


def test_duplicate_id_in_a_list_keeps_its_best_rank() -> None:
    out = fuse([[("a", 2.0), ("b", 1.0), ("a", 0.5)]])
    assert out[0].id == "a" and out[0].ranks == (1,)
    assert out[1].ranks == (2,)


def test_k_truncates() -> None:
    assert len(fuse([[("a", 1.0), ("b", 0.5), ("c", 0.1)]], k=2)) == 2


def test_empty_input() -> None:
    assert fuse([]) == []
    assert fuse([[], []]) == []


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"method": "borda"}, "'borda'"),
        ({"weights": [1.0]}, "1 weights for 2"),
        ({"weights": [1.0, -1.0]}, "weights[1]"),
        ({"weights": [0, 0]}, "at least one weight"),
        ({"weights": [1.0, float("nan")]}, "weights[1]"),
        ({"k": 0}, "k must be"),
        ({"c": -1}, "c must be"),
    ],
)
def test_bad_arguments_name_the_bad_value(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        fuse([[("a", 1.0)], [("b", 1.0)]], **kwargs)


def test_non_finite_score_is_rejected() -> None:
    with pytest.raises(ValueError, match="'x'"):
        fuse([[("x", float("nan"))]], method="relative_score")


@settings(max_examples=150, deadline=None)
@given(lists=LISTS, method=METHODS, data=st.data())
def test_permuting_lists_with_their_weights_changes_nothing(
    lists: list, method: str, data: st.DataObject
) -> None:
    weights = [data.draw(st.floats(0.1, 3.0)) for _ in lists]
    perm = data.draw(st.permutations(range(len(lists))))
    a = fuse(lists, method=method, weights=weights)
    b = fuse([lists[i] for i in perm], method=method, weights=[weights[i] for i in perm])
    assert _as_pairs(a) == _as_pairs(b)
    for x, y in zip(a, b, strict=True):
        assert x.ranks == tuple(y.ranks[perm.index(i)] for i in range(len(lists)))


@settings(max_examples=150, deadline=None)
@given(lists=LISTS, method=METHODS, data=st.data())
def test_zero_weight_drops_a_list(lists: list, method: str, data: st.DataObject) -> None:
    lists = [*lists, data.draw(ranked_list())]
    weights = [data.draw(st.floats(0.1, 3.0)) for _ in lists[:-1]]
    with_zero = fuse(lists, method=method, weights=[*weights, 0.0])
    without = fuse(lists[:-1], method=method, weights=weights)
    assert _as_pairs(with_zero) == _as_pairs(without)


@settings(max_examples=150, deadline=None)
@given(lists=LISTS, method=METHODS, scale=st.floats(0.1, 10.0))
def test_scaling_all_weights_keeps_the_order(lists: list, method: str, scale: float) -> None:
    a = fuse(lists, method=method)
    b = fuse(lists, method=method, weights=[scale] * len(lists))
    assert [it.id for it in a] == [it.id for it in b]


@settings(max_examples=150, deadline=None)
@given(lists=LISTS, method=METHODS)
def test_output_is_sorted_unique_and_covers_every_id(lists: list, method: str) -> None:
    out = fuse(lists, method=method)
    ids = [it.id for it in out]
    assert len(ids) == len(set(ids))
    assert set(ids) == {d for lst in lists for d, _ in lst}
    assert all(x.score >= y.score for x, y in itertools.pairwise(out))
    assert fuse(lists, method=method) == out  # deterministic


@settings(max_examples=100, deadline=None)
@given(lists=LISTS)
def test_rrf_ignores_score_values(lists: list) -> None:
    rescored = [[(d, -float(i)) for i, (d, _) in enumerate(lst)] for lst in lists]
    assert _as_pairs(fuse(lists)) == _as_pairs(fuse(rescored))


@settings(max_examples=100, deadline=None)
@given(lists=LISTS, method=st.sampled_from(["relative_score", "dbsf"]), a=st.floats(0.5, 4))
def test_normalised_methods_ignore_affine_rescaling(lists: list, method: str, a: float) -> None:
    # quarter steps keep score gaps far above float rounding
    lists = [[(d, round(s * 4) / 4) for d, s in lst] for lst in lists]
    rescaled = [[(d, a * s + 7.0) for d, s in lst] for lst in lists]
    x, y = fuse(lists, method=method), fuse(rescaled, method=method)
    assert [it.score for it in x] == pytest.approx([it.score for it in y], abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(lists=LISTS, method=METHODS, k=st.integers(1, 10))
def test_k_is_a_prefix_of_the_full_ranking(lists: list, method: str, k: int) -> None:
    assert fuse(lists, method=method, k=k) == fuse(lists, method=method)[:k]
