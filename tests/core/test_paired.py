"""The paired bootstrap interval of a mean difference (``manifold_core.paired``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.paired import paired_difference

scores = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(a=scores, shift=st.floats(-1.0, 1.0))
def test_a_constant_difference_is_a_point_interval(a: list[float], shift: float) -> None:
    d = paired_difference(np.asarray(a) + shift, a)
    assert math.isclose(d.mean, shift, abs_tol=1e-9)
    assert math.isclose(d.low, d.high, abs_tol=1e-9) and math.isclose(d.low, shift, abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=2, max_size=60))
def test_the_interval_holds_the_mean_and_flips_with_the_order(
    pairs: list[tuple[float, float]],
) -> None:
    a, b = (list(x) for x in zip(*pairs, strict=True))
    d = paired_difference(a, b, resamples=300)
    assert d.low <= d.mean <= d.high
    assert math.isclose(d.mean, float(np.mean(np.subtract(a, b))), abs_tol=1e-12)
    back = paired_difference(b, a, resamples=300)
    assert math.isclose(back.mean, -d.mean, abs_tol=1e-12)
    assert math.isclose(back.low, -d.high, abs_tol=1e-9)
    assert math.isclose(back.high, -d.low, abs_tol=1e-9)


def test_verdicts_follow_the_interval_not_the_mean() -> None:
    rng = np.random.default_rng(7)
    base = rng.random(80)
    better = base + 0.1 + rng.normal(0, 0.05, 80)
    assert paired_difference(better, base).verdict == "better"
    assert paired_difference(base, better).verdict == "worse"
    # one question of 80 won: a positive mean, but not a difference the data support
    one = base.copy()
    one[0] += 0.9
    d = paired_difference(one, base)
    assert d.mean > 0 and d.verdict == "tie"
    # the same inputs and seed give the same interval; a wider level a wider interval
    assert paired_difference(better, base) == paired_difference(better, base)
    narrow, wide = paired_difference(better, base, level=0.5), paired_difference(better, base)
    assert wide.low <= narrow.low and narrow.high <= wide.high
    assert paired_difference([0.5, 0.25], [0.25, 0.25]).text(2).startswith("+0.12 [")


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "message"),
    [
        ([1.0, 0.0], [1.0], {}, "equal length"),
        ([], [], {}, "empty"),
        ([float("nan")], [0.0], {}, "finite"),
        ([1.0], [0.0], {"level": 1.0}, "level"),
        ([1.0], [0.0], {"resamples": 0}, "resamples"),
    ],
)
def test_bad_input_is_refused(a: list[float], b: list[float], kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_difference(a, b, **kwargs)
