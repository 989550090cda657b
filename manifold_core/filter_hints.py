"""Hints for filters on metadata keys that no document has.

A filter such as ``{"brnd": "BMW"}`` is valid, so Chroma and the lexical index answer it
with nothing, and a typo looks like "no matching document". :func:`warn_unknown_keys`
turns that into an :class:`UnknownFilterKeyWarning` naming the key and the closest keys
that do exist (``difflib`` over the keys the lexical side's metadata mirror has seen).
The search still runs: a key can be missing today and written tomorrow.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Collection

from manifold_core.filters import MetadataFilter

__all__ = ["UnknownFilterKeyWarning", "unknown_key_messages", "warn_unknown_keys"]

_SHOWN = 8  # existing keys listed when none is close


class UnknownFilterKeyWarning(UserWarning):
    """A filter reads a metadata key that no document in the store has."""


def unknown_key_messages(flt: MetadataFilter | None, known: Collection[str]) -> list[str]:
    """One message per key of ``flt`` that is not in ``known``, with the closest keys.

    Returns nothing when there is no filter or when ``known`` is empty (an empty store, or
    one whose documents carry no metadata at all, has no keys to compare with).
    """
    if flt is None or not known:
        return []
    existing = sorted(known)
    messages = []
    for key in sorted(flt.keys() - set(existing)):
        close = difflib.get_close_matches(key, existing, n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + " or ".join(repr(k) for k in close) + "?"
        else:
            listed = ", ".join(repr(k) for k in existing[:_SHOWN])
            more = f" and {len(existing) - _SHOWN} more" if len(existing) > _SHOWN else ""
            hint = f"the keys that exist are {listed}{more}"
        messages.append(
            f"filter key {key!r} is in no document's metadata, so it matches nothing; {hint}"
        )
    return messages


def warn_unknown_keys(
    flt: MetadataFilter | None, known: Collection[str], stacklevel: int = 3
) -> list[str]:
    """Warn (:class:`UnknownFilterKeyWarning`) for each unknown key; returns the messages."""
    messages = unknown_key_messages(flt, known)
    for message in messages:
        warnings.warn(message, UnknownFilterKeyWarning, stacklevel=stacklevel)
    return messages
