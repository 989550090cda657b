"""Token counters: how many tokens a text has and where they are, to cut chunks by tokens.

:class:`Tokenizer` is what chunkers need; :class:`HFTokenizer` adapts a Hugging Face fast
tokenizer, :class:`RegexTokenizer` is the fallback for encoders that expose none, and
:func:`tokenizer_for` picks between them for an encoder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["HFTokenizer", "RegexTokenizer", "Tokenizer", "tokenizer_for"]


@runtime_checkable
class Tokenizer(Protocol):
    """Counts tokens and locates them, so chunks can be held under a token limit."""

    def count(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text, without special tokens."""
        ...

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character ``(start, end)`` of each token of ``text``, in order."""
        ...


_CJK = (
    r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
    r"\U00020000-\U0002ffff"
)
_FALLBACK_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]", re.UNICODE)


class RegexTokenizer:
    """The fallback token counter, for encoders that expose no tokenizer.

    One token per CJK character (Han, kana, hangul), one per run of other letters and
    digits, one per punctuation mark. Sub-word tokenizers count more on English (1.25x on
    SciFact abstracts with all-MiniLM-L6-v2's tokenizer), so leave headroom when the limit
    is the model's hard maximum.
    """

    def count(self, texts: Sequence[str]) -> list[int]:
        """Count tokens of each text."""
        return [sum(1 for _ in _FALLBACK_TOKEN.finditer(t)) for t in texts]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of ``text``."""
        return [m.span() for m in _FALLBACK_TOKEN.finditer(text)]


class HFTokenizer:
    """A Hugging Face fast tokenizer seen through the :class:`Tokenizer` protocol."""

    def __init__(self, tokenizer: Any, batch_size: int = 4096) -> None:
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    def count(self, texts: Sequence[str]) -> list[int]:
        """Count tokens (no special tokens), in batches."""
        counts: list[int] = []
        items = list(texts)
        for i in range(0, len(items), self.batch_size):
            enc = self.tokenizer(
                items[i : i + self.batch_size],
                add_special_tokens=False,
                truncation=False,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,
            )
            counts.extend(len(ids) for ids in enc["input_ids"])
        return counts

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens (needs a fast tokenizer's offset mapping)."""
        enc = self.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        spans = [(int(s), int(e)) for s, e in enc["offset_mapping"]]
        # Byte-level BPE can give empty or overlapping spans for pieces of one character;
        # keep each character in exactly one token.
        cleaned: list[tuple[int, int]] = []
        last_end = 0
        for start, end in spans:
            start = max(start, last_end)
            if end <= start:
                continue
            cleaned.append((start, end))
            last_end = end
        return cleaned


def tokenizer_for(encoder: Any) -> Tokenizer:
    """The encoder's own tokenizer when it exposes one, else :class:`RegexTokenizer`."""
    tok = getattr(encoder, "tokenizer", None)
    if isinstance(tok, Tokenizer):
        return tok
    if tok is not None and callable(tok) and getattr(tok, "is_fast", False):
        return HFTokenizer(tok)
    return RegexTokenizer()
