"""SciFact (BEIR layout) loading, nDCG@10, and an on-disk cache of corpus embeddings.

Shared by the quality test (`tests/core/test_retrieval_quality.py`) and
`benchmarks/retrieval.py --scifact`, so the minutes-long corpus embedding runs once.
The cache lives in `.bench_cache/` (git-ignored), keyed by model name and a hash of the
corpus texts, stored with `np.save(allow_pickle=False)`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("MANIFOLD_BENCH_CACHE", REPO_ROOT / ".bench_cache"))


def data_dir() -> Path:
    """`$MANIFOLD_SHARED_DIR/data`, default `../shared/data` beside the repository."""
    shared = os.environ.get("MANIFOLD_SHARED_DIR")
    return (Path(shared) if shared else REPO_ROOT.parent / "shared") / "data"


def load_beir(
    name: str = "scifact", split: str = "test"
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """Return ``(corpus id -> "title. text", query id -> text, qrels)`` for ``split``."""
    root = data_dir() / name
    corpus: dict[str, str] = {}
    with gzip.open(root / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            title = (row.get("title") or "").strip()
            corpus[str(row["_id"])] = f"{title}. {row['text']}" if title else row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels" / f"{split}.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    queries: dict[str, str] = {}
    with gzip.open(root / "queries.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["_id"]) in qrels:
                queries[str(row["_id"])] = row["text"]
    return corpus, queries, qrels


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (BEIR's definition: gain = rel, discount log2(rank+1))."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mean_ndcg(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k: int = 10
) -> float:
    """Mean nDCG@k over the queries of ``qrels``."""
    return float(np.mean([ndcg_at_k(run.get(q, []), rel, k) for q, rel in qrels.items()]))


def cached_embeddings(
    model_name: str, texts: Sequence[str], encode: Callable[[list[str]], Any]
) -> np.ndarray:
    """``encode(texts)`` once per (model, texts); later calls read `.bench_cache/`."""
    digest = hashlib.sha256()
    digest.update(model_name.encode())
    for t in texts:
        digest.update(hashlib.sha256(t.encode()).digest())
    path = CACHE_DIR / f"emb-{digest.hexdigest()[:24]}.npy"
    if path.exists():
        array = np.load(path, allow_pickle=False)
        if array.shape[0] == len(texts):
            return array
    array = np.asarray(encode(list(texts)), dtype=np.float32)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, array, allow_pickle=False)
    os.replace(tmp, path)
    return array
