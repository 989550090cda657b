"""The default splitter on the shipped chunking sets, on held-out questions (slow).

The measured figures are in docs/benchmarks.md (``benchmarks/chunk_default.py``); the
default (``size`` rule, 300 tokens, 150 carried over) was chosen on the ``dev`` half and is
asserted here on the ``test`` half, as measured there:

- English: at least as good as every fixed-size and recursive splitter in recall *and* IoU
  at a budget of 1,000 retrieved tokens (Pareto-dominance);
- Chinese: IoU at least as good as every one, and recall at most one question below the
  best of them (a gap the paired bootstrap interval does not support: its interval
  contains 0).
"""

from __future__ import annotations

import pytest
from helpers import REPO_ROOT, load_benchmark

from manifold_core.chunk_benchmark import evaluate_chunkers
from manifold_core.encoders import resolve_encoder

EXAMPLES = REPO_ROOT / "examples"

BENCH = load_benchmark("chunk_default")  # its baselines and dev / test question halves
BASELINES = list(BENCH.BASELINES)


@pytest.mark.slow
def test_english_default_dominates_fixed_and_recursive_splitters_at_a_budget() -> None:
    data = BENCH.load_half(str(EXAMPLES / "chunking-en"), "test")
    report = evaluate_chunkers(
        data, ["semantic", *BASELINES], resolve_encoder("pkg:all-MiniLM-L6-v2"), budget=1000
    )
    ours = report.results["semantic"]
    for other in BASELINES:
        theirs = report.results[other].at_budget
        assert ours.at_budget["recall"] >= theirs["recall"], (other, ours.at_budget, theirs)
        assert ours.at_budget["iou"] >= theirs["iou"], (other, ours.at_budget, theirs)
    assert ours.tokens_max <= 300


@pytest.mark.slow
def test_chinese_default_wins_iou_and_ties_recall_at_a_budget() -> None:
    data = BENCH.load_half(str(EXAMPLES / "chunking-zh"), "test")
    report = evaluate_chunkers(
        data, ["semantic", *BASELINES], resolve_encoder("pkg:multilingual-use"), budget=1000
    )
    ours = report.results["semantic"].at_budget
    one_question = 1 / report.n_queries
    for other in BASELINES:
        theirs = report.results[other].at_budget
        assert ours["iou"] >= theirs["iou"], (other, ours, theirs)
        assert ours["recall"] >= theirs["recall"] - one_question - 1e-9, (other, ours, theirs)
        assert report.compare("semantic", other)["recall"].verdict != "worse", other
