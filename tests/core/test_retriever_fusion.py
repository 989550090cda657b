"""Fusing arbitrary retrievers (both adapters' drop-in mode) and setting up pipeline rerankers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from manifold_core.reranker_setup import build_reranker, check_pipeline_reranker
from manifold_core.retriever_fusion import (
    FUSED_SCORE_KEYS,
    check_ensemble,
    ensemble_weights,
    fuse_results,
    fused_metadata,
    refuse_filter,
    score_of,
)


@dataclass
class _Item:
    key: str
    text: str
    score: object = None


def test_fuse_results_keeps_the_first_copy_of_each_key() -> None:
    a = [_Item("1", "one", 0.9), _Item("2", "two", 0.5)]
    b = [_Item("2", "two, other copy", 7.0), _Item("3", "three", 1.0)]
    fused = fuse_results([a, b], key=lambda i: i.key, score=lambda i: i.score, fusion="rrf")
    assert [(item.text, f.id) for item, f in fused] == [
        ("two", "2"),
        ("one", "1"),
        ("three", "3"),
    ]
    assert fused[0][1].ranks == (2, 1) and fused[0][1].scores == (0.5, 7.0)
    assert fused[0][1].score == pytest.approx(1 / 62 + 1 / 61)
    top = fuse_results([a, b], key=lambda i: i.key, score=lambda i: i.score, fusion="rrf", k=1)
    assert [f.id for _, f in top] == ["2"]
    meta = fused_metadata(fused[0][1])
    assert set(meta) == set(FUSED_SCORE_KEYS)
    assert meta == {
        "fused_score": fused[0][1].score,
        "retriever_ranks": [2, 1],
        "retriever_scores": [0.5, 7.0],
    }


def test_a_score_that_is_not_a_number_counts_as_missing() -> None:
    assert score_of(0.5) == 0.5 and score_of(3) == 3
    assert score_of(None) is None and score_of(True) is None and score_of("0.9") is None
    items = [[_Item("1", "x", "high")]]
    fused = fuse_results(items, key=lambda i: i.key, score=lambda i: i.score, fusion="rrf")
    assert fused[0][1].scores == (None,)
    with pytest.raises(ValueError, match="needs scores"):
        fuse_results(items, key=lambda i: i.key, score=lambda i: i.score, fusion="dbsf")


def test_ensemble_checks() -> None:
    assert check_ensemble(object(), None, None) == (True, "dbsf")
    assert check_ensemble(None, [object()], None) == (False, "rrf")
    assert check_ensemble(None, [object()], "weighted") == (False, "weighted")
    with pytest.raises(ValueError, match="exactly one"):
        check_ensemble(None, None, None)
    with pytest.raises(ValueError, match="exactly one"):
        check_ensemble(object(), [object()], None)
    with pytest.raises(ValueError, match="must not be empty"):
        check_ensemble(None, [], None)
    with pytest.raises(ValueError, match="'borda'"):
        check_ensemble(None, [object()], "borda")
    with pytest.raises(ValueError, match="k must be a positive int"):
        fuse_results([[]], key=str, score=str, fusion="rrf", k=0)
    with pytest.raises(ValueError, match="hybrid mode"):
        refuse_filter({"a": 1})
    refuse_filter(None)


def test_ensemble_weights_one_rule_for_both_modes() -> None:
    assert ensemble_weights(None, 3, hybrid=False) is None
    assert ensemble_weights([1, 2], 2, hybrid=True) == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"got 2 weights, expected 3 \(one per retriever\)"):
        ensemble_weights([1, 1], 3, hybrid=False)
    with pytest.raises(ValueError, match=r"got 1 weights, expected 2 \(\[dense, lexical\]\)"):
        ensemble_weights([1], 2, hybrid=True)
    # The LangChain adapter's own check used to let NaN through in hybrid mode (refused only
    # at the first query); the one rule refuses it when the retriever is built.
    with pytest.raises(ValueError, match="dense weight must be a finite number"):
        ensemble_weights([float("nan"), 1.0], 2, hybrid=True)
    with pytest.raises(ValueError, match="at least one weight"):
        ensemble_weights([0, 0], 2, hybrid=False)


class _Scorer:
    """A reranker the pipelines can call (score + rerank with texts= and retrieval_scores=)."""

    def score(self, query: str, texts: list[str]) -> list[float]:
        return [0.5] * len(texts)

    def rerank(self, query: str, items: list[object], **kwargs: object) -> list[object]:
        return list(items)


def test_pipeline_reranker_options_are_checked_before_any_model_loads() -> None:
    scorer = _Scorer()
    assert check_pipeline_reranker(scorer, 3, None, None) is scorer
    with pytest.raises(ValueError, match="top_n"):
        check_pipeline_reranker(scorer, 0, None, None)
    with pytest.raises(TypeError, match="score"):
        check_pipeline_reranker(object(), 3, None, None)
    # a model name that does not exist: the bad option is reported, nothing is loaded
    for kind in ("qwen3", "cross-encoder"):
        with pytest.raises(ValueError, match="threshold"):
            build_reranker(kind, "no/such-model", top_n=3, threshold=2.0, blend=None)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="blend"):
            build_reranker(kind, "no/such-model", top_n=3, threshold=None, blend=-1.0)  # type: ignore[arg-type]
