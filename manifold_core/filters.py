"""One metadata-filter model with Chroma's ``where`` semantics, evaluated by us or by Chroma.

The dense side hands Chroma a ``where`` dict; the lexical side evaluates the *same* filter
itself over a columnar mirror of the metadata (:class:`MetadataTable`), because asking Chroma
for the ids that match a filter costs ~70 ms at 100k chunks. Both sides must agree exactly, so
the semantics below were measured on chromadb 1.5.9 and are pinned by property tests against a
real Chroma collection (``tests/core/test_filters.py``):

* ``$eq``/``$in`` compare scalars only. Numbers compare across int and float (``1 == 1.0``),
  but a bool is never a number (``True`` does not match ``1``) and a string never matches a
  number. A list-valued field never equals a scalar.
* ``$ne``/``$nin`` are the exact complements of ``$eq``/``$in``: they also match records that
  lack the key, hold another type, or hold a list.
* ``$gt``/``$gte``/``$lt``/``$lte`` need an int or float operand (not a bool) and match only
  records whose value is an int or float (not a bool, not a list).
* A float operand compared with an *int* value is first truncated toward zero (and
  saturated to 64 bits), because Chroma's Rust core casts it: ``{"a": 1.5}`` matches
  ``a = 1`` and ``{"a": {"$gte": 1.5}}`` matches ``a = 1``. An int operand compared with a
  float value is converted to float. A quirk of Chroma, mirrored so that both sides agree.
* ``$contains`` tests membership in a *list-valued* field with strict types (``1`` is in
  ``[1, 2]`` but not in ``[1.0]``; ``True`` is not in ``[1]``); on a scalar field it never
  matches (it is not a substring test). ``$not_contains`` is its complement.
* ``None``, NaN and infinite metadata values are stored by Chroma as absent keys.

Errors Chroma would raise (a one-key ``where``, ``$in`` lists of mixed types, a bool or string
in ``$gt``, ...) are raised here as ``ValueError`` before the filter reaches Chroma. Two
conveniences go beyond Chroma: several keys at the top level mean ``$and``, and a one-item
``$and``/``$or`` is unwrapped; :meth:`MetadataFilter.to_where` renders both in a form Chroma
accepts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

Scalar = str | int | float | bool
"""A metadata value Chroma can compare (``bool`` is kept distinct from ``int``)."""

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
_RANGE_OPS = ("$gt", "$gte", "$lt", "$lte")
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
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# Kinds of a stored value, one byte per row and key.
MISSING, BOOL, INT, FLOAT, STR, LIST = 0, 1, 2, 3, 4, 5


def _type_name(value: object) -> str:
    return type(value).__name__


def _scalar_kind(value: object) -> int:
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


def _normalise_value(value: object) -> tuple[int, Any]:
    """Map a metadata value to (kind, value) the way Chroma stores it.

    ``None``, NaN and infinities become MISSING (Chroma drops them); numpy scalars become
    Python ones. Ints outside int64 are refused: Chroma stores them as a float that is not
    even ``float(value)``, so no mirror could match it exactly.
    """
    if value is None:
        return MISSING, None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return BOOL, value
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return INT, value
        raise ValueError(
            f"integer {value} is outside the 64-bit range; Chroma would store an approximate "
            "float, so pass a float or a str instead"
        )
    if isinstance(value, float):
        return (FLOAT, value) if math.isfinite(value) else (MISSING, None)
    if isinstance(value, str):
        return STR, value
    if isinstance(value, (list, tuple)):
        items = [v.item() if isinstance(v, np.generic) else v for v in value]
        if not items:
            raise ValueError(
                "metadata list values must be non-empty (Chroma rejects []); drop the key instead"
            )
        first = _scalar_kind(items[0])
        if first == MISSING or any(_scalar_kind(v) != first for v in items):
            raise ValueError(
                f"metadata list value {value!r} must hold only str, int, float or bool, all of "
                "the same type (Chroma's rule)"
            )
        return LIST, items
    raise ValueError(
        f"metadata value {value!r} ({_type_name(value)}) is not a str, int, float, bool, list "
        "of those, or None; convert it (e.g. to a str) before adding it"
    )


def _check_operand(key: str, op: str, operand: object) -> Scalar | tuple[Scalar, ...]:
    """Validate one operand as Chroma does (and a little stricter); return it normalised."""
    if op in ("$in", "$nin"):
        if not isinstance(operand, (list, tuple)):
            raise ValueError(
                f"operator {op} on key {key!r} needs a non-empty list of str, int, float or "
                f"bool, got {operand!r} ({_type_name(operand)})"
            )
        if not operand:
            raise ValueError(
                f"operator {op} on key {key!r} got an empty list; Chroma rejects it (drop the "
                "condition, or use a value that matches nothing)"
            )
        items = tuple(_check_scalar(key, op, v) for v in operand)
        first = type(items[0])
        if any(type(v) is not first for v in items):
            raise ValueError(
                f"operator {op} on key {key!r} needs values of one type (Chroma rejects mixed "
                f"lists, even int with float or bool with int), got {list(operand)!r}"
            )
        return items
    value = _check_scalar(key, op, operand)
    if op in _RANGE_OPS and isinstance(value, (bool, str)):
        raise ValueError(
            f"operator {op} on key {key!r} needs an int or float, got {operand!r} "
            f"({_type_name(operand)}); Chroma compares numbers only"
        )
    return value


def _check_scalar(key: str, op: str, operand: object) -> Scalar:
    if isinstance(operand, np.generic):
        operand = operand.item()
    if isinstance(operand, (bool, str)):
        return operand
    if isinstance(operand, int):
        if not _INT64_MIN <= operand <= _INT64_MAX:
            raise ValueError(
                f"operator {op} on key {key!r}: integer {operand} is outside the 64-bit range "
                "Chroma stores; pass a float instead"
            )
        return operand
    if isinstance(operand, float):
        if not math.isfinite(operand):
            raise ValueError(
                f"operator {op} on key {key!r}: {operand!r} is not a finite number; Chroma "
                "rejects NaN and infinities"
            )
        return operand
    if operand is None:
        raise ValueError(
            f"operator {op} on key {key!r} got None; Chroma cannot match None (a record "
            "without the key is matched by $ne/$nin with any value)"
        )
    raise ValueError(
        f"operator {op} on key {key!r} needs a str, int, float or bool, got {operand!r} "
        f"({_type_name(operand)})"
    )


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise ValueError(f"filter keys must be str, got {key!r} ({_type_name(key)})")
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


def _combine(op: Literal["$and", "$or"], nodes: Iterable[Node]) -> Node:
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


def _parse_node(where: object, path: str) -> Node:
    if not isinstance(where, Mapping):
        raise ValueError(
            f"filter {path} must be a dict like {{'year': 2022}} or {{'$and': [...]}}, "
            f"got {where!r} ({_type_name(where)})"
        )
    if not where:
        raise ValueError(
            f"filter {path} is an empty dict; remove it (an empty filter at the "
            "top level means no filter)"
        )
    nodes: list[Node] = []
    for key, value in where.items():
        if key in LOGICAL_OPERATORS:
            if not isinstance(value, (list, tuple)):
                raise ValueError(
                    f"{key} in filter {path} needs a list of filters, got {value!r} "
                    f"({_type_name(value)})"
                )
            if not value:
                raise ValueError(
                    f"{key} in filter {path} got an empty list; give it at least one filter"
                )
            children = [_parse_node(item, f"{path}.{key}[{i}]") for i, item in enumerate(value)]
            nodes.append(_combine(key, children))
            continue
        field = _check_key(key)
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
                    f"unknown operator {op!r} on key {field!r}; use one of "
                    f"{', '.join(FIELD_OPERATORS)}"
                )
            nodes.append(Comparison(field, op, _check_operand(field, op, operand)))
        elif isinstance(value, (list, tuple)):
            raise ValueError(
                f"key {field!r} got a bare list {list(value)!r}; use {{'$in': [...]}} to match "
                "any of several values, or {'$contains': v} to test a list-valued field"
            )
        else:
            nodes.append(Comparison(field, "$eq", _check_operand(field, "$eq", value)))
    return _combine("$and", nodes)


@dataclass(frozen=True)
class MetadataFilter:
    """A parsed, validated metadata filter with Chroma's ``where`` semantics.

    Build one with :meth:`parse` (a ``where`` dict), :func:`from_llamaindex` or
    :func:`from_langchain`; render it for Chroma with :meth:`to_where`; evaluate it with
    :meth:`matches` (one record, the reference) or :meth:`mask` (a whole
    :class:`MetadataTable`, vectorised).
    """

    node: Node

    @classmethod
    def parse(cls, where: Mapping[str, Any] | MetadataFilter | None) -> MetadataFilter | None:
        """Parse and validate a Chroma ``where`` dict; ``None`` or ``{}`` mean no filter.

        Raises:
            ValueError: naming the bad key, operator or value, as Chroma would reject it.
        """
        if where is None or isinstance(where, MetadataFilter):
            return where
        if isinstance(where, Mapping) and not where:
            return None
        return cls(_parse_node(where, "where"))

    def to_where(self) -> dict[str, Any]:
        """A ``where`` dict Chroma accepts (explicit operators, binary-or-wider $and/$or)."""
        return self.node.to_where()

    def negate(self) -> MetadataFilter:
        """The negation by De Morgan, as Chroma can express it.

        ``$eq``/``$in``/``$contains`` flip exactly to their complements. A range flips to
        the opposite range (``NOT year > 2022`` becomes ``year <= 2022``), which, unlike a
        logical NOT, still excludes records lacking a numeric value: Chroma's ``where``
        cannot select a missing key.
        """
        return MetadataFilter(self.node.negate())

    def __and__(self, other: MetadataFilter) -> MetadataFilter:
        return MetadataFilter(_combine("$and", [self.node, other.node]))

    def __or__(self, other: MetadataFilter) -> MetadataFilter:
        return MetadataFilter(_combine("$or", [self.node, other.node]))

    @staticmethod
    def all_of(filters: Iterable[MetadataFilter | None]) -> MetadataFilter | None:
        """Conjunction of the given filters, ignoring ``None``; ``None`` when none is left."""
        nodes = [f.node for f in filters if f is not None]
        return MetadataFilter(_combine("$and", nodes)) if nodes else None

    def keys(self) -> set[str]:
        """The metadata keys the filter reads."""
        out: set[str] = set()
        stack: list[Node] = [self.node]
        while stack:
            node = stack.pop()
            if isinstance(node, Comparison):
                out.add(node.key)
            else:
                stack.extend(node.children)
        return out

    def matches(self, metadata: Mapping[str, Any] | None) -> bool:
        """Whether one record's metadata satisfies the filter (the reference semantics)."""
        return _matches(self.node, metadata or {})

    def mask(self, table: MetadataTable, rows: np.ndarray | None = None) -> np.ndarray:
        """Vectorised :meth:`matches` over ``table``'s rows (or only over ``rows``)."""
        idx = None if rows is None else np.asarray(rows, dtype=np.int64)
        return _mask(self.node, table, idx)

    def __repr__(self) -> str:
        return f"MetadataFilter({self.to_where()!r})"


