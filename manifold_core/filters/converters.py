"""Framework converters: LlamaIndex ``MetadataFilters`` and LangChain ``filter`` dicts.

Pure conversions into :class:`~manifold_core.filters.metadata_filter.MetadataFilter`,
duck-typed so that the core imports no framework; the adapters call them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manifold_core.filters.metadata_filter import MetadataFilter
from manifold_core.filters.syntax import (
    Comparison,
    Node,
    check_key,
    check_operand,
    combine,
    type_name,
)

__all__ = ["from_langchain", "from_llamaindex"]

_LLAMA_OPS = {
    "==": "$eq",
    "!=": "$ne",
    ">": "$gt",
    ">=": "$gte",
    "<": "$lt",
    "<=": "$lte",
    "in": "$in",
    "nin": "$nin",
    "contains": "$contains",
}


def _enum_value(x: Any) -> Any:
    return getattr(x, "value", x)


def _llama_node(filters: Any, path: str) -> Node | None:
    items = getattr(filters, "filters", None)
    if items is None:
        return _llama_leaf(filters, path)
    condition = str(_enum_value(getattr(filters, "condition", None) or "and")).lower()
    if condition not in ("and", "or", "not"):
        raise ValueError(f"LlamaIndex filter condition {condition!r} at {path} is not and/or/not")
    children = [
        node
        for i, item in enumerate(items)
        if (node := _llama_node(item, f"{path}.filters[{i}]")) is not None
    ]
    if not children:
        return None
    if condition == "not":
        # LlamaIndex: NOT matches when none of the filters match = AND of the negations.
        return combine("$and", [c.negate() for c in children])
    return combine("$and" if condition == "and" else "$or", children)


def _llama_leaf(f: Any, path: str) -> Node:
    key = getattr(f, "key", None)
    if key is None or not hasattr(f, "value"):
        raise ValueError(
            f"LlamaIndex filter at {path} must be a MetadataFilter (key, value, operator) or "
            f"MetadataFilters, got {f!r}"
        )
    key = check_key(key)
    op = str(_enum_value(getattr(f, "operator", "==") or "=="))
    value = f.value
    if op in ("any", "all"):
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise ValueError(f"LlamaIndex {op.upper()} filter on key {key!r} has an empty list")
        leaves = [Comparison(key, "$contains", check_operand(key, "$contains", v)) for v in values]
        return combine("$or" if op == "any" else "$and", leaves)
    if op in ("text_match", "text_match_insensitive", "is_empty"):
        hint = {
            "text_match": "Chroma's where has no substring match on metadata",
            "text_match_insensitive": "Chroma's where has no substring match on metadata",
            "is_empty": "Chroma's where cannot select a missing or empty key",
        }[op]
        raise ValueError(
            f"LlamaIndex operator {op.upper()} on key {key!r} cannot be expressed as a Chroma "
            f"filter ({hint}); use EQ/IN on exact values, or filter the results yourself"
        )
    chroma_op = _LLAMA_OPS.get(op)
    if chroma_op is None:
        raise ValueError(f"unknown LlamaIndex filter operator {op!r} on key {key!r}")
    return Comparison(key, chroma_op, check_operand(key, chroma_op, value))


def from_llamaindex(filters: Any) -> MetadataFilter | None:
    """Convert LlamaIndex ``MetadataFilters`` (duck-typed; no llama_index import).

    AND/OR nest; NOT ("none of these match") is rewritten by De Morgan (see
    :meth:`MetadataFilter.negate` for ranges); ANY/ALL become ``$or``/``$and`` of
    ``$contains``. TEXT_MATCH, TEXT_MATCH_INSENSITIVE and IS_EMPTY raise ``ValueError``:
    Chroma cannot express them, and silently dropping a filter would return wrong documents.
    """
    if filters is None:
        return None
    if isinstance(filters, MetadataFilter):
        return filters
    if isinstance(filters, Mapping):
        return MetadataFilter.parse(filters)
    node = _llama_node(filters, "filters")
    return None if node is None else MetadataFilter(node)


def from_langchain(filter: Mapping[str, Any] | MetadataFilter | None) -> MetadataFilter | None:
    """Convert LangChain's Chroma-style ``filter`` dict (the same syntax as ``where``)."""
    if filter is not None and not isinstance(filter, (Mapping, MetadataFilter)):
        raise ValueError(
            f"a LangChain filter must be a dict in Chroma's where syntax, got {filter!r} "
            f"({type_name(filter)})"
        )
    return MetadataFilter.parse(filter)
