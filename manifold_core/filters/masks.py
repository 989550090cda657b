"""Vectorised evaluation: a filter over a whole :class:`MetadataTable` as a boolean mask.

The same semantics as the per-record reference (:mod:`manifold_core.filters.reference`),
with the same numeric comparison (:func:`~manifold_core.filters.values.compare`), run on the
table's typed columns; optionally only over candidate rows, so the lexical side filters only
what it scored.
"""

from __future__ import annotations

import numpy as np

from manifold_core.filters.syntax import Logical, Node
from manifold_core.filters.table import Column, MetadataTable
from manifold_core.filters.values import BOOL, FLOAT, INT, STR, compare, scalar_kind
from manifold_core.records import Scalar

__all__ = ["mask"]


def _pick(values: np.ndarray, idx: np.ndarray | None, n: int) -> np.ndarray:
    """The first ``n`` values (columns carry spare capacity), or those at ``idx``."""
    return values[:n] if idx is None else values[idx]


def _numeric_mask(
    table: MetadataTable, col: Column, idx: np.ndarray | None, op: str, v: int | float
) -> np.ndarray:
    kind = _pick(col.kind, idx, len(table))
    ival = _pick(col.ival, idx, len(table))
    fval = _pick(col.fval, idx, len(table))
    return ((kind == INT) & compare(INT, ival, op, v)) | (
        (kind == FLOAT) & compare(FLOAT, fval, op, v)
    )


def _eq_mask(table: MetadataTable, col: Column, idx: np.ndarray | None, v: Scalar) -> np.ndarray:
    kind = _pick(col.kind, idx, len(table))
    vk = scalar_kind(v)
    if vk == STR:
        assert isinstance(v, str)
        code = table.string_code(v)
        if code is None:
            return np.zeros(len(kind), dtype=bool)
        return (kind == STR) & (_pick(col.scode, idx, len(table)) == code)
    if vk == BOOL:
        return (kind == BOOL) & (_pick(col.ival, idx, len(table)) == int(v))
    assert isinstance(v, (int, float))
    return _numeric_mask(table, col, idx, "$eq", v)


def _contains_mask(
    table: MetadataTable, col: Column, idx: np.ndarray | None, v: Scalar
) -> np.ndarray:
    n = len(table) if idx is None else len(idx)
    vk = scalar_kind(v)
    if not len(col.lrows):
        return np.zeros(n, dtype=bool)
    if vk == STR:
        assert isinstance(v, str)
        code = table.string_code(v)
        if code is None:
            return np.zeros(n, dtype=bool)
        hit = (col.lkind == STR) & (col.lscode == code)
    elif vk == FLOAT:
        hit = (col.lkind == FLOAT) & (col.lfval == float(v))
    else:
        hit = (col.lkind == vk) & (col.lival == int(v))
    rows = col.lrows[hit]
    full = np.zeros(len(table), dtype=bool)
    full[rows[rows < len(table)]] = True
    return full if idx is None else full[idx]


def mask(node: Node, table: MetadataTable, idx: np.ndarray | None = None) -> np.ndarray:
    """Which of ``table``'s rows (or of the rows ``idx``, in that order) satisfy ``node``."""
    n = len(table) if idx is None else len(idx)
    if isinstance(node, Logical):
        out = mask(node.children[0], table, idx)
        for child in node.children[1:]:
            if node.op == "$and":
                out &= mask(child, table, idx)
            else:
                out |= mask(child, table, idx)
        return out
    col = table.column(node.key)
    op, v = node.op, node.value
    negate = op in ("$ne", "$nin", "$not_contains")
    if col is None:
        return np.full(n, negate, dtype=bool)
    if op in ("$eq", "$ne"):
        assert not isinstance(v, tuple)
        out = _eq_mask(table, col, idx, v)
    elif op in ("$in", "$nin"):
        assert isinstance(v, tuple)
        out = np.zeros(n, dtype=bool)
        for item in v:
            out |= _eq_mask(table, col, idx, item)
    elif op in ("$contains", "$not_contains"):
        assert not isinstance(v, tuple)
        out = _contains_mask(table, col, idx, v)
    else:
        assert isinstance(v, (int, float)) and not isinstance(v, bool)
        out = _numeric_mask(table, col, idx, op, v)
    return ~out if negate else out
