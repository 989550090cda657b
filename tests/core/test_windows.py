"""FixedTokenChunker: windows of the tokenizer's tokens, sharing ``overlap`` tokens."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.encoders import RegexTokenizer
from manifold_core.windows import FixedTokenChunker

WORDS = st.lists(
    st.sampled_from(["solar", "panel", "熊", "猫", ".", "\n", "。", "x1", "tyre", ","]),
    max_size=120,
)


@settings(max_examples=80, deadline=None)
@given(WORDS, st.integers(1, 30), st.integers(0, 29))
def test_windows_are_slices_within_the_limit_covering_every_token(
    words: list[str], max_tokens: int, overlap: int
) -> None:
    overlap = min(overlap, max_tokens - 1)
    text = " ".join(words)
    tok = RegexTokenizer()
    chunks = FixedTokenChunker(tok, max_tokens, overlap).split_text(text)
    spans = tok.spans(text)
    covered: set[int] = set()
    for i, c in enumerate(chunks):
        assert c.index == i and text[c.start : c.end] == c.text
        inside = [k for k, (a, b) in enumerate(spans) if c.start <= a and b <= c.end]
        assert len(inside) == c.token_count <= max_tokens
        covered.update(inside)
    assert covered == set(range(len(spans)))
    for a, b in pairwise(chunks):
        if overlap:  # the next window starts inside this one
            assert a.start < b.start < a.end
        else:
            assert a.end <= b.start


def test_overlap_repeats_the_last_tokens() -> None:
    text = " ".join(f"w{i}" for i in range(25))
    chunks = FixedTokenChunker(RegexTokenizer(), 10, 3).split_text(text)
    assert [c.text.split()[0] for c in chunks] == ["w0", "w7", "w14", "w21"]
    assert chunks[0].text.split()[-3:] == chunks[1].text.split()[:3]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"overlap \(10\) must be smaller"):
        FixedTokenChunker(RegexTokenizer(), 10, 10)
    with pytest.raises(ValueError, match="max_tokens"):
        FixedTokenChunker(RegexTokenizer(), 0)
