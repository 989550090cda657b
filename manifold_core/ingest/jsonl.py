"""JSONL files (optionally gzipped): one document per line, BEIR's ``corpus.jsonl`` included.

A line is ``{"text": ..., "metadata": {...}}`` (other scalar top-level fields become
metadata too) or BEIR's ``{"_id", "title", "text"}``. A malformed line is an error naming
file and line: the file is data meant for us, and half of it would be worse than none.
Metadata values follow the store's one rule, :func:`manifold_core.records.clean_metadata`
(``None`` and ``[]`` mean "no value" and are dropped), so a record reads the way
``HybridStore.add`` would store it; only the keys the ingest sets itself are refused here.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from manifold_core.beir_text import titled_text
from manifold_core.ingest.documents import (
    OFFSET_KEYS,
    RESERVED_KEYS,
    SourceDocument,
    file_metadata,
)
from manifold_core.readers import decode_utf8
from manifold_core.records import RESERVED_KEY_PREFIXES, clean_metadata

__all__ = ["jsonl_documents", "read_jsonl_text"]

# Top-level JSONL keys that are not copied into metadata.
_JSONL_SPECIAL = ("text", "metadata", "_id", "id")
_SCALARS = (str, int, float, bool)


def read_jsonl_text(path: Path) -> str:
    """The file's text, gunzipped when its name ends ``.gz``; ``ValueError`` naming the file."""
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a valid gzip file ({exc})") from None
    return decode_utf8(data, str(path))


def _check_key(key: Any, where: str) -> str:
    """A user metadata key: a non-empty str, not a store-reserved prefix, not an ingest key."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"{where}: metadata key {key!r} must be a non-empty str")
    if key.startswith(RESERVED_KEY_PREFIXES):
        raise ValueError(
            f"{where}: metadata key {key!r} starts with a prefix the store reserves "
            f"({', '.join(RESERVED_KEY_PREFIXES)}); rename it"
        )
    if key in RESERVED_KEYS or key in OFFSET_KEYS:
        raise ValueError(
            f"{where}: metadata key {key!r} is reserved (ingest sets "
            f"{', '.join(RESERVED_KEYS + OFFSET_KEYS)}); rename it"
        )
    return key


def _clean_value(key: str, value: Any, label: str) -> Any:
    """``value`` in the store's normal form (``None``: no value), else an error naming ``label``.

    The rule is :func:`~manifold_core.records.clean_metadata`'s; only its message is
    re-anchored on the file and line.
    """
    if isinstance(value, dict):  # a JSON object: say so in JSON's terms
        raise ValueError(
            f"{label} is a dict; metadata values must be str, int, float, bool or a list of "
            "one of them (flatten the object into separate keys)"
        )
    try:
        cleaned = clean_metadata({key: value}, 0)
    except ValueError as exc:
        message, anchor = str(exc), f"metadatas[0][{key!r}]"
        if message.startswith(anchor):
            raise ValueError(label + message[len(anchor) :]) from None
        raise ValueError(f"{label}: {message}") from None
    return None if cleaned is None else cleaned[key]


def _record_metadata(record: dict[str, Any], where: str) -> dict[str, Any]:
    """The record's own metadata: scalar top-level fields, then its ``metadata`` object."""
    extra = record.get("metadata")
    if extra is not None and not isinstance(extra, dict):
        raise ValueError(f"{where}: 'metadata' must be an object, got {type(extra).__name__}")
    user: dict[str, Any] = {}
    for key, value in record.items():
        if key in _JSONL_SPECIAL or not isinstance(value, _SCALARS):
            continue  # lists and objects at top level: put them in "metadata"
        _check_key(key, where)
        user[key] = _clean_value(key, value, f"{where}: field {key!r}")
    for key, value in (extra or {}).items():
        _check_key(key, where)
        user[key] = _clean_value(key, value, f"{where}: metadata[{key!r}]")
    return {k: v for k, v in user.items() if v is not None}  # a later None removes the key


def jsonl_documents(path: Path, text: str) -> Iterator[SourceDocument]:
    """The documents of a JSONL file's ``text``, one per non-blank line.

    Raises:
        ValueError: invalid JSON, a record without a string ``text``, a bad or repeated
            ``_id``/``id``, a metadata value the store cannot hold or a reserved key; the
            message starts with ``path:LINE``.
    """
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
        if "text" not in record:
            raise ValueError(f"{where}: the record has no 'text' field")
        body = record["text"]
        if not isinstance(body, str):
            raise ValueError(f"{where}: 'text' must be a string, got {type(body).__name__}")
        meta = file_metadata(path)
        meta["line"] = number
        doc_key = f"line:{number}"
        raw_id = record.get("_id", record.get("id"))
        if raw_id is not None:
            if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
                raise ValueError(f"{where}: '_id'/'id' must be a string or an integer")
            doc_key = str(raw_id)
            if doc_key in seen:
                raise ValueError(
                    f"{where}: id {doc_key!r} was already used on line {seen[doc_key]}; "
                    "ids must be unique within a file"
                )
            seen[doc_key] = number
            meta["doc_id"] = doc_key
        meta.update(_record_metadata(record, where))
        yield SourceDocument(titled_text(record.get("title"), body), path.as_posix(), doc_key, meta)
