"""The chunk profile drawn: similarity along the document, the cuts and the cut-off.

matplotlib is imported lazily; a bare ``Figure`` renders with the Agg canvas (no pyplot,
no GUI): the "semantic cliffs" of a document show as dips in the similarity curve, the
cuts as vertical lines, and the rule's similarity cut-off as a horizontal line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from manifold_core.plotting.chunk_profile import ChunkingProfile
from manifold_core.plotting.fonts import font_families

__all__ = ["plot_chunking"]


def plot_chunking(
    profile: ChunkingProfile,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Draw the similarity along the document, the cuts and the cut-off; save to ``path``.

    x is the gap index (gap ``i`` lies between sentences ``i`` and ``i + 1``); solid red
    lines are semantic cuts, dashed orange lines cuts forced by ``max_tokens``, dotted grey
    lines rule cuts undone by ``min_tokens``; the horizontal line is the similarity
    cut-off. The format follows the file's extension (``.png``, ``.svg``, ``.pdf``...).
    """
    from matplotlib import rc_context

    with rc_context({"font.family": font_families(), "axes.unicode_minus": False}):
        return _draw(profile, path, title=title, dpi=dpi)


def _draw(
    profile: ChunkingProfile, path: str | os.PathLike[str], *, title: str | None, dpi: int
) -> Path:
    # A bare Figure renders with the Agg canvas: no pyplot, no GUI backend, no global state.
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    sims = profile.sims
    n = int(sims.size)
    width = float(min(max(10.0, n / 30), 40.0))
    fig = Figure(figsize=(width, 4.2), dpi=dpi)
    ax = fig.add_subplot()
    handles: list[Any] = []
    x = np.arange(n)
    if n:
        (curve,) = ax.plot(x, sims, color="#1f77b4", marker="o" if n <= 80 else None, ms=4)
        curve.set_label("adjacent similarity")
        handles.append(curve)
    # Chunk bands, alternately shaded, numbered at the top.
    edges = [-0.5, *[g for g in profile.boundaries], max(n - 0.5, 0.5)]
    for i in range(len(edges) - 1):
        if i % 2:
            ax.axvspan(edges[i], edges[i + 1], color="0.93", zorder=0)
        if len(edges) <= 60:
            ax.annotate(
                f"{i}",
                xy=((edges[i] + edges[i + 1]) / 2, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, -12),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                color="0.35",
            )
    styles = {
        "semantic": ("semantic cut", dict(color="#d62728", ls="-", lw=1.6)),
        "size": ("size-limit cut (max_tokens)", dict(color="#ff7f0e", ls="--", lw=1.4)),
        "merged": ("rule cut merged (min_tokens)", dict(color="0.5", ls=":", lw=1.4)),
    }
    for kind, gaps in (
        ("semantic", profile.semantic_cuts),
        ("size", profile.size_cuts),
        ("merged", profile.merged_gaps),
    ):
        label, style = styles[kind]
        for g in gaps:
            ax.axvline(g, **style)  # type: ignore[arg-type]
        if gaps:
            handles.append(Line2D([], [], label=f"{label} ({len(gaps)})", **style))  # type: ignore[arg-type]
    if profile.cutoff is not None:
        line = ax.axhline(profile.cutoff, color="#2ca02c", ls="-.", lw=1.2)
        line.set_label(f"{profile.cutoff_label} = {profile.cutoff:.3f}")
        handles.append(line)
    else:
        handles.append(Line2D([], [], color="none", label=profile.cutoff_label))
    ax.set_xlabel("gap between sentences i and i+1")
    ax.set_ylabel("cosine similarity")
    ax.set_xlim(-0.5, max(n - 0.5, 0.5))
    if n:
        low, high = float(sims.min()), float(sims.max())
        if profile.cutoff is not None:
            low, high = min(low, profile.cutoff), max(high, profile.cutoff)
        pad = max(0.05, (high - low) * 0.15)
        ax.set_ylim(low - pad, high + pad * 1.6)
    if n <= 40:
        ax.set_xticks(x)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(
        title
        or f"{len(profile.chunks)} chunks from {len(profile.units)} sentences "
        f"(rule {profile.rule}, threshold {profile.threshold:g})"
    )
    ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    return out
