"""The one metadata-value rule (``records.metadata_value``): the write path and Chroma's reads."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np
import pytest

from manifold_core.records import clean_metadata, metadata_value, scalar_value


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([], None),
        ((), None),
        (None, None),
        (("a", "b"), ["a", "b"]),
        (np.array([1, 2]), [1, 2]),
        (np.float32(0.5), 0.5),
        (np.bool_(True), True),
        (Level.HIGH, 3),
        ([Level.HIGH, 1], [3, 1]),
    ],
)
def test_values_are_normalised_the_same_on_write_and_on_read(value: Any, expected: Any) -> None:
    for stored in (False, True):
        got = metadata_value(value, "v", stored=stored)
        assert got == expected
        assert type(got) is type(expected)
        if isinstance(got, list):
            assert [type(v) for v in got] == [type(v) for v in expected]


@pytest.mark.parametrize(
    "value", [np.float32("nan"), float("inf"), np.float64("-inf"), [1.0, np.float32("nan")]]
)
def test_non_finite_is_refused_on_write_and_absent_on_read(value: Any) -> None:
    with pytest.raises(ValueError, match="not finite"):
        metadata_value(value, "v")
    with pytest.raises(ValueError, match=r"metadatas\[2\]\['f'\].*not finite"):
        clean_metadata({"f": value}, 2)
    assert metadata_value(value, "v", stored=True) is None


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"d": 1}, "not a str, int, float or bool"),
        ([1, "a"], "mixes value types"),
        ([1, True], "mixes value types"),
        (2**63, "does not fit in 64 bits"),
        ([[1]], r"v\[0\] has type list"),
        ("lone \ud800", "surrogate"),
    ],
)
def test_wrong_values_raise_on_write_and_on_read(value: Any, needle: str) -> None:
    for stored in (False, True):
        with pytest.raises(ValueError, match=needle):
            metadata_value(value, "v", stored=stored)


def test_scalar_rule_is_the_operand_rule() -> None:
    assert scalar_value(np.int64(5), "x") == 5
    with pytest.raises(ValueError, match="x has type NoneType"):
        scalar_value(None, "x")


def test_clean_metadata_drops_no_value_keys_and_returns_none_when_empty() -> None:
    assert clean_metadata({"a": [], "b": None}, 0) is None
    assert clean_metadata({"a": (1, 2), "b": None, "c": "x"}, 0) == {"a": [1, 2], "c": "x"}
