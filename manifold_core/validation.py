"""Argument checks shared by the whole core: one rule each, one message each.

Library functions name their own parameters (``k must be a positive int``); wording in terms
of command-line flags belongs to the CLI.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

__all__ = ["check_weights", "optional_positive_int", "positive_int"]

_WORDS = {1: "one", 2: "two", 3: "three"}


def positive_int(value: Any, name: str) -> int:
    """``value`` as an ``int`` if it is a whole number > 0 (not a bool), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def optional_positive_int(value: Any, name: str) -> int | None:
    """:func:`positive_int`, letting ``None`` (no limit) through."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")
    return int(value)


def check_weights(
    weights: Sequence[float] | None, n: int, names: Sequence[str] = ()
) -> list[float]:
    """One finite weight >= 0 per list (``None``: all 1.0), at least one of them > 0.

    ``names`` (optional, one per list) only shapes the error message.
    """
    if weights is None:
        return [1.0] * n
    try:
        out = [] if isinstance(weights, (str, bytes)) else list(weights)
    except TypeError:
        out = []
    if len(out) != n:
        if names:
            count = _WORDS.get(n, str(n))
            raise ValueError(
                f"weights must be {count} numbers ({', '.join(names)}), got {weights!r}"
            )
        raise ValueError(f"got {len(out)} weights for {n} ranked lists; give one per list")
    checked: list[float] = []
    for i, w in enumerate(out):
        label = f"the {names[i]} weight" if names else f"weights[{i}]"
        if isinstance(w, bool) or not isinstance(w, numbers.Real):
            raise ValueError(f"{label} must be a number, got {w!r}")
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"{label} must be a finite number >= 0, got {w!r}")
        checked.append(float(w))
    if n and not any(w > 0 for w in checked):
        raise ValueError(f"at least one weight must be > 0, got {out!r}")
    return checked