# --- reference semantics ---------------------------------------------------------------


def _num_cmp(op: str, x: int | float, v: int | float) -> bool:
    if op == "$eq":
        return x == v
    if op == "$gt":
        return x > v
    if op == "$gte":
        return x >= v
    if op == "$lt":
        return x < v
    return x <= v


def _num_match(kind: int, stored: Any, op: str, v: int | float) -> bool:
    """Chroma's numeric comparison: ints exactly, an int value against a float operand after
    truncating the operand (:func:`_trunc_sat`), a float value against ``float(operand)``."""
    if kind == INT:
        return _num_cmp(op, stored, _trunc_sat(v) if isinstance(v, float) else v)
    if kind == FLOAT:
        return _num_cmp(op, stored, float(v))
    return False


def _scalar_eq(kind: int, stored: Any, v: Scalar) -> bool:
    vk = _scalar_kind(v)
    if vk in (INT, FLOAT):
        assert isinstance(v, (int, float))
        return _num_match(kind, stored, "$eq", v)
    return kind == vk and stored == v


def _matches(node: Node, metadata: Mapping[str, Any]) -> bool:
    if isinstance(node, Logical):
        if node.op == "$and":
            return all(_matches(c, metadata) for c in node.children)
        return any(_matches(c, metadata) for c in node.children)
    kind, stored = _normalise_value(metadata.get(node.key))
    op, v = node.op, node.value
    if op == "$eq":
        assert not isinstance(v, tuple)
        return _scalar_eq(kind, stored, v)
    if op == "$ne":
        assert not isinstance(v, tuple)
        return not _scalar_eq(kind, stored, v)
    if op in ("$in", "$nin"):
        assert isinstance(v, tuple)
        hit = any(_scalar_eq(kind, stored, item) for item in v)
        return hit if op == "$in" else not hit
    if op in ("$contains", "$not_contains"):
        vk = _scalar_kind(v)
        hit = kind == LIST and any(_scalar_kind(e) == vk and e == v for e in stored)
        return hit if op == "$contains" else not hit
    assert isinstance(v, (int, float)) and not isinstance(v, bool)
    return _num_match(kind, stored, op, v)


