"""Fixed token windows with overlap: the fast chunker (no embedding to decide cuts).

:class:`FixedTokenChunker` cuts a text into windows of ``max_tokens`` tokens of the
encoder's own tokenizer, each starting ``max_tokens - overlap`` tokens after the previous
one, and returns the same :class:`~manifold_core.chunking.Chunk` s as the semantic chunker
(``text == source[start:end]``), so the ingest treats both alike. A window ends at the
end of its last token; a window that could end at a line or sentence break within its
last eighth ends there instead, so chunks rarely stop mid-word or mid-sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from manifold_core.chunking import Chunk

__all__ = ["FixedTokenChunker"]

_BREAKS = ("\n", ". ", "。", "！", "？", "! ", "? ", "; ", "；")


class FixedTokenChunker:
    """Windows of ``max_tokens`` tokens, consecutive windows sharing ``overlap`` tokens.

    Args:
        tokenizer: a :class:`~manifold_core.encoders.Tokenizer` (``spans`` and ``count``).
        max_tokens: tokens per window (the embedding model's input limit is a good value).
        overlap: tokens repeated at the start of the next window; ``0 <= overlap <
            max_tokens``.
    """

    breakpoint_rule = "fixed"

    def __init__(self, tokenizer: Any, max_tokens: int, overlap: int = 0) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be an int >= 1, got {max_tokens!r}")
        if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
            raise ValueError(f"overlap must be an int >= 0, got {overlap!r}")
        if overlap >= max_tokens:
            raise ValueError(
                f"overlap ({overlap}) must be smaller than max_tokens ({max_tokens}); "
                "lower --overlap"
            )
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap = overlap

    def split_text(self, text: str) -> list[Chunk]:
        """The windows of one text (none for a blank text)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        spans = self.tokenizer.spans(text)
        chunks: list[Chunk] = []
        i, n = 0, len(spans)
        while i < n:
            j = min(i + self.max_tokens, n)
            if j < n:
                j = self._soft_end(text, spans, i, j)
            start, end = spans[i][0], spans[j - 1][1]
            if text[start:end].strip():
                chunks.append(Chunk(text[start:end], start, end, j - i, None, len(chunks)))
            if j >= n:
                break
            i = max(j - self.overlap, i + 1)
        return chunks

    def _soft_end(self, text: str, spans: list[tuple[int, int]], i: int, j: int) -> int:
        # a soft end keeps more than ``overlap`` tokens, so the next window still starts
        # inside this one
        floor = max(i + 1 + self.overlap, j - max(1, (j - i) // 8))
        for k in range(j, floor - 1, -1):
            tail = text[spans[k - 1][1] : spans[k][0] + 1] if k < len(spans) else ""
            if any(b in tail for b in _BREAKS) or text[spans[k - 1][0] : spans[k - 1][1]] in (
                "。",
                "！",
                "？",
            ):
                return k
        return j

    def split_texts(self, texts: Sequence[str]) -> list[list[Chunk]]:
        """:meth:`split_text` of each text."""
        return [self.split_text(t) for t in texts]
