"""Scoring a run against judgements (``ir-measures``) and summarising query latencies.

The metrics are ``trec_eval``'s implementations, through ``ir-measures`` (imported when
first used), so figures match published BEIR numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["METRICS", "latency_ms", "score_run"]

METRICS: dict[str, str] = {"nDCG@10": "nDCG@10", "Recall@100": "R@100", "MRR@10": "RR@10"}
"""Reported name -> ``ir-measures`` measure. MRR@10 is ``RR@10`` averaged over queries."""


def score_run(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Sequence[str]],
    metrics: Mapping[str, str] = METRICS,
) -> dict[str, float]:
    """Mean of each metric over every query of ``qrels``, computed with ``ir-measures``.

    Args:
        qrels: query id -> {document id -> relevance}.
        run: query id -> document ids, best first. A judged query missing from ``run``
            (or with no results) scores 0, as ``trec_eval -c`` counts it; queries
            without judgements are ignored.
        metrics: reported name -> ``ir-measures`` measure string (default
            :data:`METRICS`).

    Returns:
        reported name -> mean value, in the order of ``metrics``.
    """
    import ir_measures

    if not qrels:
        raise ValueError("qrels is empty: nothing to score")
    measures = {name: ir_measures.parse_measure(m) for name, m in metrics.items()}
    # trec_eval orders by score and breaks ties by document id: give strictly
    # decreasing scores so the given order is the order evaluated.
    scored = {
        q: {doc: float(len(ranked) - i) for i, doc in enumerate(dict.fromkeys(ranked))}
        for q, ranked in run.items()
        if q in qrels and ranked
    }
    sums = dict.fromkeys(measures, 0.0)
    if scored:
        by_measure = {m: name for name, m in measures.items()}
        qrels_used = {q: dict(qrels[q]) for q in scored}
        for metric in ir_measures.iter_calc(list(measures.values()), qrels_used, scored):
            sums[by_measure[metric.measure]] += float(metric.value)
    return {name: sums[name] / len(qrels) for name in measures}


def latency_ms(times: Sequence[float]) -> tuple[float, float]:
    """Mean and 95th percentile of ``times`` (seconds), in milliseconds."""
    ms = np.asarray(times, dtype=np.float64) * 1000.0
    return float(ms.mean()), float(np.percentile(ms, 95))
