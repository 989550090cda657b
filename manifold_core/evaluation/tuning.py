"""Fusion tuning on judgements: candidate lists per query, and cross-validated settings.

:func:`collect_candidates` searches each side once; :mod:`manifold_core.fusion_tuning`
then replays every fusion setting on those lists without searching again. Used by the
``hybrid-tuned`` pipeline of :func:`~manifold_core.evaluation.evaluate` and by
``manifold tune`` (:func:`tune_index`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from manifold_core.evaluation.beir import BeirDataset
from manifold_core.evaluation.metrics import latency_ms, score_run
from manifold_core.evaluation.progress import ProgressCallback, notify
from manifold_core.evaluation.report import PipelineResult
from manifold_core.fusion_tuning import (
    DEFAULT_DEPTHS,
    Candidates,
    CrossValidation,
    fused_ranking,
    tune_candidates,
)

__all__ = ["collect_candidates", "tune_index", "tuned_pipeline"]


def collect_candidates(
    store: Any,
    queries: Mapping[str, str],
    depth: int,
    progress: ProgressCallback | None = None,
    task: str = "candidates",
) -> tuple[dict[str, Any], list[float]]:
    """Each query's dense and lexical candidates (``depth`` per side), as a store gives them.

    Returns ``query id -> Candidates`` and the seconds each query's two searches took.
    The same lists :class:`~manifold_core.retrieval.HybridRetriever` fuses, so any
    setting of at most ``depth`` candidates can be replayed on them without searching.
    """
    out: dict[str, Candidates] = {}
    times: list[float] = []
    total = len(queries)
    notify(progress, task, 0, total)
    for done, (qid, query) in enumerate(queries.items(), 1):
        t0 = time.perf_counter()
        vector = np.asarray(store.encoder.encode_queries([query]), dtype=np.float32)[0]
        dense = store.dense_search(vector, depth)
        lexical = store.lexical_search(query, depth)
        times.append(time.perf_counter() - t0)
        out[qid] = Candidates(dense=dense, lexical=lexical)
        notify(progress, task, done, total)
    return out, times


def _deepest(grid: Sequence[Any] | None) -> int:
    """The most candidates per side any setting of ``grid`` (default grid: None) reads."""
    return max((s.depth for s in grid) if grid else DEFAULT_DEPTHS)


def tune_index(
    store: Any,
    dataset: BeirDataset,
    *,
    folds: int = 5,
    seed: int = 0,
    grid: Sequence[Any] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[CrossValidation, int]:
    """Cross-validate fusion settings on an ingested index against ``dataset``'s judgements.

    The index holds chunks; a chunk counts as the document its ``doc_id`` metadata names
    (the ``_id`` of a JSONL record, as ``manifold ingest`` sets it), else as its own id.
    Only queries with a judged document in the index are used, and judgements of
    documents the index lacks are ignored (no setting could find them).

    Returns:
        the :class:`~manifold_core.fusion_tuning.CrossValidation` and the number of
        queries it used.

    Raises:
        ValueError: no judged document of ``dataset`` is in the index.
    """
    judged = sorted({d for rels in dataset.qrels.values() for d in rels})
    present: set[str] = set()
    for begin in range(0, len(judged), 500):
        batch = judged[begin : begin + 500]
        for where in ({"doc_id": {"$in": batch}}, None):
            found = store.get(ids=batch) if where is None else store.get(filter=where, limit=10**6)
            present.update(str(r.metadata.get("doc_id", r.id)) for r in found)
    qrels = {
        q: {d: g for d, g in rels.items() if d in present} for q, rels in dataset.qrels.items()
    }
    qrels = {q: rels for q, rels in qrels.items() if rels}
    if not qrels:
        raise ValueError(
            f"no judged document of {dataset.name} ({dataset.split}) is in the index: its "
            "chunks' doc_id (a JSONL record's _id) or ids must be the qrels' corpus ids; "
            "ingest the dataset's corpus.jsonl"
        )
    queries = {q: dataset.queries[q] for q in qrels}
    cands, _ = collect_candidates(store, queries, _deepest(grid), progress, "tuning")
    ids = sorted({i for c in cands.values() for i, _ in [*c.dense, *c.lexical]})
    doc_of: dict[str, str] = {}
    for begin in range(0, len(ids), 500):
        for r in store.get(ids=ids[begin : begin + 500]):
            doc_of[r.id] = str(r.metadata.get("doc_id", r.id))
    cv = tune_candidates(cands, qrels, grid, folds=folds, seed=seed, doc_of=doc_of)
    return cv, len(qrels)


def tuned_pipeline(
    dataset: BeirDataset,
    store: Any,
    depth: int,
    tuning: dict[str, Any],
    progress: ProgressCallback | None,
) -> PipelineResult:
    """``hybrid-tuned``: cross-validated fusion setting, each query ranked by its fold's.

    ``tuning`` brings ``folds``, ``seed`` and ``grid``; the setting chosen on all queries
    and its cross-validated score are written back to it under ``"result"``.
    """
    grid = tuning.get("grid")
    cands, times = collect_candidates(
        store, dataset.queries, max(_deepest(grid), depth), progress, "hybrid-tuned"
    )
    cv = tune_candidates(
        cands, dataset.qrels, grid, folds=tuning.get("folds", 5), seed=tuning.get("seed", 0)
    )
    chosen = cv.held_out_setting()
    run: dict[str, list[str]] = {}
    for i, (qid, cand) in enumerate(cands.items()):
        t0 = time.perf_counter()
        run[qid] = fused_ranking(cand, chosen[qid], k=depth)
        times[i] += time.perf_counter() - t0
    result = PipelineResult(
        "hybrid-tuned", score_run(dataset.qrels, run), *latency_ms(times), run=run
    )
    tuning["result"] = {
        "setting": cv.setting.to_dict(),
        "cv_ndcg@10": cv.score,
        "folds": len(cv.folds),
        "fold_settings": [s.to_dict() for s in cv.fold_settings],
    }
    return result
