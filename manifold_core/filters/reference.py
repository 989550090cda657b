"""The reference semantics: whether one record's metadata satisfies a filter.

Plain Python over one metadata dict, written to read like the rules in
:mod:`manifold_core.filters`; the vectorised masks (:mod:`manifold_core.filters.masks`) must
agree with it, and both are pinned against a real Chroma collection by property tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manifold_core.filters.syntax import Logical, Node
from manifold_core.filters.values import FLOAT, INT, LIST, compare, scalar_kind, stored_value
from manifold_core.records import Scalar

__all__ = ["matches"]


def _num_match(kind: int, stored: Any, op: str, v: int | float) -> bool:
    """Chroma's numeric comparison (:func:`~manifold_core.filters.values.compare`); a value
    that is not an int or float never matches."""
    return kind in (INT, FLOAT) and bool(compare(kind, stored, op, v))


def _scalar_eq(kind: int, stored: Any, v: Scalar) -> bool:
    vk = scalar_kind(v)
    if vk in (INT, FLOAT):
        assert isinstance(v, (int, float))
        return _num_match(kind, stored, "$eq", v)
    return kind == vk and stored == v


def matches(node: Node, metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` (one record's, as Chroma holds it) satisfies ``node``."""
    if isinstance(node, Logical):
        if node.op == "$and":
            return all(matches(c, metadata) for c in node.children)
        return any(matches(c, metadata) for c in node.children)
    kind, stored = stored_value(metadata.get(node.key), node.key)
    op, v = node.op, node.value
    if op in ("$eq", "$ne"):
        assert not isinstance(v, tuple)
        hit = _scalar_eq(kind, stored, v)
        return hit if op == "$eq" else not hit
    if op in ("$in", "$nin"):
        assert isinstance(v, tuple)
        hit = any(_scalar_eq(kind, stored, item) for item in v)
        return hit if op == "$in" else not hit
    if op in ("$contains", "$not_contains"):
        vk = scalar_kind(v)
        hit = kind == LIST and any(scalar_kind(e) == vk and e == v for e in stored)
        return hit if op == "$contains" else not hit
    assert isinstance(v, (int, float)) and not isinstance(v, bool)
    return _num_match(kind, stored, op, v)
