"""Stored metadata values as the filters see them: kinds, normalisation, numeric comparison.

A value Chroma holds is one of a few *kinds* (one byte per row and key in the columnar
table). :func:`stored_value` maps a metadata value to its kind with the one metadata-value
rule of :mod:`manifold_core.records` (``stored=True``: NaN, infinities, ``None`` and ``[]``
are absent keys, as Chroma holds them). :func:`compare` is the one numeric comparison, used
by the per-record reference and the vectorised masks alike, on Python numbers or numpy
arrays.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from manifold_core.records import metadata_value

__all__ = [
    "BOOL",
    "FLOAT",
    "INT",
    "INT64_MAX",
    "INT64_MIN",
    "LIST",
    "MISSING",
    "NUMERIC_OPERATORS",
    "STR",
    "compare",
    "scalar_kind",
    "stored_value",
    "trunc_sat",
]

# Kinds of a stored value, one byte per row and key.
MISSING, BOOL, INT, FLOAT, STR, LIST = 0, 1, 2, 3, 4, 5
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "$eq": operator.eq,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
NUMERIC_OPERATORS = tuple(_COMPARE)
_KINDS = {bool: BOOL, int: INT, float: FLOAT, str: STR}  # of the exact types the rule returns
"""The operators :func:`compare` evaluates: ``$eq`` and the ranges."""


def scalar_kind(value: object) -> int:
    """The kind of a scalar operand or list element; MISSING when it is not a scalar."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    return MISSING


def stored_value(value: object, key: str | None = None) -> tuple[int, Any]:
    """``(kind, value)`` of a metadata value the way Chroma holds it.

    Follows :func:`manifold_core.records.metadata_value` with ``stored=True``: ``None``,
    ``[]``, NaN and infinities (also inside a list) give ``(MISSING, None)``; numpy scalars
    become Python ones, tuples lists. Wrong types, mixed lists and ints outside 64 bits raise
    ``ValueError`` (naming ``key`` when given): Chroma never returns them, so they are a bug.
    """
    try:
        v = metadata_value(value, "metadata value", stored=True)
    except ValueError:
        if key is None:
            raise
        metadata_value(value, f"metadata key {key!r}", stored=True)  # the error, naming it
        raise
    if v is None:
        return MISSING, None
    if type(v) is list:
        return LIST, v
    return _KINDS[type(v)], v


def trunc_sat(v: float) -> int:
    """A float operand as Chroma compares it with int values: truncated, saturated to int64.

    Chroma's Rust core casts the operand (``v as i64``), so ``{"a": 1.5}`` matches ``a == 1``
    and ``{"a": {"$gte": 1.5}}`` matches ``a == 1`` too. A quirk, mirrored so both agree.
    """
    return min(max(math.trunc(v), INT64_MIN), INT64_MAX)


def compare(kind: int, stored: Any, op: str, v: int | float) -> Any:
    """Chroma's numeric ``op`` between stored values of one ``kind`` and an operand.

    ``stored`` is one Python number or a numpy array of them (the result is a bool or a bool
    array). Int values (``kind == INT``) compare exactly, against a float operand truncated
    by :func:`trunc_sat`; float values compare with ``float(v)``. ``op`` is one of
    :data:`NUMERIC_OPERATORS`.
    """
    if kind == INT:
        operand: int | float = trunc_sat(v) if isinstance(v, float) else v
    else:
        operand = float(v)
    return _COMPARE[op](stored, operand)
