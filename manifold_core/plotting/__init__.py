"""Plots: where the splitter cuts (the chunk profile) and how pipelines compare (eval chart).

- :mod:`.chunk_profile`: :func:`chunking_profile` runs a chunker on one text and keeps the
  similarity at every gap and the cuts (:class:`ChunkingProfile`, :func:`similarity_cutoff`);
- :mod:`.chunk_chart`: :func:`plot_chunking` draws that profile;
- :mod:`.eval_chart`: :func:`plot_report` draws an evaluation report;
- :mod:`.fonts`: :func:`font_families`, so Chinese text renders.

matplotlib is imported only when something is drawn.
"""

from __future__ import annotations

from manifold_core.plotting.chunk_chart import _draw as _draw  # the tests draw without fonts
from manifold_core.plotting.chunk_chart import plot_chunking
from manifold_core.plotting.chunk_profile import (
    ChunkingProfile,
    chunking_profile,
    similarity_cutoff,
)
from manifold_core.plotting.eval_chart import plot_report
from manifold_core.plotting.fonts import font_families

__all__ = [
    "ChunkingProfile",
    "chunking_profile",
    "font_families",
    "plot_chunking",
    "plot_report",
    "similarity_cutoff",
]
