"""Sentence segmentation that keeps character offsets, for Chinese, Latin scripts and both mixed.

A sentence is returned as a span ``(start, end)`` into the original text, trimmed of the
white space around it, so ``text[start:end]`` is always the sentence exactly as written.

Rules of the default segmenter:

- a newline ends a sentence (blank lines too), so headings, list items and short lines
  stand alone, except a *soft* line break inside hard-wrapped prose (see
  :func:`_soft_break`): "step only on bare rock and put every stone back as you\nfound it."
  stays one sentence;
- Chinese terminators ``。！？；`` and ellipses ``……`` end a sentence wherever they are;
- ASCII ``. ! ?`` end a sentence only when followed by white space, the end of the text
  or a CJK character, so ``3.14`` and ``example.com`` stay whole;
- a single ``.`` after a common abbreviation (``e.g.``, ``Dr.``, ``et al.``) or after a lone
  capital (an initial, ``J. Smith``) does not end a sentence;
- closing quotes and brackets (``”’」』"')）]】》``) stay with the sentence they close.

A user can pass a ``splitter`` instead: a callable returning spans or sentence strings, or a
regular expression whose matches mark where sentences end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Union

__all__ = ["SentenceSpan", "SentenceSplitter", "split_sentences", "trim_span"]


@dataclass(frozen=True)
class SentenceSpan:
    """A sentence as ``text[start:end]`` of the original text."""

    start: int
    end: int

    def text(self, source: str) -> str:
        """The sentence's text, cut from ``source``."""
        return source[self.start : self.end]


SentenceSplitter = Union[
    Callable[[str], Iterable[tuple[int, int]] | Iterable[str]], str, "re.Pattern[str]"
]

_CLOSERS = "”’」』\"')）]】》〉"
_CJK_TERMINATORS = "。！？；"
_TERMINATOR = re.compile(rf"(?:[{_CJK_TERMINATORS}!?！？]+|…+|\.{{2,}}|\.)[{re.escape(_CLOSERS)}]*")
_CJK_CHAR = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_LIST_NUMBER = re.compile(r"(?:^|\n)[ \t]*\d{1,3}$")
ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "cf",
        "vs",
        "etc",
        "al",
        "approx",
        "ca",
        "fig",
        "figs",
        "eq",
        "eqs",
        "ref",
        "refs",
        "no",
        "nos",
        "vol",
        "vols",
        "pp",
        "ed",
        "eds",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "a.m",
        "p.m",
        "ph.d",
        "viz",
        "resp",
    ]
)
_ALWAYS_END_ABBREVIATIONS = frozenset({"etc"})


def _is_boundary(text: str, match: re.Match[str], limit: int) -> bool:
    """Whether a terminator match ends a sentence; ``limit`` is where its block ends."""
    mark = match.group(0).rstrip(_CLOSERS)
    end = match.end()
    nxt = text[end] if end < limit else ""
    if any(c in _CJK_TERMINATORS or c in "！？" for c in mark):
        return True
    if mark.startswith("…"):
        return len(mark) >= 2 or not nxt or nxt.isspace() or bool(_CJK_CHAR.match(nxt))
    if nxt and not nxt.isspace() and not _CJK_CHAR.match(nxt):
        return False  # "3.14", "example.com", "Hello!World"
    if mark != ".":
        return True  # "!", "?", "...", "?!"
    if _LIST_NUMBER.search(text, max(0, match.start() - 8), match.start()):
        return False  # "1. Install": the number of a list item, at the start of its line
    word = _WORD_BEFORE.search(text, max(0, match.start() - 12), match.start())
    if word:
        token = word.group(1).lower()
        if token in ABBREVIATIONS and token not in _ALWAYS_END_ABBREVIATIONS:
            return False
        if len(word.group(1)) == 1 and word.group(1).isupper():
            return False  # an initial: "J. Smith"
    return True


def trim_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``(start, end)`` shrunk past surrounding white space; ``None`` if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


# A line this long is taken as part of hard-wrapped prose (editors wrap at 72-100);
# titles and labels without a marker are shorter.
_WRAPPED_LINE_MIN = 40
# Lines that start a Markdown block (heading, list item, quote, table row, fence) or code.
_BLOCK_START = re.compile(r"(?:#{1,6}\s|[-*+]\s|>|\||\d{1,3}[.)]\s|```|~~~|\t| {4})")


