"""Token-level chunk scores: exact values on hand-made spans, and rules for all spans."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from manifold_core.chunk_eval import (
    SpanScores,
    TokenSpans,
    budget_spans,
    intersect_spans,
    span_scores,
    spans_length,
    token_interval,
    token_span_scores,
    union_spans,
)


def _exact(scores: SpanScores, recall: Fraction, precision: Fraction, iou: Fraction) -> None:
    assert scores.recall == pytest.approx(float(recall), abs=1e-12)
    assert scores.precision == pytest.approx(float(precision), abs=1e-12)
    assert scores.iou == pytest.approx(float(iou), abs=1e-12)


def test_chunk_equal_to_the_reference_scores_one() -> None:
    _exact(span_scores([(10, 50)], [(10, 50)]), Fraction(1), Fraction(1), Fraction(1))


def test_disjoint_chunk_scores_zero() -> None:
    _exact(span_scores([(0, 10)], [(10, 20)]), Fraction(0), Fraction(0), Fraction(0))


def test_half_overlap_gives_exact_fractions() -> None:
    # chunk [0, 20), reference [10, 30): 10 shared of 20 each, union 30
    _exact(span_scores([(0, 20)], [(10, 30)]), Fraction(1, 2), Fraction(1, 2), Fraction(1, 3))
    # chunk holds the whole reference and as much again: recall 1, precision 1/2
    _exact(span_scores([(0, 40)], [(0, 20)]), Fraction(1), Fraction(1, 2), Fraction(1, 2))
    # chunk is half of the reference: recall 1/2, precision 1
    _exact(span_scores([(0, 10)], [(0, 20)]), Fraction(1, 2), Fraction(1), Fraction(1, 2))


def test_several_references() -> None:
    # references [0,10) and [20,30); the chunk [5,25) holds 5 of each
    _exact(
        span_scores([(5, 25)], [(0, 10), (20, 30)]),
        Fraction(10, 20),
        Fraction(10, 20),
        Fraction(10, 30),
    )
    # two chunks, each one reference exactly
    _exact(
        span_scores([(20, 30), (0, 10)], [(0, 10), (20, 30)]), Fraction(1), Fraction(1), Fraction(1)
    )


def test_overlapping_chunks_are_counted_once() -> None:
    once = span_scores([(0, 20)], [(10, 30)])
    twice = span_scores([(0, 20), (0, 20), (5, 15)], [(10, 30)])
    assert twice == once
    # two windows overlapping by 10: their union [0, 30) is the reference exactly
    _exact(span_scores([(0, 20), (10, 30)], [(0, 30)]), Fraction(1), Fraction(1), Fraction(1))
    # overlapping references too
    _exact(span_scores([(0, 30)], [(0, 20), (10, 30)]), Fraction(1), Fraction(1), Fraction(1))


def test_nothing_retrieved_scores_zero_and_empty_references_are_an_error() -> None:
    _exact(span_scores([], [(0, 5)]), Fraction(0), Fraction(0), Fraction(0))
    with pytest.raises(ValueError, match="recall is undefined"):
        span_scores([(0, 5)], [])
    with pytest.raises(ValueError, match="start <= end"):
        span_scores([(5, 0)], [(0, 5)])


def test_union_and_intersection() -> None:
    assert union_spans([(5, 8), (0, 3), (3, 4), (7, 10), (12, 12)]) == [(0, 4), (5, 10)]
    assert intersect_spans([(0, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]
    assert spans_length([(0, 10), (5, 15)]) == 15


# tokens of "aa bb cc dd": (0,2) (3,5) (6,8) (9,11)
TOKENS = [(0, 2), (3, 5), (6, 8), (9, 11)]


def test_token_interval_takes_every_token_a_span_touches() -> None:
    assert token_interval((0, 11), TOKENS) == (0, 4)
    assert token_interval((4, 7), TOKENS) == (1, 3)  # one character of bb and of cc
    assert token_interval((2, 3), TOKENS) == (1, 1)  # only the space: no token
    assert token_interval((5, 6), TOKENS) == (2, 2)


def test_token_scores_count_tokens_not_characters() -> None:
    # chunk "aa bb" vs reference "bb cc dd": 1 shared token of 2 retrieved and 3 references
    _exact(
        token_span_scores([(0, 5)], [(3, 11)], TOKENS),
        Fraction(1, 3),
        Fraction(1, 2),
        Fraction(1, 4),
    )


def test_budget_takes_chunks_in_rank_order_and_cuts_the_last() -> None:
    ranked = [(6, 11, 2), (0, 5, 2)]
    assert budget_spans(ranked, 4) == [(6, 11), (0, 5)]
    assert budget_spans(ranked, 2) == [(6, 11)]
    # 3 tokens: the second chunk is cut to its first token, or left out without token spans
    assert budget_spans(ranked, 3, TOKENS) == [(6, 11), (0, 2)]
    assert budget_spans(ranked, 3) == [(6, 11)]
    with pytest.raises(ValueError):
        budget_spans(ranked, 0)


SPAN = st.tuples(st.integers(0, 60), st.integers(0, 30)).map(lambda t: (t[0], t[0] + t[1]))
NONEMPTY = st.tuples(st.integers(0, 60), st.integers(1, 30)).map(lambda t: (t[0], t[0] + t[1]))


@given(st.lists(SPAN, max_size=6), st.lists(NONEMPTY, min_size=1, max_size=4))
def test_scores_are_fractions_and_iou_is_below_both(
    retrieved: list[tuple[int, int]], references: list[tuple[int, int]]
) -> None:
    s = span_scores(retrieved, references)
    for value in (s.recall, s.precision, s.iou):
        assert 0.0 <= value <= 1.0
    assert s.iou <= min(s.recall, s.precision) + 1e-12
    # exactly what a set of positions gives
    got = {i for a, b in retrieved for i in range(a, b)}
    refs = {i for a, b in references for i in range(a, b)}
    assert s.recall == pytest.approx(len(got & refs) / len(refs))
    assert s.iou == pytest.approx(len(got & refs) / len(got | refs))
    # retrieving the references themselves on top never lowers recall
    assert span_scores(retrieved + references, references).recall == 1.0


def test_an_indexed_token_list_gives_the_same_intervals_and_budget_cut() -> None:
    index = TokenSpans(TOKENS)
    assert list(index) == list(TOKENS) and len(index) == len(TOKENS)
    for span in [(0, 11), (4, 7), (2, 3), (5, 6), (0, 0)]:
        assert token_interval(span, index) == token_interval(span, TOKENS)
    ranked = [(6, 11, 2), (0, 5, 2)]
    assert budget_spans(ranked, 3, index) == budget_spans(ranked, 3, TOKENS)
    assert token_span_scores([(0, 5)], [(3, 11)], index) == token_span_scores(
        [(0, 5)], [(3, 11)], TOKENS
    )
