"""The columnar metadata table: a compact, append-only mirror of N rows' metadata.

Each key gets typed numpy columns (kind, int/bool, float, string code) and, for list-valued
fields, flat element arrays, so filters run vectorised (:mod:`manifold_core.filters.masks`).
Rows are only ever appended: :meth:`MetadataTable.view` returns a read-only prefix that later
appends do not disturb (the lexical index's snapshots rely on it) and
:meth:`MetadataTable.take` a compacted copy; nothing rewrites a row in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from manifold_core.filters.values import (
    BOOL,
    FLOAT,
    INT,
    LIST,
    MISSING,
    STR,
    scalar_kind,
    stored_value,
)
from manifold_core.records import Scalar

__all__ = ["Column", "MetadataTable"]


def _spec(dtype: type[np.generic], fill: int | float, per_row: bool) -> dict[str, Any]:
    """A :class:`Column` field's metadata: dtype, fill value, one entry per row or not."""
    return {"dtype": np.dtype(dtype), "fill": fill, "per_row": per_row}


@dataclass(slots=True)
class Column:
    """One key's values over all rows, typed, plus its list-valued entries.

    The fields below are the one list of the column's arrays (the persistence format names
    them too): per-row arrays first, then one entry per list element, in this order.
    """

    kind: np.ndarray = field(metadata=_spec(np.uint8, MISSING, True))
    ival: np.ndarray = field(metadata=_spec(np.int64, 0, True))  # bool (0/1) and int values
    fval: np.ndarray = field(metadata=_spec(np.float64, 0.0, True))  # float values
    scode: np.ndarray = field(metadata=_spec(np.int32, -1, True))  # string codes
    lrows: np.ndarray = field(metadata=_spec(np.int64, 0, False))  # the row of each list element
    lkind: np.ndarray = field(metadata=_spec(np.uint8, MISSING, False))
    lival: np.ndarray = field(metadata=_spec(np.int64, 0, False))
    lfval: np.ndarray = field(metadata=_spec(np.float64, 0.0, False))
    lscode: np.ndarray = field(metadata=_spec(np.int32, -1, False))

    @classmethod
    def empty(cls, capacity: int) -> Column:
        """A column of ``capacity`` rows without values and without list elements."""
        return cls(
            **{
                name: np.full(capacity if name in ROW_FIELDS else 0, fill, dtype=dtype)
                for name, (dtype, fill) in FIELD_SPECS.items()
            }
        )

    def grow(self, capacity: int) -> None:
        for name in ROW_FIELDS:
            dtype, fill = FIELD_SPECS[name]
            old = getattr(self, name)
            new = np.full(capacity, fill, dtype=dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def sliced(self, n: int) -> Column:
        """The first ``n`` rows (list elements are shared; readers bound them by ``n``)."""
        return dataclasses.replace(self, **{name: getattr(self, name)[:n] for name in ROW_FIELDS})

    def append_elements(self, *parts: np.ndarray) -> None:
        """Append list elements, one array per list field in field order (new arrays, not
        in-place appends, so that views keep their own entries)."""
        for name, part in zip(LIST_FIELDS, parts, strict=True):
            setattr(self, name, np.concatenate([getattr(self, name), part]))


FIELD_SPECS: dict[str, tuple[np.dtype[Any], int | float]] = {
    f.name: (f.metadata["dtype"], f.metadata["fill"]) for f in dataclasses.fields(Column)
}
ROW_FIELDS = tuple(f.name for f in dataclasses.fields(Column) if f.metadata["per_row"])
LIST_FIELDS = tuple(f.name for f in dataclasses.fields(Column) if not f.metadata["per_row"])


class MetadataTable:
    """A compact columnar mirror of the metadata of N rows, so filters run vectorised.

    Rows are appended in batches (:meth:`append` validates the whole batch first, so a bad
    value writes nothing); :meth:`view` returns a read-only snapshot, :meth:`take` a
    compacted copy, :meth:`to_arrays`/:meth:`from_arrays` persist it without pickle.
    """

    FORMAT_VERSION: ClassVar[int] = 1

    def __init__(self) -> None:
        self._n = 0
        self._cap = 0
        self._columns: dict[str, Column] = {}
        self._codes: dict[str, int] = {}
        self._strings: list[str] = []
        self._frozen = False

    def __len__(self) -> int:
        return self._n

    @property
    def keys(self) -> list[str]:
        """Keys that appear in at least one row (ever)."""
        return list(self._columns)

    def column(self, key: str) -> Column | None:
        """The column of ``key``; ``None`` when no row has it."""
        return self._columns.get(key)

    def string_code(self, value: str) -> int | None:
        """The code of a string value; ``None`` when no row holds it."""
        return self._codes.get(value)

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

    def _column(self, key: str) -> Column:
        col = self._columns.get(key)
        if col is None:
            col = Column.empty(self._cap)
            self._columns[key] = col
        return col

    def append(self, metadatas: Sequence[Mapping[str, Any] | None]) -> None:
        """Append one row per metadata mapping (``None`` or ``{}`` for a row without).

        Values follow :func:`~manifold_core.filters.values.stored_value`: absent forms
        (``None``, ``[]``, NaN) leave the key out, wrong types raise ``ValueError``.
        """
        self._check_writable()
        start = self._n
        self._ensure_capacity(start + len(metadatas))
        self._write(np.arange(start, start + len(metadatas), dtype=np.int64), metadatas)
        self._n = start + len(metadatas)

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
                kind, v = stored_value(value, key)
                if kind == MISSING:
                    continue
                bucket = scalars.setdefault(key, ([], [], []))
                bucket[0].append(row)
                bucket[1].append(kind)
                bucket[2].append(None if kind == LIST else v)
                if kind == LIST:
                    bucket = lists.setdefault(key, ([], [], []))
                    bucket[0].extend([row] * len(v))
                    bucket[1].extend([scalar_kind(v[0])] * len(v))
                    bucket[2].extend(v)
        for key, (rws, kinds, values) in scalars.items():
            col = self._column(key)
            r = np.asarray(rws, dtype=np.int64)
            k = np.asarray(kinds, dtype=np.uint8)
            col.kind[r] = k
            self._fill(col.ival, col.fval, col.scode, r, k, values)
        for key, (rws, kinds, values) in lists.items():
            r = np.asarray(rws, dtype=np.int64)
            k = np.asarray(kinds, dtype=np.uint8)
            ival = np.zeros(len(r), dtype=np.int64)
            fval = np.zeros(len(r), dtype=np.float64)
            scode = np.full(len(r), -1, dtype=np.int32)
            self._fill(ival, fval, scode, np.arange(len(r)), k, values)
            self._column(key).append_elements(r, k, ival, fval, scode)

    def _fill(
        self,
        ival: np.ndarray,
        fval: np.ndarray,
        scode: np.ndarray,
        target: np.ndarray,
        kinds: np.ndarray,
        values: list[Any],
    ) -> None:
        positions = np.arange(len(kinds))
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
            new = Column.empty(0)
            for name in ROW_FIELDS:
                setattr(new, name, getattr(col, name)[idx])
            if len(col.lrows):
                valid = col.lrows < self._n
                mapped = np.where(valid, remap[np.minimum(col.lrows, len(remap) - 1)], -1)
                keep = mapped >= 0
                order = np.argsort(mapped[keep], kind="stable")
                for name in LIST_FIELDS:
                    part = mapped if name == "lrows" else getattr(col, name)
                    setattr(new, name, part[keep][order])
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
            if kind == LIST:
                sel = np.flatnonzero(col.lrows == row)
                out[key] = [
                    self._value(int(col.lkind[i]), col.lival[i], col.lfval[i], col.lscode[i])
                    for i in sel
                ]
            elif kind != MISSING:
                out[key] = self._value(kind, col.ival[row], col.fval[row], col.scode[row])
        return out

    def _value(self, kind: int, ival: Any, fval: Any, scode: Any) -> Scalar:
        if kind == BOOL:
            return bool(ival)
        if kind == INT:
            return int(ival)
        if kind == FLOAT:
            return float(fval)
        return self._strings[int(scode)]

    # --- persistence (numpy arrays + a JSON-able header; no pickle) -------------------

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Header (JSON-able) and named arrays that :meth:`from_arrays` restores."""
        arrays: dict[str, np.ndarray] = {}
        keys = list(self._columns)
        for i, key in enumerate(keys):
            col = self._columns[key]
            for name in FIELD_SPECS:
                arr = getattr(col, name)
                arr = arr[: self._n] if name in ROW_FIELDS else arr
                arrays[f"col{i}_{name}"] = np.ascontiguousarray(arr)
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
        for i, key in enumerate(header["keys"]):
            col = Column.empty(0)
            for name, (dtype, _) in FIELD_SPECS.items():
                arr = arrays.get(f"col{i}_{name}")
                if arr is None or arr.dtype != dtype or arr.ndim != 1:
                    raise ValueError(f"metadata column col{i}_{name} is missing or malformed")
                if name in ROW_FIELDS and len(arr) != n:
                    raise ValueError(f"metadata column col{i}_{name} has {len(arr)} rows, not {n}")
                setattr(col, name, np.array(arr))
            if len({len(getattr(col, name)) for name in LIST_FIELDS}) != 1:
                raise ValueError(f"metadata list columns of key {key!r} differ in length")
            if len(col.lrows) and (col.lrows.min() < 0 or col.lrows.max() >= n):
                raise ValueError(f"metadata list rows of key {key!r} out of range")
            if np.any(col.kind > LIST) or (
                len(out._strings) <= int(max(col.scode.max(initial=-1), col.lscode.max(initial=-1)))
            ):
                raise ValueError(f"metadata column of key {key!r} holds invalid codes")
            out._columns[str(key)] = col
        return out
