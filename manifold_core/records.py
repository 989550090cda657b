"""What a Chroma record may hold: one validator for ids, texts and metadata.

:func:`metadata_value` is the one rule for a metadata value, used by the write path
(:func:`clean_metadata`, so the store and ingest) and, with ``stored=True``, by the lexical
side's metadata mirror and fingerprints (``manifold_core.filters``) for values Chroma
returns; :func:`scalar_value` is its scalar part, which filter operands follow too.

Chroma 1.5 rejects some inputs only deep inside a write (after earlier batches were
committed), silently drops others, and a few break the collection for good. Everything is
checked here, up front, so a bad call writes nothing. Measured on chromadb 1.5.9:

- a lone surrogate in an id, a text, a metadata key or value raises a ``UnicodeEncodeError``
  / ``TypeError`` in the middle of the write;
- keys starting with ``#`` or ``$`` are rejected; keys starting with ``chroma:`` are
  accepted and silently dropped;
- ``float('inf')``/``nan`` values are accepted and silently dropped; ``numpy.float32`` values
  are rejected; a list holding NaN makes the collection's compaction fail, after which every
  write to it fails for every client;
- a record whose list values hold more than about 5,460 items in all (SQLite's 32,766
  variables / 6 per item; 5,460 passed, 5,500 failed) makes compaction fail in the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

__all__ = [
    "MAX_LIST_ITEMS",
    "RESERVED_KEY_PREFIXES",
    "MetadataValue",
    "NotFiniteError",
    "Scalar",
    "Where",
    "check_ids",
    "check_text",
    "check_texts",
    "clean_metadata",
    "metadata_value",
    "scalar_value",
]

Scalar = str | int | float | bool
"""A metadata value Chroma can store and compare (``bool`` is kept distinct from ``int``)."""
MetadataValue = Scalar | list[Scalar]
"""A scalar or a non-empty list of scalars of one type."""

# Items of all list values of one record together: far below the ~5,460 that break Chroma.
MAX_LIST_ITEMS = 4096
RESERVED_KEY_PREFIXES = ("#", "$", "chroma:")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: Any, where: str) -> str:
    """``value`` if it is a str Chroma can store (valid UTF-8), else a clear error."""
    if not isinstance(value, str):
        raise TypeError(f"{where} must be str, got {type(value).__name__}")
    if not _encodable(value):
        bad = next(i for i, ch in enumerate(value) if not _encodable(ch))
        raise ValueError(
            f"{where} holds a lone surrogate {value[bad]!r} at position {bad}, which is not "
            "valid UTF-8 (decode the source with errors='replace')"
        )
    return value


def check_texts(texts: Sequence[Any], name: str = "texts") -> list[str]:
    """Every text checked with :func:`check_text`; a single str is refused."""
    if isinstance(texts, str):
        raise TypeError(f"{name} must be a list of str, not a single str; wrap it in a list")
    out = list(texts)
    joined_ok = all(isinstance(t, str) for t in out) and _encodable("".join(out))
    if not joined_ok:  # find and name the first bad one
        for i, t in enumerate(out):
            check_text(t, f"{name}[{i}]")
    return out


def check_ids(ids: Sequence[Any], n: int | None = None) -> list[str]:
    """Non-empty, distinct, valid UTF-8 str ids (``n`` of them when given)."""
    if isinstance(ids, str):
        raise TypeError("ids must be a list of str, not a single str")
    out = list(ids)
    if n is not None and len(out) != n:
        raise ValueError(f"got {len(out)} ids for {n} texts")
    for i, d in enumerate(out):
        if not isinstance(d, str) or not d:
            raise ValueError(f"ids[{i}] must be a non-empty str, got {d!r}")
        check_text(d, f"ids[{i}]")
    if len(set(out)) != len(out):
        seen: set[str] = set()
        dupes = sorted({d for d in out if d in seen or seen.add(d)})  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate ids in one call: {dupes[:5]!r}")
    return out


Where = str | Callable[[], str]
"""What an error message names: a str, or a function building it (only on error)."""


class NotFiniteError(ValueError):
    """A NaN or infinite value: refused on the write path, an absent key when read."""


def _label(where: Where) -> str:
    return where if isinstance(where, str) else where()


def scalar_value(value: Any, where: Where) -> Scalar:
    """The one scalar rule, for metadata values, list items and filter operands alike.

    Numpy scalars become Python ones first (so ``numpy.float32('nan')`` is a NaN like any
    other) and subclasses (``IntEnum``, ...) the plain type; an int must fit in 64 bits
    (Chroma stores a larger one as an inexact float), a float must be finite
    (:class:`NotFiniteError` otherwise), a str valid UTF-8. Anything else (``None`` included:
    callers decide what it means) raises ``ValueError`` starting with ``where``.
    """
    kind = type(value)  # exact types first: the common case, and the hot path of the mirror
    if kind is str and value.isascii():
        return value
    if kind is float and math.isfinite(value):
        return value
    if (kind is int and _INT64_MIN <= value <= _INT64_MAX) or kind is bool:
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(
                f"{_label(where)} = {value} does not fit in 64 bits; Chroma would store an "
                "inexact float for an int outside the 64-bit range, so use a str (or a float)"
            )
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotFiniteError(
                f"{_label(where)} is not finite: {value!r}; Chroma holds no NaN or infinity "
                "(it drops them, and breaks on them inside a list), so leave the value out"
            )
        return float(value)
    if isinstance(value, str):
        return str(check_text(value, _label(where)))
    raise ValueError(
        f"{_label(where)} has type {type(value).__name__} ({value!r}), which is not a str, "
        "int, float or bool (or, as metadata, a list of one of them); convert it (e.g. to a "
        "str)"
    )


def _items(value: Any, where: Where) -> list[Scalar]:
    try:
        return [scalar_value(v, where) for v in value]
    except ValueError:
        for j, v in enumerate(value):  # the same error again, naming the item
            scalar_value(v, f"{_label(where)}[{j}]")
        raise


def metadata_value(value: Any, where: Where, *, stored: bool = False) -> MetadataValue | None:
    """The one metadata-value rule: a scalar (:func:`scalar_value`) or a list of one type.

    ``None`` and an empty list mean "no value" and give ``None`` (Chroma rejects ``[]``, so
    it is dropped rather than refused); tuples and 1-d arrays become lists. A NaN or
    infinity (of any float type, numpy's too) is refused on the write path; with
    ``stored=True`` (a value Chroma returned, possibly written by another tool) it gives
    ``None``, the way Chroma holds it: an absent key (a list holding one is treated so too,
    since Chroma cannot keep it). Wrong types raise either way.
    """
    if value is None:
        return None
    try:
        if not isinstance(value, (list, tuple, np.ndarray)):
            return scalar_value(value, where)
        items = _items(value, where)
    except NotFiniteError:
        if stored:
            return None
        raise
    if not items:
        return None
    first = type(items[0])
    if any(type(v) is not first for v in items):
        raise ValueError(
            f"{_label(where)} mixes value types ({value!r}); Chroma needs the items of a list "
            "to be all the same type"
        )
    return items


def clean_metadata(meta: Any, index: int) -> dict[str, Any] | None:
    """Chroma's normal form of one record's metadata, or a ``ValueError`` naming the value.

    Each value follows :func:`metadata_value` (the write path: NaN and infinities are
    refused): ``None`` values and empty lists are dropped (both mean "no value"), numpy
    scalars become Python ones, tuples become lists, and an empty result becomes ``None``
    (Chroma rejects ``{}``). Keys must be non-empty valid UTF-8 str without a reserved prefix,
    and a record's lists hold at most :data:`MAX_LIST_ITEMS` items in all.
    """
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        raise ValueError(f"metadatas[{index}] must be a dict or None, got {type(meta).__name__}")
    out: dict[str, Any] = {}
    items = 0
    for key, value in meta.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"metadatas[{index}] has a key that is not a non-empty str: {key!r}")
        check_text(key, f"metadatas[{index}] key {key!r}")
        if key.startswith(RESERVED_KEY_PREFIXES):
            raise ValueError(
                f"metadatas[{index}] key {key!r} starts with a prefix Chroma reserves "
                f"({', '.join(RESERVED_KEY_PREFIXES)}); rename it"
            )
        clean = metadata_value(value, partial("metadatas[{}][{!r}]".format, index, key))
        if clean is None:
            continue
        if isinstance(clean, list):
            items += len(clean)
        out[key] = clean
    if items > MAX_LIST_ITEMS:
        raise ValueError(
            f"metadatas[{index}] holds {items:,} list items in all; Chroma 1.5 breaks the "
            f"collection above about 5,460, so at most {MAX_LIST_ITEMS:,} are accepted. "
            "Keep long lists in the text or in another store"
        )
    return out or None
