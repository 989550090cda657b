"""SciFact (BEIR layout) for the benchmarks: loading, nDCG@k, and a corpus-embedding cache.

Loading and metrics are :mod:`manifold_core.evaluation`'s (``ir-measures``); this module
adapts them to the dicts the scripts use. Shared by the quality test
(`tests/core/test_retrieval_quality.py`) and `benchmarks/retrieval.py --scifact`, so the
minutes-long corpus embedding runs once. The cache lives in `.bench_cache/` (git-ignored),
keyed by model name and a hash of the corpus texts, stored with `np.save(allow_pickle=False)`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manifold_core import evaluation

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("MANIFOLD_BENCH_CACHE", REPO_ROOT / ".bench_cache"))


def data_dir() -> Path:
    """`$MANIFOLD_SHARED_DIR/data`, default `../shared/data` beside the repository."""
    shared = os.environ.get("MANIFOLD_SHARED_DIR")
    return (Path(shared) if shared else REPO_ROOT.parent / "shared") / "data"


def load_beir(
    name: str = "scifact", split: str = "test"
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """``(corpus id -> "title\\n\\ntext", query id -> text, qrels)`` of ``data_dir()/name``.

    A thin wrapper over :func:`manifold_core.evaluation.load_beir` (the one loader), kept
    for the benchmarks and tests that take the three dicts.
    """
    data = evaluation.load_beir(data_dir() / name, split)
    return data.corpus, data.queries, data.qrels


def mean_ndcg(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k: int = 10
) -> float:
    """Mean nDCG@k over the queries of ``qrels`` (``ir-measures``, via the core)."""
    name = f"nDCG@{k}"
    return evaluation.score_run(qrels, run, {name: name})[name]


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
