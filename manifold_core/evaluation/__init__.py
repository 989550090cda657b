"""Evaluate retrieval pipelines on a BEIR-format dataset: loader, metrics, comparison.

:func:`load_beir` reads one split of a BEIR folder (:mod:`.beir`); :func:`evaluate`
builds a :class:`~manifold_core.store.HybridStore` from the corpus and runs the pipelines
``bm25``, ``dense``, ``hybrid``, ``hybrid-tuned`` and ``hybrid+rerank``
(:mod:`.pipelines`, fusion tuning in :mod:`.tuning`), scoring each with nDCG@10,
Recall@100 and MRR@10 computed by ``ir-measures`` (:mod:`.metrics`) and timing every
query; the result is an :class:`EvaluationReport` (:mod:`.report`), drawn by
:func:`~manifold_core.plotting.plot_report`.

Nothing here imports rich or a framework: progress goes through a plain callback.
"""

from __future__ import annotations

from manifold_core.evaluation.beir import (
    BeirDataset,
    beir_file,
    load_beir,
    read_beir_rows,
    read_qrels,
)
from manifold_core.evaluation.metrics import METRICS, latency_ms, score_run
from manifold_core.evaluation.pipelines import PIPELINES, build_store, evaluate, parse_pipelines
from manifold_core.evaluation.progress import ProgressCallback
from manifold_core.evaluation.report import EvaluationReport, PipelineResult
from manifold_core.evaluation.tuning import collect_candidates, tune_index
from manifold_core.plotting import plot_report

__all__ = [
    "METRICS",
    "PIPELINES",
    "BeirDataset",
    "EvaluationReport",
    "PipelineResult",
    "ProgressCallback",
    "beir_file",
    "build_store",
    "collect_candidates",
    "evaluate",
    "latency_ms",
    "load_beir",
    "parse_pipelines",
    "plot_report",
    "read_beir_rows",
    "read_qrels",
    "score_run",
    "tune_index",
]
