""":class:`MetadataFilter`, the one filter model: parsed once, rendered for Chroma, evaluated.

It ties the concepts of the package together: :meth:`MetadataFilter.parse` is the one parser
of a ``where`` dict (:func:`~manifold_core.filters.syntax.parse_where`), :meth:`to_where`
renders it for Chroma, :meth:`matches` evaluates one record (the reference) and :meth:`mask`
a whole :class:`~manifold_core.filters.table.MetadataTable` (vectorised).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_core.filters.masks import mask as _mask
from manifold_core.filters.reference import matches as _matches
from manifold_core.filters.syntax import Comparison, Node, combine, parse_where, type_name
from manifold_core.filters.table import MetadataTable

__all__ = ["MetadataFilter"]


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

        The one parser of a ``where``: a ``MetadataFilter`` passes through unchanged.

        Raises:
            ValueError: naming the bad key, operator or value, as Chroma would reject it,
                or when ``where`` is neither a dict, a ``MetadataFilter`` nor ``None``.
        """
        if where is None or isinstance(where, MetadataFilter):
            return where
        if not isinstance(where, Mapping):
            raise ValueError(
                "filter must be a Chroma-style where dict (like {'year': 2022} or "
                f"{{'$and': [...]}}) or a MetadataFilter, got {where!r} ({type_name(where)})"
            )
        if not where:
            return None
        return cls(parse_where(where, "where"))

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
        return MetadataFilter(combine("$and", [self.node, other.node]))

    def __or__(self, other: MetadataFilter) -> MetadataFilter:
        return MetadataFilter(combine("$or", [self.node, other.node]))

    @staticmethod
    def all_of(filters: Iterable[MetadataFilter | None]) -> MetadataFilter | None:
        """Conjunction of the given filters, ignoring ``None``; ``None`` when none is left."""
        nodes = [f.node for f in filters if f is not None]
        return MetadataFilter(combine("$and", nodes)) if nodes else None

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
