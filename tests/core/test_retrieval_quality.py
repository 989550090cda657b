"""Quality on real data: SciFact test, all-MiniLM-L6-v2, BM25 vs dense vs hybrid (nDCG@10).

The corpus embeddings (5,183 abstracts, minutes on 2 cores) are cached in `.bench_cache/`
by `benchmarks/scifact_data.py`, shared with `benchmarks/retrieval.py --scifact`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from manifold_core.retrieval import HybridRetriever
from manifold_core.store import HybridStore

pytestmark = [pytest.mark.slow, pytest.mark.needs_data]


def _scifact_module() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "scifact_data.py"
    spec = importlib.util.spec_from_file_location("scifact_data", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scifact(minilm_encoder: Any) -> tuple[HybridRetriever, dict[str, str], Any, ModuleType]:
    import chromadb

    data = _scifact_module()
    corpus, queries, qrels = data.load_beir("scifact", "test")
    ids = sorted(corpus)
    texts = [corpus[i] for i in ids]
    vectors = data.cached_embeddings("all-MiniLM-L6-v2", texts, minilm_encoder.encode_documents)
    store = HybridStore(
        minilm_encoder, client=chromadb.EphemeralClient(), collection_name="scifact-quality"
    )
    store.add(texts, ids=ids, embeddings=vectors)
    return HybridRetriever(store, k=10, fetch_k=100), queries, qrels, data


def _ndcg(scifact: Any, **kwargs: Any) -> float:
    retriever, queries, qrels, data = scifact
    run = {q: [h.id for h in retriever.search(text, **kwargs)] for q, text in queries.items()}
    return float(data.mean_ndcg(run, qrels))


def test_hybrid_beats_the_better_single_retriever_by_two_points(scifact: Any) -> None:
    bm25 = _ndcg(scifact, weights=(0.0, 1.0))
    dense = _ndcg(scifact, weights=(1.0, 0.0))
    hybrid = _ndcg(scifact)  # defaults: RRF, c=60, equal weights
    print(f"SciFact test nDCG@10: BM25 {bm25:.4f}  dense {dense:.4f}  hybrid {hybrid:.4f}")
    # published: BM25 0.665, all-MiniLM-L6-v2 about 0.645
    assert 0.62 < bm25 < 0.72 and 0.60 < dense < 0.69
    assert hybrid >= max(bm25, dense) + 0.02
