"""Documents into :class:`ChunkRecord` s: stable ids, sections, token limits.

:func:`iter_chunks` cuts every document into pieces no longer than :data:`SECTION_CHARS`
inside its sections (so a chunk never spans two pages or headings) and hands the pieces
to the chunker in groups; each chunk gets an id from :func:`chunk_id` (the same file,
document and position always give the same id, so re-ingesting *replaces*) and its
section's metadata plus offsets into the document's text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from manifold_core.encoders import RegexTokenizer, Tokenizer
from manifold_core.ingest.documents import SkippedFile, SourceDocument
from manifold_core.readers import Section

__all__ = ["SECTION_CHARS", "ChunkRecord", "chunk_documents", "chunk_id", "iter_chunks"]

# The longest stretch of text a chunker sees at once; longer sections are cut at line breaks.
SECTION_CHARS = 100_000

OnSkip = Callable[[SkippedFile], None]
OnProgress = Callable[[SourceDocument, int], None]


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk ready to store: id, text, metadata (document's plus position) and tokens."""

    id: str
    text: str
    metadata: dict[str, Any]
    token_count: int


def chunk_id(source: str, key: str, index: int) -> str:
    """The id of chunk ``index`` of document ``key`` in ``source``.

    Deterministic (the same file, document and position always give the same id, so
    re-ingesting replaces) and collision-free in practice: a 128-bit BLAKE2 digest of the
    JSON-encoded ``(source, key)`` pair, which no two distinct pairs share an encoding of,
    followed by the chunk index.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"chunk index must be an int >= 0, got {index!r}")
    digest = hashlib.blake2b(
        json.dumps([source, key], ensure_ascii=False).encode("utf-8"), digest_size=16
    ).hexdigest()
    return f"{digest}-{index}"


def _record(
    doc: SourceDocument,
    index: int,
    start: int,
    end: int,
    text: str,
    tokens: int,
    section: Mapping[str, Any] | None = None,
) -> ChunkRecord:
    meta = {**doc.metadata, **(section or {}), "chunk_index": index, "start": start, "end": end}
    return ChunkRecord(chunk_id(doc.source, doc.key, index), text, meta, tokens)


def _pieces(doc: SourceDocument) -> Iterator[tuple[int, int, Mapping[str, Any]]]:
    """``(start, end, section metadata)`` spans of ``doc``, none over :data:`SECTION_CHARS`.

    A long section is cut at its last paragraph break, else line break, else space,
    before the limit (a hard cut only for one endless line).
    """
    text = doc.text
    sections = doc.sections or (Section(0, len(text)),)
    for sec in sections:
        start = sec.start
        while sec.end - start > SECTION_CHARS:
            limit = start + SECTION_CHARS
            cut = -1
            for sep in ("\n\n", "\n", " "):
                cut = text.rfind(sep, start + SECTION_CHARS // 2, limit)
                if cut > start:
                    cut += len(sep)
                    break
            if cut <= start:
                cut = limit
            yield start, cut, sec.metadata
            start = cut
        if sec.end > start:
            yield start, sec.end, sec.metadata


def _where(doc: SourceDocument) -> str:
    line = doc.metadata.get("line")
    return f"{doc.source}:{line}" if line is not None else doc.source


def iter_chunks(
    documents: Iterable[SourceDocument],
    chunker: Any,
    *,
    tokenizer: Tokenizer | None = None,
    token_limit: int | None = None,
    truncate: bool = False,
    on_skip: OnSkip | None = None,
    on_truncate: OnSkip | None = None,
    on_progress: OnProgress | None = None,
    batch_chars: int = 200_000,
) -> Iterator[ChunkRecord]:
    """Split documents into :class:`ChunkRecord` s, one group of pieces at a time.

    A document is cut into pieces no longer than :data:`SECTION_CHARS` within its
    sections (pages, heading sections), and the pieces of about ``batch_chars``
    characters go to ``chunker.split_texts`` together; every chunk carries its section's
    metadata and offsets into the document's text. ``on_progress(doc, end)`` is told how
    far into each document the chunks are.

    With ``chunker=None`` each non-blank document is one chunk; one longer than
    ``token_limit`` tokens is refused (``on_skip`` with reason ``too long``) or, with
    ``truncate``, cut at the limit (``on_truncate``).
    """
    if chunker is None:
        yield from _whole_documents(
            documents, tokenizer, token_limit, truncate, on_skip, on_truncate, on_progress
        )
        return
    group: list[tuple[SourceDocument, int, int, Mapping[str, Any]]] = []
    chars = 0
    counters: dict[tuple[str, str], int] = {}

    def run_group() -> Iterator[ChunkRecord]:
        texts = [doc.text[a:b] for doc, a, b, _ in group]
        for (doc, a, b, meta), chunks in zip(group, chunker.split_texts(texts), strict=True):
            key = (doc.source, doc.key)
            index = counters.get(key, 0)
            for c in chunks:
                yield _record(doc, index, a + c.start, a + c.end, c.text, c.token_count, meta)
                index += 1
            counters[key] = index
            if on_progress is not None:
                on_progress(doc, b)

    for doc in documents:
        if not doc.text.strip():
            continue
        for a, b, meta in _pieces(doc):
            if not doc.text[a:b].strip():
                continue
            if group and (chars + (b - a) > batch_chars or len(group) >= 512):
                yield from run_group()
                group, chars = [], 0
                counters = {k: v for k, v in counters.items() if k == (doc.source, doc.key)}
            group.append((doc, a, b, meta))
            chars += b - a
    if group:
        yield from run_group()


def _count_tokens(tok: Tokenizer, text: str, token_limit: int | None) -> tuple[int, bool]:
    """Tokens of ``text`` (counted up to just past ``token_limit``), and whether one probe
    covered the whole text (else the count may be a lower bound).

    A token covers at most a few characters: counting a prefix decides "too long".
    """
    probe = text if token_limit is None else text[: max(token_limit * 32, 4096)]
    count = int(tok.count([probe])[0])
    if token_limit is not None and count <= token_limit and len(probe) < len(text):
        for a in range(len(probe), len(text), SECTION_CHARS):  # very long tokens: count on
            count += int(tok.count([text[a : a + SECTION_CHARS]])[0])
            if count > token_limit:
                break
    return count, len(probe) == len(text)


def _whole_documents(
    documents: Iterable[SourceDocument],
    tokenizer: Tokenizer | None,
    token_limit: int | None,
    truncate: bool,
    on_skip: OnSkip | None,
    on_truncate: OnSkip | None,
    on_progress: OnProgress | None,
) -> Iterator[ChunkRecord]:
    """One chunk per non-blank document; a document over ``token_limit`` refused or cut."""
    tok = tokenizer or RegexTokenizer()
    for doc in documents:
        if not doc.text.strip():
            continue
        text = doc.text
        meta = doc.sections[0].metadata if doc.sections else {}
        count, whole = _count_tokens(tok, text, token_limit)
        if token_limit is not None and count > token_limit:
            more = "" if whole else "+"
            note = SkippedFile(
                _where(doc), "too long", f"{count:,}{more} tokens; the model reads {token_limit}"
            )
            if not truncate:
                if on_skip is not None:
                    on_skip(note)
                continue
            spans = tok.spans(text[: max(token_limit * 32, 4096)])
            text = text[: spans[token_limit - 1][1]]
            count = token_limit
            if on_truncate is not None:
                on_truncate(note)
        yield _record(doc, 0, 0, len(text), text, count, meta)
        if on_progress is not None:
            on_progress(doc, len(doc.text))


def chunk_documents(
    documents: Sequence[SourceDocument],
    chunker: Any,
    *,
    tokenizer: Tokenizer | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_chars: int = 200_000,
) -> list[ChunkRecord]:
    """All chunks of ``documents`` as a list (see :func:`iter_chunks`; no token limit).

    ``on_progress`` is told the number of documents whose chunks are done.
    """
    out = list(iter_chunks(documents, chunker, tokenizer=tokenizer, batch_chars=batch_chars))
    if on_progress is not None:
        on_progress(len(documents))
    return out
