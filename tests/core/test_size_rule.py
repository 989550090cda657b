"""The ``size`` breakpoint rule: an exact dynamic programme over gaps under a token cap."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.chunking import DEFAULT_SIZE_MAX_TOKENS, SemanticChunker, size_segments
from manifold_core.encoders import RegexTokenizer
from manifold_core.segments import overlap_starts


@st.composite
def units(draw: st.DrawFn, max_n: int = 40) -> tuple[list[int], list[float], int, int, float]:
    n = draw(st.integers(1, max_n))
    tokens = draw(st.lists(st.integers(1, 30), min_size=n, max_size=n))
    sims = draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=n - 1, max_size=n - 1))
    cap = draw(st.integers(1, 120))
    low = draw(st.integers(0, cap))
    cost = draw(st.floats(0, 2, allow_nan=False))
    return tokens, sims, cap, low, cost


def _cost(
    ranges: Sequence[tuple[int, int]],
    tokens: Sequence[int],
    sims: Sequence[float],
    cap: int,
    low: int,
    cost: float,
) -> float:
    total = 0.0
    for a, b in ranges:
        size = sum(tokens[a:b])
        if size > cap and b - a > 1:
            return float("inf")
        total += (cost + sims[a - 1]) if a > 0 else 0.0
        total += 2.0 * (cost + 2.0) if size < low else 0.0
    return total


@given(units())
@settings(max_examples=300, deadline=None)
def test_ranges_cover_the_units_in_order_and_fit_the_cap(
    case: tuple[list[int], list[float], int, int, float],
) -> None:
    tokens, sims, cap, low, cost = case
    ranges = size_segments(sims, tokens, cap, low, cost)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(tokens)
    for (_, b), (a, _) in itertools.pairwise(ranges):
        assert b == a  # contiguous, no gap, no overlap
    for a, b in ranges:
        assert a < b
        assert sum(tokens[a:b]) <= cap or b - a == 1  # a lone unit may be over the cap


@given(units(max_n=9))
@settings(max_examples=200, deadline=None)
def test_the_programme_is_optimal_against_brute_force(
    case: tuple[list[int], list[float], int, int, float],
) -> None:
    tokens, sims, cap, low, cost = case
    n = len(tokens)
    best = float("inf")
    for mask in range(2 ** (n - 1)):
        cuts = [g + 1 for g in range(n - 1) if mask >> g & 1]
        bounds = [0, *cuts, n]
        ranges = list(itertools.pairwise(bounds))
        best = min(best, _cost(ranges, tokens, sims, cap, low, cost))
    got = _cost(size_segments(sims, tokens, cap, low, cost), tokens, sims, cap, low, cost)
    assert got == pytest.approx(best, abs=1e-9)


def test_it_cuts_at_the_weakest_gap_that_the_cap_allows() -> None:
    # six units of 3 tokens, cap 9: two chunks of three units are forced...
    assert size_segments([0.9, 0.1, 0.8, 0.2, 0.9], [3] * 6, 9, cut_cost=1.0) == [(0, 3), (3, 6)]
    # ...with a cap of 12 the weakest gap (0.1) is where it cuts
    assert size_segments([0.9, 0.1, 0.8, 0.8, 0.9], [3] * 6, 12, cut_cost=1.0) == [(0, 2), (2, 6)]
    # a cheap chunk price lets it cut every dissimilar gap
    assert size_segments([0.9, -0.9, 0.8, -0.9, 0.9], [3] * 6, 100, cut_cost=0.5) == [
        (0, 2),
        (2, 4),
        (4, 6),
    ]


def test_min_tokens_avoids_short_chunks_when_possible() -> None:
    sims = [0.9, -0.5, 0.9, 0.9]
    assert size_segments(sims, [5, 5, 1, 5, 5], 12, cut_cost=0.0) == [(0, 2), (2, 5)]
    # a 1-token tail is absorbed rather than left alone
    assert size_segments([0.9, -0.9], [5, 5, 1], 11, min_tokens=3, cut_cost=0.0) == [(0, 3)]


def test_bad_similarity_count_is_refused() -> None:
    with pytest.raises(ValueError, match="similarities"):
        size_segments([0.1], [1, 1, 1], 5)


class _Constant:
    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    encode_queries = encode_documents


def test_the_default_is_the_size_rule_at_300_tokens_half_carried_over() -> None:
    chunker = SemanticChunker(_Constant(), tokenizer=RegexTokenizer())
    assert chunker.breakpoint_rule == "size"
    assert chunker.max_tokens == DEFAULT_SIZE_MAX_TOKENS == 300
    assert chunker.overlap_tokens == DEFAULT_SIZE_MAX_TOKENS // 2
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    chunks = chunker.split_text(text)
    assert all(c.token_count <= DEFAULT_SIZE_MAX_TOKENS for c in chunks)
    # uniform similarity: as few chunks as the cuts' cap (300 - 150) allows, 6 tokens a
    # sentence, each chunk after the first repeating the end of the one before: up to 150
    # tokens of whole sentences, never the whole chunk (25 sentences here, so 24)
    assert len(chunks) == -(-200 // (150 // 6))
    for prev, c in itertools.pairwise(chunks):
        assert c.start < prev.end and text[c.start : prev.end].count(".") == 150 // 6 - 1
    # another rule: no overlap, the model's limit (512 without one)
    seed = SemanticChunker(_Constant(), breakpoint_rule="percentile", tokenizer=RegexTokenizer())
    assert (seed.max_tokens, seed.overlap_tokens) == (512, 0)
    # an explicit size: half of it is carried over, unless overlap_tokens says otherwise
    assert SemanticChunker(_Constant(), max_tokens=80).overlap_tokens == 40
    assert SemanticChunker(_Constant(), max_tokens=80, overlap_tokens=0).overlap_tokens == 0


def test_the_default_size_keeps_a_chunks_new_text_within_the_models_limit() -> None:
    class Short(_Constant):
        max_seq_length = 64

    chunker = SemanticChunker(Short(), tokenizer=RegexTokenizer())
    assert (chunker.max_tokens, chunker.overlap_tokens) == (128, 64)


# --------------------------------------------------------------------- sentence overlap


@st.composite
def ranged_units(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[int], int]:
    n = draw(st.integers(1, 40))
    tokens = draw(st.lists(st.integers(1, 30), min_size=n, max_size=n))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1)) if n > 1 else set())
    bounds = [0, *cuts, n]
    return list(itertools.pairwise(bounds)), tokens, draw(st.integers(0, 80))


@given(ranged_units())
@settings(max_examples=300, deadline=None)
def test_overlap_is_whole_units_of_the_previous_range_within_the_bound(
    case: tuple[list[tuple[int, int]], list[int], int],
) -> None:
    ranges, tokens, overlap = case
    starts = overlap_starts(ranges, tokens, overlap)
    assert starts[0] == ranges[0][0]
    for i in range(1, len(ranges)):
        (prev_a, _), (a, _) = ranges[i - 1], ranges[i]
        s = starts[i]
        assert prev_a < s <= a  # only the previous range's units, never all of them
        assert sum(tokens[s:a]) <= overlap
        # greedy: one more unit would pass the bound (or take the whole previous range)
        assert s == a or s - 1 == prev_a or sum(tokens[s - 1 : a]) > overlap
        if s == a and a - 1 > prev_a:
            assert tokens[a - 1] > overlap


def test_overlap_takes_trailing_sentences_up_to_the_bound() -> None:
    ranges = [(0, 3), (3, 6)]
    assert overlap_starts(ranges, [5, 4, 3, 7, 7, 7], 7) == [0, 1]  # 4 + 3 fit, 5 more not
    assert overlap_starts(ranges, [5, 4, 9, 7, 7, 7], 7) == [0, 3]  # the last one is too long
    assert overlap_starts(ranges, [5, 4, 3, 7, 7, 7], 0) == [0, 3]
