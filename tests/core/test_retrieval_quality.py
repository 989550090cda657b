"""Quality on real data: SciFact test, all-MiniLM-L6-v2, BM25 vs dense vs hybrid (nDCG@10).

The corpus embeddings (5,183 abstracts, minutes on 2 cores) are cached in `.bench_cache/`
by `benchmarks/scifact_data.py`, shared with `benchmarks/retrieval.py --scifact`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest
from helpers import load_benchmark

from manifold_core.retrieval import HybridRetriever
from manifold_core.store import HybridStore

pytestmark = [pytest.mark.slow, pytest.mark.needs_data]


class _QueryCache:
    """The real encoder's query vectors, computed in one batch up front (same numbers)."""

    def __init__(self, encoder: Any, queries: list[str]) -> None:
        self.vectors = dict(zip(queries, encoder.encode_queries(queries), strict=True))

    def encode_documents(self, texts: Any) -> np.ndarray:
        raise AssertionError("corpus embeddings come from the cache")

    def encode_queries(self, texts: Any) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


@pytest.fixture(scope="module")
def scifact(minilm_encoder: Any) -> tuple[HybridRetriever, dict[str, str], Any, ModuleType]:
    import chromadb

    data = load_benchmark("scifact_data")
    corpus, queries, qrels = data.load_beir("scifact", "test")
    ids = sorted(corpus)
    texts = [corpus[i] for i in ids]
    vectors = data.cached_embeddings("all-MiniLM-L6-v2", texts, minilm_encoder.encode_documents)
    store = HybridStore(
        _QueryCache(minilm_encoder, list(queries.values())),
        client=chromadb.EphemeralClient(),
        collection_name="scifact-quality",
    )
    store.add(texts, ids=ids, embeddings=vectors)
    return HybridRetriever(store, k=10), queries, qrels, data


def _ndcg(scifact: Any, **kwargs: Any) -> float:
    retriever, queries, qrels, data = scifact
    run = {q: [h.id for h in retriever.search(text, **kwargs)] for q, text in queries.items()}
    return float(data.mean_ndcg(run, qrels))


def test_hybrid_beats_the_better_single_retriever_by_two_points(scifact: Any) -> None:
    bm25 = _ndcg(scifact, weights=(0.0, 1.0))
    dense = _ndcg(scifact, weights=(1.0, 0.0))
    hybrid = _ndcg(scifact)  # defaults: dbsf, equal weights, fetch_k=50
    print(f"SciFact test nDCG@10: BM25 {bm25:.4f}  dense {dense:.4f}  hybrid {hybrid:.4f}")
    # published: BM25 0.665, all-MiniLM-L6-v2 about 0.645
    # measured here: 0.6634 / 0.6484 / RRF 0.689-0.690 (the HNSW build varies a little)
    assert 0.62 < bm25 < 0.72 and 0.60 < dense < 0.69
    assert hybrid >= max(bm25, dense) + 0.02


def test_score_fusion_chosen_on_train_does_better_still(scifact: Any) -> None:
    """relative_score with fetch_k=100 was the best setting on the TRAIN split (0.7176 vs
    RRF 0.6954); on test it measured 0.7123, 0.049 above BM25 alone."""
    bm25 = _ndcg(scifact, weights=(0.0, 1.0))
    relative = _ndcg(scifact, fusion="relative_score", fetch_k=100)
    print(f"SciFact test nDCG@10: relative_score fusion {relative:.4f}")
    assert relative >= bm25 + 0.04
