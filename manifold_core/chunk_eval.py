"""Token-level chunk retrieval scores: how much of the reference text the retrieved chunks cover.

The measure of "Evaluating Chunking Strategies for Retrieval" (Smith and Troynikov, Chroma
technical report, 2024). For one question, with ``R`` the text of the retrieved chunks and
``E`` the text of its reference excerpts, both as sets of positions of one document:

- recall ``= |R ∩ E| / |E|``: how much of the answer was retrieved;
- precision ``= |R ∩ E| / |R|``: how much of what was retrieved is answer;
- IoU ``= |R ∩ E| / |R ∪ E|``: both at once (1 only when ``R == E``).

Positions are characters (:func:`span_scores`) or tokens of a tokenizer
(:func:`token_span_scores`: a token belongs to a span when it shares a character with it).
Spans are sets, not lists: overlapping retrieved chunks (windows with overlap) and
overlapping excerpts are each counted once, so repeating a chunk never raises a score.
(The report's code sums the lengths of the retrieved chunks for the precision and IoU
denominators; with the interval union used here a chunker gains nothing from overlap it
did not earn, and without overlap both agree.)

:func:`budget_spans` takes ranked chunks until a budget of retrieved tokens is spent, so
chunkers of different sizes are compared at equal cost. Everything here is a pure function
of spans: no model, no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Span",
    "SpanScores",
    "TokenSpans",
    "budget_spans",
    "intersect_spans",
    "span_scores",
    "spans_length",
    "token_interval",
    "token_span_scores",
    "union_spans",
]

Span = tuple[int, int]
"""``(start, end)``: positions ``start <= i < end`` (Python slice convention)."""


@dataclass(frozen=True)
class SpanScores:
    """Recall, precision and IoU of retrieved positions against reference positions."""

    recall: float
    precision: float
    iou: float


def _check(span: Sequence[int]) -> Span:
    if len(span) != 2:
        raise ValueError(f"a span is (start, end), got {span!r}")
    start, end = int(span[0]), int(span[1])
    if start < 0 or end < start:
        raise ValueError(f"a span needs 0 <= start <= end, got {span!r}")
    return start, end


def union_spans(spans: Iterable[Sequence[int]]) -> list[Span]:
    """The union of ``spans`` as sorted, disjoint, non-empty spans (touching ones joined)."""
    merged: list[Span] = []
    for start, end in sorted(_check(s) for s in spans):
        if start == end:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def spans_length(spans: Iterable[Sequence[int]]) -> int:
    """Positions covered by ``spans``, each counted once."""
    return sum(end - start for start, end in union_spans(spans))


def intersect_spans(a: Iterable[Sequence[int]], b: Iterable[Sequence[int]]) -> list[Span]:
    """Positions in both ``a`` and ``b``, as sorted disjoint spans."""
    left, right = union_spans(a), union_spans(b)
    out: list[Span] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return out


def span_scores(
    retrieved: Iterable[Sequence[int]], references: Iterable[Sequence[int]]
) -> SpanScores:
    """Recall, precision and IoU over positions (characters, when given character spans).

    No retrieved text scores 0 on all three.

    Raises:
        ValueError: ``references`` cover nothing (recall would be undefined), or a span
            is malformed.
    """
    got, refs = union_spans(retrieved), union_spans(references)
    ref_len = spans_length(refs)
    if ref_len == 0:
        raise ValueError("the references cover no position: recall is undefined")
    got_len = spans_length(got)
    both = spans_length(intersect_spans(got, refs))
    union = got_len + ref_len - both
    return SpanScores(
        recall=both / ref_len,
        precision=both / got_len if got_len else 0.0,
        iou=both / union,
    )


class TokenSpans(Sequence[Span]):
    """A document's token spans, indexed once for :func:`token_interval` lookups.

    Pass one of these instead of a plain list when the same tokens are looked up many
    times (every question of a corpus): a list is indexed again on each call, which is
    linear in the corpus per lookup.
    """

    def __init__(self, token_spans: Sequence[Span]) -> None:
        self._spans = list(token_spans)
        self.starts = [s for s, _ in self._spans]
        self.ends = [e for _, e in self._spans]

    def __len__(self) -> int:
        return len(self._spans)

    def __getitem__(self, index: Any) -> Any:
        return self._spans[index]


def _indexed(token_spans: Sequence[Span]) -> TokenSpans:
    """``token_spans`` as a :class:`TokenSpans` (indexed now unless it already is)."""
    return token_spans if isinstance(token_spans, TokenSpans) else TokenSpans(token_spans)


def token_interval(span: Sequence[int], token_spans: Sequence[Span]) -> Span:
    """Character span -> the token indices ``[first, last + 1)`` of tokens it touches.

    ``token_spans`` are the sorted, disjoint character spans of a document's tokens (what
    :meth:`~manifold_core.encoders.Tokenizer.spans` returns), best as :class:`TokenSpans`
    when looked up often. A token belongs to the span when they share at least one
    character; white space between tokens belongs to none.
    """
    start, end = _check(span)
    if start == end:
        return (0, 0)
    index = _indexed(token_spans)
    first = bisect.bisect_right(index.ends, start)  # first token ending after ``start``
    last = bisect.bisect_left(index.starts, end)  # tokens before it start before ``end``
    return (first, last) if first < last else (first, first)


def token_span_scores(
    retrieved: Iterable[Sequence[int]],
    references: Iterable[Sequence[int]],
    token_spans: Sequence[Span],
) -> SpanScores:
    """:func:`span_scores` counted in tokens of one document instead of characters."""
    token_spans = _indexed(token_spans)
    return span_scores(
        [token_interval(s, token_spans) for s in retrieved],
        [token_interval(s, token_spans) for s in references],
    )


def budget_spans(
    ranked: Iterable[tuple[int, int, int]],
    budget: int,
    token_spans: Sequence[Span] | None = None,
) -> list[Span]:
    """The character spans read within a budget of retrieved tokens.

    ``ranked`` holds ``(start, end, token_count)`` of chunks, best first. Chunks are taken
    in rank order while their token counts fit ``budget`` (each chunk's own count: what a
    prompt would pay, overlap included). The first chunk that does not fit is **cut** to
    the tokens left when ``token_spans`` (the document's token spans) are given, so every
    chunker reads exactly ``budget`` tokens when it has that many; without ``token_spans``
    it is left out. Nothing after it is taken.
    """
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be an int >= 1, got {budget!r}")
    if token_spans is not None:
        token_spans = _indexed(token_spans)
    out: list[Span] = []
    left = budget
    for start, end, tokens in ranked:
        if tokens <= left:
            out.append((start, end))
            left -= tokens
            if left == 0:
                break
            continue
        if token_spans is not None and left > 0:
            first, _ = token_interval((start, end), token_spans)
            cut_end = token_spans[min(first + left, len(token_spans)) - 1][1]
            out.append((start, max(start, min(end, cut_end))))
        break
    return out
