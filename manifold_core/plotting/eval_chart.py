"""The evaluation chart: each metric per pipeline as grouped bars, and query latency.

Draws an :class:`~manifold_core.evaluation.EvaluationReport` (only its attributes are
read, so nothing of :mod:`manifold_core.evaluation` is imported at run time).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from manifold_core.evaluation.report import EvaluationReport

__all__ = ["plot_report"]


def plot_report(report: EvaluationReport, path: str | Path) -> Path:
    """Write a PNG: grouped bars of each metric per pipeline, and mean/p95 latency.

    Uses matplotlib's Agg canvas directly (no ``pyplot``, no global backend switch), so
    it works without a display and does not disturb a notebook's backend.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(report.pipelines)
    if not names:
        raise ValueError("the report has no pipelines to plot")
    metrics = list(next(iter(report.pipelines.values())).metrics)
    fig = Figure(figsize=(11, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    quality, speed = fig.subplots(1, 2, width_ratios=[2, 1])
    width = 0.8 / len(names)
    x = np.arange(len(metrics))
    for i, name in enumerate(names):
        values = [report.pipelines[name].metrics[m] for m in metrics]
        bars = quality.bar(x + (i - (len(names) - 1) / 2) * width, values, width, label=name)
        quality.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    quality.set_xticks(x, metrics)
    quality.set_ylim(0, 1.16)
    quality.set_ylabel("score")
    quality.legend(loc="upper center", ncols=len(names), fontsize=8, frameon=False)
    quality.set_title(
        f"{report.dataset} ({report.split}): {report.n_queries} queries, "
        f"{report.n_documents} documents",
        fontsize=10,
    )
    means = [report.pipelines[n].latency_ms_mean for n in names]
    p95 = [report.pipelines[n].latency_ms_p95 for n in names]
    colors = [f"C{i}" for i in range(len(names))]
    pos = np.arange(len(names))
    speed.bar(pos, means, 0.6, color=colors)
    speed.scatter(pos, p95, marker="_", s=400, color="black", zorder=3)
    speed.set_xticks(pos, names, rotation=20, fontsize=8)
    speed.set_ylabel("ms per query")
    if max(p95) > 0 and max(p95) / max(min(means), 1e-3) > 50:
        speed.set_yscale("log")
    speed.set_title("latency: mean (bar), p95 (line)", fontsize=10)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
