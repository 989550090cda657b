"""SciFact with a real cross-encoder: what reranking must guarantee, and the figures.

nDCG@10 of hybrid alone, + rerank of the top 30, + blended rerank are *reported* (printed,
and recorded in docs/benchmarks.md), not asserted to improve: this int8-derived ms-marco
model does not reliably beat hybrid retrieval on SciFact.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

pytestmark = [pytest.mark.slow, pytest.mark.needs_data]

# 30 candidates x N queries through a 12-layer cross-encoder: about 3 pairs/s on 2 busy
# cores, so the test takes the first 20 queries (MANIFOLD_SCIFACT_RERANK_QUERIES to
# change); `benchmarks/rerank_scifact.py` measures more. Scores are cached either way.
N_QUERIES = int(os.environ.get("MANIFOLD_SCIFACT_RERANK_QUERIES", "20"))


@pytest.fixture(scope="module")
def result() -> Any:
    from benchmarks.rerank_scifact import evaluate

    return evaluate(n_queries=N_QUERIES, top=30, blends=(0.0, 1.0, 1e9))


def test_scifact_rerank_figures_and_guarantees(result: Any) -> None:
    ndcg = result.ndcg
    runs = result.runs
    print(
        f"\nSciFact test, first {N_QUERIES} queries, nDCG@10: "
        + ", ".join(f"{k} {v:.3f}" for k, v in ndcg.items())
    )
    assert result.queries == N_QUERIES
    assert all(0.0 <= v <= 1.0 for v in ndcg.values())
    # reranking only reorders the first stage's top 30
    for q, hybrid in runs["hybrid"].items():
        assert len(hybrid) == 30
        for name in ("rerank", "blend=1", "blend=0", "blend=1e+09"):
            assert sorted(runs[name][q]) == sorted(hybrid)
    # blend 0 gives the retrieval order back; a huge weight the reranker's
    assert runs["blend=0"] == runs["hybrid"]
    assert runs["blend=1e+09"] == runs["rerank"]
    assert ndcg["blend=0"] == ndcg["hybrid"]
    assert ndcg["blend=1e+09"] == ndcg["rerank"]
    # the hybrid first stage is sound (BEIR BM25 is 0.665, MiniLM 0.645 on all 300)
    assert ndcg["hybrid"] > 0.5
