"""The text a BEIR-style record is indexed as: its title on top of its text.

One rule for every reader of such records (``manifold ingest``'s JSONL reader and
``manifold eval``'s BEIR loader), so the same corpus is indexed the same way by both.
"""

from __future__ import annotations

from typing import Any

__all__ = ["titled_text"]


def titled_text(title: Any, text: str) -> str:
    """``title`` (stripped), a blank line, then ``text``; the title alone when the text is blank.

    A title that is not a string, or is blank, is left out: ``text`` comes back unchanged.
    The blank line keeps the title a paragraph of its own for the chunkers; to BM25 and to
    wordpiece models it is whitespace, so this indexes what BEIR's ``title + " " + text``
    does.
    """
    if not isinstance(title, str) or not title.strip():
        return text
    head = title.strip()
    return f"{head}\n\n{text}" if text.strip() else head