def _soft_break(line: str, next_line: str) -> bool:
    """Whether the newline between two lines only wraps a paragraph (so joins them).

    It does when the line is long (at least ``_WRAPPED_LINE_MIN`` characters), is not a
    heading, ends in a Latin-script character rather than CJK (Chinese is not hard-wrapped:
    a line break there is meant), and the next line holds text that does not start a new
    Markdown block. A line ending in a sentence terminator is a boundary anyway.
    """
    body = line.rstrip("\r\n")
    stripped = body.strip()
    following = next_line.rstrip("\r\n")
    if len(stripped) < _WRAPPED_LINE_MIN or not following.strip():
        return False
    if stripped.startswith("#") or _CJK_CHAR.match(stripped[-1]) or body.endswith("  "):
        return False
    return not _BLOCK_START.match(following) and not _CJK_CHAR.match(following.lstrip()[:1] or "a")


def _scan_block(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    """Append the sentences of ``text[start:end]`` (one line, or one wrapped paragraph)."""
    cursor = start
    for match in _TERMINATOR.finditer(text, start, end):
        if _is_boundary(text, match, end):
            span = trim_span(text, cursor, match.end())
            if span:
                spans.append(span)
            cursor = match.end()
    span = trim_span(text, cursor, end)
    if span:
        spans.append(span)


def _default_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    lines = text.splitlines(keepends=True)
    block_start = position = 0
    for i, line in enumerate(lines):
        position += len(line)
        if i + 1 < len(lines) and _soft_break(line, lines[i + 1]):
            continue  # the paragraph goes on: segment it once it ends
        _scan_block(text, block_start, position, spans)
        block_start = position
    return spans


def _spans_from_strings(text: str, pieces: Sequence[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        stripped = piece.strip()
        if not stripped:
            continue
        pos = text.find(stripped, cursor)
        if pos < 0:
            raise ValueError(
                f"the sentence splitter returned {stripped[:40]!r}, which is not in the text "
                "after the previous sentence; a custom splitter must return pieces of the "
                "text in order, unchanged (or (start, end) spans)"
            )
        spans.append((pos, pos + len(stripped)))
        cursor = pos + len(stripped)
    return spans


def _spans_from_regex(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = 0
    for match in pattern.finditer(text):
        if match.end() <= cursor:
            continue
        span = trim_span(text, cursor, match.end())
        if span:
            spans.append(span)
        cursor = match.end()
    span = trim_span(text, cursor, len(text))
    if span:
        spans.append(span)
    return spans


def _validate_spans(text: str, raw: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    last_end = 0
    for item in raw:
        start, end = int(item[0]), int(item[1])
        if not (last_end <= start <= end <= len(text)):
            raise ValueError(
                f"the sentence splitter returned span ({start}, {end}); spans must be in "
                f"order, not overlap, and lie within the text (length {len(text)})"
            )
        trimmed = trim_span(text, start, end)
        if trimmed:
            spans.append(trimmed)
        last_end = end
    return spans


def split_sentences(text: str, splitter: SentenceSplitter | None = None) -> list[SentenceSpan]:
    """Split ``text`` into sentences, returned as spans into ``text``.

    Args:
        text: the text to split.
        splitter: ``None`` for the built-in rules; a regular expression (string or
            compiled) whose matches end sentences; or a callable taking the text and
            returning ``(start, end)`` spans or the sentence strings in order.

    Returns:
        Non-empty, non-overlapping spans in order, each trimmed of surrounding white space.

    Raises:
        TypeError: ``text`` is not a str.
        ValueError: a custom splitter returned something that is not part of the text.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    if splitter is None:
        raw = _default_spans(text)
    elif isinstance(splitter, str | re.Pattern):
        pattern = re.compile(splitter) if isinstance(splitter, str) else splitter
        raw = _spans_from_regex(text, pattern)
    elif callable(splitter):
        result = list(splitter(text))
        if result and all(isinstance(r, str) for r in result):
            raw = _spans_from_strings(text, result)  # type: ignore[arg-type]
        else:
            raw = _validate_spans(text, result)  # type: ignore[arg-type]
    else:
        raise TypeError(
            "splitter must be None, a regex (str or compiled) or a callable; "
            f"got {type(splitter).__name__}"
        )
    return [SentenceSpan(s, e) for s, e in raw]
