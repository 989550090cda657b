"""The filter AST (:class:`Comparison`, :class:`Logical`) and the parser of a ``where`` dict.

:func:`parse_where` is the one parser of Chroma's ``where`` syntax: it validates keys,
operators and operands as Chroma would (and a little stricter) and raises ``ValueError``
naming the bad part, so a filter fails here rather than inside Chroma. Operands follow the
scalar rule of :mod:`manifold_core.records` (one rule for what a value may be).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from manifold_core.records import Scalar, scalar_value

__all__ = [
    "FIELD_OPERATORS",
    "LOGICAL_OPERATORS",
    "RANGE_OPERATORS",
    "Comparison",
    "Logical",
    "Node",
    "check_key",
    "check_operand",
    "combine",
    "parse_where",
    "type_name",
]

FIELD_OPERATORS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$contains",
    "$not_contains",
)
LOGICAL_OPERATORS = ("$and", "$or")
RANGE_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
_NEGATION = {
    "$eq": "$ne",
    "$ne": "$eq",
    "$in": "$nin",
    "$nin": "$in",
    "$contains": "$not_contains",
    "$not_contains": "$contains",
    "$gt": "$lte",
    "$lte": "$gt",
    "$lt": "$gte",
    "$gte": "$lt",
}


def type_name(value: object) -> str:
    """The type's name, for error messages."""
    return type(value).__name__


@dataclass(frozen=True)
class Comparison:
    """One field condition: ``{key: {op: value}}``; ``value`` is a tuple for $in/$nin."""

    key: str
    op: str
    value: Scalar | tuple[Scalar, ...]

    def to_where(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {self.key: {self.op: value}}

    def negate(self) -> Comparison:
        return Comparison(self.key, _NEGATION[self.op], self.value)


@dataclass(frozen=True)
class Logical:
    """``$and``/``$or`` over two or more children."""

    op: Literal["$and", "$or"]
    children: tuple[Comparison | Logical, ...]

    def to_where(self) -> dict[str, Any]:
        return {self.op: [child.to_where() for child in self.children]}

    def negate(self) -> Logical:
        other: Literal["$and", "$or"] = "$or" if self.op == "$and" else "$and"
        return Logical(other, tuple(child.negate() for child in self.children))


Node = Comparison | Logical


def combine(op: Literal["$and", "$or"], nodes: Iterable[Node]) -> Node:
    """Flatten same-operator children and unwrap a single child."""
    flat: list[Node] = []
    for node in nodes:
        if isinstance(node, Logical) and node.op == op:
            flat.extend(node.children)
        else:
            flat.append(node)
    if not flat:
        raise ValueError(f"{op} needs at least one condition")
    return flat[0] if len(flat) == 1 else Logical(op, tuple(flat))


def _non_empty_list(value: object, needs: str, empty: str) -> list[Any] | tuple[Any, ...]:
    """``value`` if it is a non-empty list or tuple; else ``needs`` (naming the value) or
    ``empty`` as a ``ValueError``."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{needs}, got {value!r} ({type_name(value)})")
    if not value:
        raise ValueError(empty)
    return value


def _check_scalar(key: str, op: str, operand: object) -> Scalar:
    if operand is None:
        raise ValueError(
            f"operator {op} on key {key!r} got None; Chroma cannot match None (a record "
            "without the key is matched by $ne/$nin with any value)"
        )
    return scalar_value(operand, f"operator {op} on key {key!r}")


def check_operand(key: str, op: str, operand: object) -> Scalar | tuple[Scalar, ...]:
    """Validate one operand as Chroma does (and a little stricter); return it normalised."""
    if op in ("$in", "$nin"):
        operands = _non_empty_list(
            operand,
            f"operator {op} on key {key!r} needs a non-empty list of str, int, float or bool",
            f"operator {op} on key {key!r} got an empty list; Chroma rejects it (drop the "
            "condition, or use a value that matches nothing)",
        )
        items = tuple(_check_scalar(key, op, v) for v in operands)
        first = type(items[0])
        if any(type(v) is not first for v in items):
            raise ValueError(
                f"operator {op} on key {key!r} needs values of one type (Chroma rejects mixed "
                f"lists, even int with float or bool with int), got {list(operands)!r}"
            )
        return items
    value = _check_scalar(key, op, operand)
    if op in RANGE_OPERATORS and isinstance(value, (bool, str)):
        raise ValueError(
            f"operator {op} on key {key!r} needs an int or float, got {operand!r} "
            f"({type_name(operand)}); Chroma compares numbers only"
        )
    return value


def check_key(key: object) -> str:
    """A metadata key a filter may read, or a ``ValueError`` with a hint."""
    if not isinstance(key, str):
        raise ValueError(f"filter keys must be str, got {key!r} ({type_name(key)})")
    if key.startswith("#"):
        raise ValueError(
            f"filter key {key!r} addresses document text, not metadata; the lexical index "
            "cannot mirror it (use the query text, or Chroma's where_document directly)"
        )
    if key.startswith("$"):
        raise ValueError(
            f"unknown logical operator {key!r}: use one of {', '.join(LOGICAL_OPERATORS)} at "
            f"the top level, or {', '.join(FIELD_OPERATORS)} inside a field expression "
            "(LlamaIndex NOT: use from_llamaindex, which rewrites it by De Morgan)"
        )
    return key


def _field(field: str, value: object, path: str) -> Comparison:
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise ValueError(
                f"field {field!r} in filter {path} needs exactly one operator, got "
                f"{dict(value)!r}; write {{'$and': [{{{field!r}: {{op1: v1}}}}, "
                f"{{{field!r}: {{op2: v2}}}}]}} for several"
            )
        ((op, operand),) = value.items()
        if op not in FIELD_OPERATORS:
            raise ValueError(
                f"unknown operator {op!r} on key {field!r}; use one of {', '.join(FIELD_OPERATORS)}"
            )
        return Comparison(field, op, check_operand(field, op, operand))
    if isinstance(value, (list, tuple)):
        raise ValueError(
            f"key {field!r} got a bare list {list(value)!r}; use {{'$in': [...]}} to match "
            "any of several values, or {'$contains': v} to test a list-valued field"
        )
    return Comparison(field, "$eq", check_operand(field, "$eq", value))


def parse_where(where: object, path: str = "where") -> Node:
    """The AST of a non-empty ``where`` dict (``path`` names it in error messages).

    Several keys at one level mean ``$and``; a one-item ``$and``/``$or`` is unwrapped.
    """
    if not isinstance(where, Mapping):
        raise ValueError(
            f"filter {path} must be a dict like {{'year': 2022}} or {{'$and': [...]}}, "
            f"got {where!r} ({type_name(where)})"
        )
    if not where:
        raise ValueError(
            f"filter {path} is an empty dict; remove it (an empty filter at the "
            "top level means no filter)"
        )
    nodes: list[Node] = []
    for key, value in where.items():
        if key not in LOGICAL_OPERATORS:
            nodes.append(_field(check_key(key), value, path))
            continue
        items = _non_empty_list(
            value,
            f"{key} in filter {path} needs a list of filters",
            f"{key} in filter {path} got an empty list; give it at least one filter",
        )
        children = [parse_where(item, f"{path}.{key}[{i}]") for i, item in enumerate(items)]
        nodes.append(combine(key, children))
    return combine("$and", nodes)
