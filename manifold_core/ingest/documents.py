"""The records an ingest reads: a document from a file, a file left out, and their metadata keys.

Leaf module (no other ingest import): every reading step and the report share these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifold_core.readers import Section

__all__ = ["OFFSET_KEYS", "RESERVED_KEYS", "SkippedFile", "SourceDocument", "file_metadata"]

# Metadata keys the ingest sets itself; a JSONL record may not bring its own.
RESERVED_KEYS: tuple[str, ...] = ("source", "file_name", "doc_id", "line", "chunk_index")
# Offsets are set too but may be overridden by nothing else either.
OFFSET_KEYS: tuple[str, ...] = ("start", "end")


@dataclass(frozen=True)
class SourceDocument:
    """One document read from a file.

    Attributes:
        text: the text to index (for a record with a ``title``: title, blank line, text;
            for PDF, HTML and DOCX: the extracted text).
        source: the file, as an absolute POSIX path: the key replacement works by.
        key: the document inside its file: ``""`` for a whole file, the JSONL ``_id``/``id``
            (as str), else ``"line:N"``.
        metadata: ``source`` and ``file_name``, plus for JSONL ``line`` and (when the record
            has one) ``doc_id``, then the record's ``metadata`` dict and scalar fields; a
            PDF, HTML or DOCX ``title``.
        sections: spans of ``text`` with their own metadata (``page``, ``heading``); empty
            means one section over the whole text.
    """

    text: str
    source: str
    key: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A file (or a JSONL line: ``path:LINE``) left out, with the reason and what was wrong."""

    path: str
    reason: str
    detail: str


def file_metadata(path: Path) -> dict[str, Any]:
    """The metadata every document of ``path`` starts with: ``source`` and ``file_name``."""
    return {"source": path.as_posix(), "file_name": path.name}
