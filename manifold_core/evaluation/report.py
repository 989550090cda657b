"""What an evaluation measured: one result per pipeline, and the report around them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from manifold_core.evaluation.metrics import METRICS

__all__ = ["EvaluationReport", "PipelineResult"]


@dataclass
class PipelineResult:
    """Quality and speed of one pipeline.

    Attributes:
        name: the pipeline (``bm25``, ``dense``, ``hybrid``, ``hybrid+rerank``).
        metrics: reported metric name -> mean over the queries.
        latency_ms_mean: mean wall time per query, in milliseconds (query embedding,
            search, fusion, reading the hits, reranking: what a user waits for), after
            one untimed warm-up query.
        latency_ms_p95: the 95th percentile of the same.
        run: query id -> ranked document ids (not written by :meth:`EvaluationReport.to_dict`
            unless asked).
    """

    name: str
    metrics: dict[str, float]
    latency_ms_mean: float
    latency_ms_p95: float
    run: dict[str, list[str]] = field(default_factory=dict, repr=False)


@dataclass
class EvaluationReport:
    """What :func:`~manifold_core.evaluation.evaluate` measured, for a table, JSON or a chart.

    ``tuned`` (with ``hybrid-tuned``): the setting tuned on all queries (``setting``),
    its cross-validated nDCG@10 (``cv_ndcg@10``), ``folds`` and each fold's setting.
    The chart is :func:`manifold_core.plotting.plot_report`.
    """

    dataset: str
    split: str
    n_queries: int
    n_documents: int
    embedding_model: str | None
    reranker_model: str | None
    fusion: str
    depth: int
    rerank_depth: int
    pipelines: dict[str, PipelineResult]
    index_seconds: float = 0.0
    tuned: dict[str, Any] | None = None
    metric_definitions: dict[str, str] = field(default_factory=lambda: dict(METRICS))

    def to_dict(self, include_runs: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; ``include_runs`` adds every query's ranked ids."""
        data = asdict(self)
        for name, result in data["pipelines"].items():
            if not include_runs:
                result.pop("run")
            result.pop("name")
            data["pipelines"][name] = result
        return data

    def write_json(self, path: str | Path, include_runs: bool = False) -> Path:
        """Write :meth:`to_dict` as indented JSON (parent folders created); return the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(self.to_dict(include_runs), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        return out
