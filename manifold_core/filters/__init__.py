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
* ``None``, NaN and infinite metadata values are stored by Chroma as absent keys; so is ``[]``
  here (Chroma rejects it; the write path drops it as "no value").

Errors Chroma would raise (a one-key ``where``, ``$in`` lists of mixed types, a bool or string
in ``$gt``, ...) are raised here as ``ValueError`` before the filter reaches Chroma. Two
conveniences go beyond Chroma: several keys at the top level mean ``$and``, and a one-item
``$and``/``$or`` is unwrapped; :meth:`MetadataFilter.to_where` renders both in a form Chroma
accepts.

The package, one concept per module: :mod:`~manifold_core.filters.syntax` (the AST and the
one ``where`` parser), :mod:`~manifold_core.filters.values` (value kinds, the metadata-value
rule of :mod:`manifold_core.records` as Chroma holds values, the one numeric comparison),
:mod:`~manifold_core.filters.reference` (per-record evaluation),
:mod:`~manifold_core.filters.table` (the columnar :class:`MetadataTable`),
:mod:`~manifold_core.filters.masks` (vectorised evaluation),
:mod:`~manifold_core.filters.metadata_filter` (:class:`MetadataFilter`, tying them together)
and :mod:`~manifold_core.filters.converters` (LlamaIndex and LangChain filters).
"""

from __future__ import annotations

from manifold_core.filters.converters import from_langchain, from_llamaindex
from manifold_core.filters.metadata_filter import MetadataFilter
from manifold_core.filters.syntax import FIELD_OPERATORS, LOGICAL_OPERATORS, Comparison, Logical
from manifold_core.filters.table import MetadataTable
from manifold_core.filters.values import stored_value
from manifold_core.records import Scalar

# The lexical index's fingerprints import the stored-value rule under its old name.
_normalise_value = stored_value

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
    "stored_value",
]
