"""Is one system really better than another on the same questions? A paired bootstrap interval.

Two chunkers (or pipelines) scored on the same questions give two lists of per-question
scores. Their mean difference alone says nothing about chance: on 70 questions one
question is 0.014 of a mean recall. :func:`paired_difference` resamples the *questions*
(each question's difference ``a - b``, so each question is compared with itself) and
returns the mean difference with its percentile bootstrap interval
(:func:`scipy.stats.bootstrap`). An interval that excludes 0 is a difference the data
support; one that contains 0 is a tie at that level. Pure and seeded: the same inputs
give the same interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

__all__ = ["PairedDifference", "paired_difference"]

Verdict = Literal["better", "worse", "tie"]


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``a - b`` over questions, and its bootstrap interval at ``level``."""

    mean: float
    low: float
    high: float
    level: float
    n: int

    @property
    def verdict(self) -> Verdict:
        """``better`` (interval above 0), ``worse`` (below 0) or ``tie`` (contains 0)."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "tie"

    def to_dict(self) -> dict[str, float | int | str]:
        """Plain data for JSON: the fields and the verdict."""
        return {**asdict(self), "verdict": self.verdict}

    def text(self, digits: int = 3) -> str:
        """``+0.012 [-0.020, +0.045]``: the mean and the interval, signed."""
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"

    def __str__(self) -> str:
        return self.text()


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> PairedDifference:
    """The mean per-question difference ``a - b`` with a paired bootstrap interval.

    Args:
        a, b: per-question scores of two systems, the same questions in the same order.
        level: confidence level of the interval, ``0 < level < 1``.
        resamples: bootstrap resamples of the questions.
        seed: the resampling seed (the interval is reproducible).

    Raises:
        ValueError: the lists differ in length, are empty, or hold a non-finite score;
            ``level`` or ``resamples`` is out of range.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be two lists of equal length, got {x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("a and b are empty: no question to compare on")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("a and b must hold finite scores")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples must be an int >= 1, got {resamples!r}")
    diff = x - y
    mean = float(diff.mean())
    if np.all(diff == diff[0]):  # every resample has the same mean: the interval is a point
        return PairedDifference(mean, mean, mean, level, int(x.size))
    from scipy.stats import bootstrap

    res = bootstrap(
        (diff,),
        np.mean,
        confidence_level=level,
        n_resamples=resamples,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    # the percentile interval brackets the mean up to float rounding; keep low <= mean <= high
    return PairedDifference(mean, min(low, mean), max(high, mean), level, int(x.size))