# --- columnar mirror -------------------------------------------------------------------


class _Column:
    """One key's values over all rows, typed, plus its list-valued entries."""

    __slots__ = ("fval", "ival", "kind", "lfval", "lival", "lkind", "lrows", "lscode", "scode")

    def __init__(self, capacity: int) -> None:
        self.kind = np.zeros(capacity, dtype=np.uint8)
        self.ival = np.zeros(capacity, dtype=np.int64)  # bool (0/1) and int values
        self.fval = np.zeros(capacity, dtype=np.float64)  # float values
        self.scode = np.full(capacity, -1, dtype=np.int32)  # string codes
        # list-valued fields: one entry per element
        self.lrows = np.zeros(0, dtype=np.int64)
        self.lkind = np.zeros(0, dtype=np.uint8)
        self.lival = np.zeros(0, dtype=np.int64)
        self.lfval = np.zeros(0, dtype=np.float64)
        self.lscode = np.zeros(0, dtype=np.int32)

    def grow(self, capacity: int) -> None:
        for name, fill in (("kind", 0), ("ival", 0), ("fval", 0.0), ("scode", -1)):
            old = getattr(self, name)
            new = np.full(capacity, fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def sliced(self, n: int) -> _Column:
        out = _Column.__new__(_Column)
        out.kind, out.ival, out.fval, out.scode = (
            self.kind[:n],
            self.ival[:n],
            self.fval[:n],
            self.scode[:n],
        )
        out.lrows, out.lkind, out.lival, out.lfval, out.lscode = (
            self.lrows,
            self.lkind,
            self.lival,
            self.lfval,
            self.lscode,
        )
        return out


class MetadataTable:
    """A compact columnar mirror of the metadata of N rows, so filters run vectorised.

    Each key gets typed numpy columns (kind, int/bool, float, string code) and, for
    list-valued fields, flat element arrays. Rows are appended in batches; :meth:`view`
    returns a read-only prefix that later appends do not disturb (the lexical index's
    snapshots rely on it), :meth:`take` a compacted copy. :meth:`set_rows`/:meth:`clear`
    rewrite rows in place.
    """

    FORMAT_VERSION: ClassVar[int] = 1

    def __init__(self) -> None:
        self._n = 0
        self._cap = 0
        self._columns: dict[str, _Column] = {}
        self._codes: dict[str, int] = {}
        self._strings: list[str] = []
        self._frozen = False

    def __len__(self) -> int:
        return self._n

    @property
    def keys(self) -> list[str]:
        """Keys that appear in at least one row (ever)."""
        return list(self._columns)

    def _code(self, s: str) -> int:
        code = self._codes.get(s)
        if code is None:
            code = len(self._strings)
            self._strings.append(s)
            self._codes[s] = code
        return code

    def _check_writable(self) -> None:
        if self._frozen:
            raise RuntimeError("this MetadataTable is a read-only view; write to its source")

    def _ensure_capacity(self, n: int) -> None:
        if n <= self._cap:
            return
        cap = max(n, 2 * self._cap, 1024)
        for col in self._columns.values():
            col.grow(cap)
        self._cap = cap

    def _column(self, key: str) -> _Column:
        col = self._columns.get(key)
        if col is None:
            col = _Column(self._cap)
            self._columns[key] = col
        return col

    def append(self, metadatas: Sequence[Mapping[str, Any] | None]) -> None:
        """Append one row per metadata mapping (``None`` or ``{}`` for a row without)."""
        self._check_writable()
        start = self._n
        self._ensure_capacity(start + len(metadatas))
        self._write(np.arange(start, start + len(metadatas), dtype=np.int64), metadatas)
        self._n = start + len(metadatas)

    def set_rows(self, rows: Sequence[int], metadatas: Sequence[Mapping[str, Any] | None]) -> None:
        """Replace the metadata of existing rows (in place: views see the change)."""
        self._check_writable()
        idx = self._check_rows(rows)
        if len(idx) != len(metadatas):
            raise ValueError(f"got {len(idx)} rows but {len(metadatas)} metadatas")
        self.clear(idx)
        self._write(idx, metadatas)

    def clear(self, rows: Sequence[int] | np.ndarray) -> None:
        """Make rows have no metadata (in place)."""
        self._check_writable()
        idx = self._check_rows(rows)
        if not len(idx):
            return
        for col in self._columns.values():
            col.kind[idx] = MISSING
            col.scode[idx] = -1
            if len(col.lrows):
                keep = ~np.isin(col.lrows, idx)
                col.lrows, col.lkind, col.lival, col.lfval, col.lscode = (
                    col.lrows[keep],
                    col.lkind[keep],
                    col.lival[keep],
                    col.lfval[keep],
                    col.lscode[keep],
                )

    def _check_rows(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= self._n):
            raise IndexError(f"row out of range 0..{self._n - 1}: {idx.tolist()[:5]}...")
        return idx

    def _write(self, rows: np.ndarray, metadatas: Sequence[Mapping[str, Any] | None]) -> None:
        # Gather per key first (validating everything) so a bad value writes nothing.
        scalars: dict[str, tuple[list[int], list[int], list[Any]]] = {}
        lists: dict[str, tuple[list[int], list[int], list[Any]]] = {}
        for row, meta in zip(rows.tolist(), metadatas, strict=True):
            if not meta:
                continue
            if not isinstance(meta, Mapping):
                raise ValueError(f"metadata must be a dict or None, got {meta!r}")
            for key, value in meta.items():
                if not isinstance(key, str):
                    raise ValueError(f"metadata keys must be str, got {key!r}")
                try:
                    kind, v = _normalise_value(value)
                except ValueError as exc:
                    raise ValueError(f"metadata key {key!r}: {exc}") from None
                if kind == MISSING:
                    continue
                if kind == LIST:
                    ek = _scalar_kind(v[0])
                    bucket = lists.setdefault(key, ([], [], []))
                    bucket[0].extend([row] * len(v))
                    bucket[1].extend([ek] * len(v))
                    bucket[2].extend(v)
                    bucket = scalars.setdefault(key, ([], [], []))
                    bucket[0].append(row)
                    bucket[1].append(LIST)
                    bucket[2].append(None)
                else:
                    bucket = scalars.setdefault(key, ([], [], []))
                    bucket[0].append(row)
                    bucket[1].append(kind)
                    bucket[2].append(v)
        for key, (rws, kinds, values) in scalars.items():
            col = self._column(key)
            r = np.asarray(rws, dtype=np.int64)
            k = np.asarray(kinds, dtype=np.uint8)
            col.kind[r] = k
            self._fill(col.ival, col.fval, col.scode, r, k, values, np.arange(len(r)))
        for key, (rws, kinds, values) in lists.items():
            col = self._column(key)
            r = np.asarray(rws, dtype=np.int64)
            k = np.asarray(kinds, dtype=np.uint8)
            ival = np.zeros(len(r), dtype=np.int64)
            fval = np.zeros(len(r), dtype=np.float64)
            scode = np.full(len(r), -1, dtype=np.int32)
            self._fill(ival, fval, scode, np.arange(len(r)), k, values, np.arange(len(r)))
            # new arrays (not in-place appends) so that views keep their own entries
            col.lrows = np.concatenate([col.lrows, r])
            col.lkind = np.concatenate([col.lkind, k])
            col.lival = np.concatenate([col.lival, ival])
            col.lfval = np.concatenate([col.lfval, fval])
            col.lscode = np.concatenate([col.lscode, scode])

    def _fill(
        self,
        ival: np.ndarray,
        fval: np.ndarray,
        scode: np.ndarray,
        target: np.ndarray,
        kinds: np.ndarray,
        values: list[Any],
        positions: np.ndarray,
    ) -> None:
        for kind in (BOOL, INT):
            sel = positions[kinds == kind]
            if len(sel):
                ival[target[sel]] = np.array([int(values[i]) for i in sel], dtype=np.int64)
        sel = positions[kinds == FLOAT]
        if len(sel):
            fval[target[sel]] = np.array([values[i] for i in sel], dtype=np.float64)
        sel = positions[kinds == STR]
        if len(sel):
            scode[target[sel]] = np.array([self._code(values[i]) for i in sel], dtype=np.int32)

    def view(self) -> MetadataTable:
        """A read-only snapshot of the current rows; later appends do not change it."""
        out = MetadataTable.__new__(MetadataTable)
        out._n = self._n
        out._cap = self._n
        out._columns = {k: c.sliced(self._n) for k, c in self._columns.items()}
        out._codes = self._codes  # append-only: codes added later match no row of the view
        out._strings = self._strings
        out._frozen = True
        return out

    def take(self, rows: Sequence[int] | np.ndarray) -> MetadataTable:
        """A new writable table holding ``rows`` in the given order (for compaction)."""
        idx = self._check_rows(rows)
        out = MetadataTable()
        out._n = out._cap = len(idx)
        out._codes = dict(self._codes)
        out._strings = list(self._strings)
        remap = np.full(max(self._n, 1), -1, dtype=np.int64)
        remap[idx] = np.arange(len(idx))
        for key, col in self._columns.items():
            new = _Column(len(idx))
            new.kind[:] = col.kind[idx]
            new.ival[:] = col.ival[idx]
            new.fval[:] = col.fval[idx]
            new.scode[:] = col.scode[idx]
            if len(col.lrows):
                valid = col.lrows < self._n
                mapped = np.where(valid, remap[np.minimum(col.lrows, len(remap) - 1)], -1)
                keep = mapped >= 0
                order = np.argsort(mapped[keep], kind="stable")
                new.lrows = mapped[keep][order]
                new.lkind = col.lkind[keep][order]
                new.lival = col.lival[keep][order]
                new.lfval = col.lfval[keep][order]
                new.lscode = col.lscode[keep][order]
            if np.any(new.kind != MISSING):
                out._columns[key] = new
        return out

    def get(self, row: int) -> dict[str, Any]:
        """Rebuild one row's metadata (as Chroma would return it); for tests and debugging."""
        if not 0 <= row < self._n:
            raise IndexError(f"row {row} out of range 0..{self._n - 1}")
        out: dict[str, Any] = {}
        for key, col in self._columns.items():
            kind = int(col.kind[row])
            if kind == BOOL:
                out[key] = bool(col.ival[row])
            elif kind == INT:
                out[key] = int(col.ival[row])
            elif kind == FLOAT:
                out[key] = float(col.fval[row])
            elif kind == STR:
                out[key] = self._strings[int(col.scode[row])]
            elif kind == LIST:
                sel = np.flatnonzero(col.lrows == row)
                out[key] = [self._element(col, int(i)) for i in sel]
        return out

    def _element(self, col: _Column, i: int) -> Scalar:
        kind = int(col.lkind[i])
        if kind == BOOL:
            return bool(col.lival[i])
        if kind == INT:
            return int(col.lival[i])
        if kind == FLOAT:
            return float(col.lfval[i])
        return self._strings[int(col.lscode[i])]

    # --- persistence (numpy arrays + a JSON-able header; no pickle) -------------------

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Header (JSON-able) and named arrays that :meth:`from_arrays` restores."""
        arrays: dict[str, np.ndarray] = {}
        keys = list(self._columns)
        for i, key in enumerate(keys):
            col = self._columns[key]
            for name in ("kind", "ival", "fval", "scode"):
                arrays[f"col{i}_{name}"] = np.ascontiguousarray(getattr(col, name)[: self._n])
            for name in ("lrows", "lkind", "lival", "lfval", "lscode"):
                arrays[f"col{i}_{name}"] = np.ascontiguousarray(getattr(col, name))
        header = {
            "version": self.FORMAT_VERSION,
            "rows": self._n,
            "keys": keys,
            "strings": list(self._strings),
        }
        return header, arrays

    @classmethod
    def from_arrays(
        cls, header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> MetadataTable:
        """Inverse of :meth:`to_arrays`; raises ValueError on inconsistent input."""
        if header.get("version") != cls.FORMAT_VERSION:
            raise ValueError(
                f"metadata table format version {header.get('version')!r} is not "
                f"{cls.FORMAT_VERSION}"
            )
        out = cls()
        n = int(header["rows"])
        out._n = out._cap = n
        out._strings = [str(s) for s in header["strings"]]
        out._codes = {s: i for i, s in enumerate(out._strings)}
        expected = {
            "kind": np.uint8,
            "ival": np.int64,
            "fval": np.float64,
            "scode": np.int32,
            "lrows": np.int64,
            "lkind": np.uint8,
            "lival": np.int64,
            "lfval": np.float64,
            "lscode": np.int32,
        }
        for i, key in enumerate(header["keys"]):
            col = _Column(0)
            for name, dtype in expected.items():
                arr = arrays.get(f"col{i}_{name}")
                if arr is None or arr.dtype != dtype or arr.ndim != 1:
                    raise ValueError(f"metadata column col{i}_{name} is missing or malformed")
                if name in ("kind", "ival", "fval", "scode") and len(arr) != n:
                    raise ValueError(f"metadata column col{i}_{name} has {len(arr)} rows, not {n}")
                setattr(col, name, np.array(arr))
            if (
                len(
                    {
                        len(col.lrows),
                        len(col.lkind),
                        len(col.lival),
                        len(col.lfval),
                        len(col.lscode),
                    }
                )
                != 1
            ):
                raise ValueError(f"metadata list columns of key {key!r} differ in length")
            if len(col.lrows) and (col.lrows.min() < 0 or col.lrows.max() >= n):
                raise ValueError(f"metadata list rows of key {key!r} out of range")
            if np.any(col.kind > LIST) or (
                len(out._strings) <= int(max(col.scode.max(initial=-1), col.lscode.max(initial=-1)))
            ):
                raise ValueError(f"metadata column of key {key!r} holds invalid codes")
            out._columns[str(key)] = col
        return out


# --- vectorised evaluation -------------------------------------------------------------


def _trunc_sat(v: float) -> int:
    """A float operand as Chroma compares it with int values: truncated, saturated to int64.

    Chroma's Rust core casts the operand (``v as i64``), so ``{"a": 1.5}`` matches ``a == 1``
    and ``{"a": {"$gte": 1.5}}`` matches ``a == 1`` too. A quirk, mirrored so both agree.
    """
    return min(max(math.trunc(v), _INT64_MIN), _INT64_MAX)


def _int_compare(ival: np.ndarray, op: str, v: int | float) -> np.ndarray:
    """Compare int64 values with an operand the way Chroma does (see :func:`_trunc_sat`)."""
    if isinstance(v, float):
        v = _trunc_sat(v)
    if op == "$eq":
        return ival == v
    if op == "$gt":
        return ival > v
    if op == "$gte":
        return ival >= v
    if op == "$lt":
        return ival < v
    return ival <= v


def _float_compare(fval: np.ndarray, op: str, v: int | float) -> np.ndarray:
    fv = float(v)
    if op == "$eq":
        return fval == fv
    if op == "$gt":
        return fval > fv
    if op == "$gte":
        return fval >= fv
    if op == "$lt":
        return fval < fv
    return fval <= fv


def _pick(values: np.ndarray, idx: np.ndarray | None, n: int) -> np.ndarray:
    """The first ``n`` values (columns carry spare capacity), or those at ``idx``."""
    return values[:n] if idx is None else values[idx]


def _eq_mask(table: MetadataTable, col: _Column, idx: np.ndarray | None, v: Scalar) -> np.ndarray:
    kind = _pick(col.kind, idx, len(table))
    vk = _scalar_kind(v)
    if vk == STR:
        code = table._codes.get(v)  # type: ignore[arg-type]
        if code is None:
            return np.zeros(len(kind), dtype=bool)
        scode = _pick(col.scode, idx, len(table))
        return (kind == STR) & (scode == code)
    ival = _pick(col.ival, idx, len(table))
    if vk == BOOL:
        return (kind == BOOL) & (ival == int(v))
    fval = _pick(col.fval, idx, len(table))
    assert isinstance(v, (int, float))
    return ((kind == INT) & _int_compare(ival, "$eq", v)) | (
        (kind == FLOAT) & _float_compare(fval, "$eq", v)
    )


def _contains_mask(
    table: MetadataTable, col: _Column, idx: np.ndarray | None, v: Scalar
) -> np.ndarray:
    n = len(table) if idx is None else len(idx)
    vk = _scalar_kind(v)
    if not len(col.lrows):
        return np.zeros(n, dtype=bool)
    if vk == STR:
        code = table._codes.get(v)  # type: ignore[arg-type]
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


def _mask(node: Node, table: MetadataTable, idx: np.ndarray | None) -> np.ndarray:
    n = len(table) if idx is None else len(idx)
    if isinstance(node, Logical):
        out = _mask(node.children[0], table, idx)
        for child in node.children[1:]:
            if node.op == "$and":
                out &= _mask(child, table, idx)
            else:
                out |= _mask(child, table, idx)
        return out
    col = table._columns.get(node.key)
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
        kind = _pick(col.kind, idx, len(table))
        ival = _pick(col.ival, idx, len(table))
        fval = _pick(col.fval, idx, len(table))
        out = ((kind == INT) & _int_compare(ival, op, v)) | (
            (kind == FLOAT) & _float_compare(fval, op, v)
        )
    return ~out if negate else out


# --- framework converters (duck-typed: no framework import) ----------------------------

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
        return _combine("$and", [c.negate() for c in children])
    return _combine("$and" if condition == "and" else "$or", children)


def _llama_leaf(f: Any, path: str) -> Node:
    key = getattr(f, "key", None)
    if key is None or not hasattr(f, "value"):
        raise ValueError(
            f"LlamaIndex filter at {path} must be a MetadataFilter (key, value, operator) or "
            f"MetadataFilters, got {f!r}"
        )
    key = _check_key(key)
    op = str(_enum_value(getattr(f, "operator", "==") or "=="))
    value = f.value
    if op in ("any", "all"):
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values:
            raise ValueError(f"LlamaIndex {op.upper()} filter on key {key!r} has an empty list")
        leaves = [Comparison(key, "$contains", _check_operand(key, "$contains", v)) for v in values]
        return _combine("$or" if op == "any" else "$and", leaves)
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
    return Comparison(key, chroma_op, _check_operand(key, chroma_op, value))


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
            f"({_type_name(filter)})"
        )
    return MetadataFilter.parse(filter)


__all__ = [
    "FIELD_OPERATORS",
    "LOGICAL_OPERATORS",
    "Comparison",
    "Logical",
    "MetadataFilter",
    "MetadataTable",
    "Scalar",
    "from_langchain",
    "from_llamaindex",
]
