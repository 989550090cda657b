"""Where the splitter cuts, and why: the similarity profile of a document and its plot.

:func:`chunking_profile` runs a :class:`~manifold_core.chunking.SemanticChunker` on one
text and keeps what it saw: the units (sentences), the similarity at every gap between
them, the gaps the breakpoint rule cut, and the final chunks. Comparing the rule's cuts
with the chunk boundaries tells the three kinds of boundary apart:

- a *semantic* cut: the rule cut the gap and the chunk boundary is there;
- a *size* cut: no rule cut, but a chunk over ``max_tokens`` had to be cut at its
  weakest gap;
- a *merged* gap: the rule cut it, but a chunk under ``min_tokens`` was merged across it.

:func:`plot_chunking` draws the profile with matplotlib (imported lazily; a bare ``Figure``,
no pyplot, no GUI): the "semantic cliffs" of the seed article as dips in the similarity
curve, the cuts as vertical lines, and the rule's similarity cut-off as a horizontal line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from manifold_core.chunking import Chunk, SemanticChunker

__all__ = [
    "ChunkingProfile",
    "chunking_profile",
    "font_families",
    "plot_chunking",
    "similarity_cutoff",
]

# Shipped by the `mplfonts` package (the `cjk` extra): Chinese, Japanese and Korean glyphs.
_CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
_CJK_FAMILY = "Noto Sans CJK SC"
_registered: list[str] = []


def font_families() -> list[str]:
    """Font families for our plots: DejaVu Sans, then Noto Sans CJK when it is installed.

    Matplotlib falls back from one family to the next glyph by glyph, so Latin text keeps
    its usual look and Chinese titles render instead of empty boxes. The font comes from
    the ``mplfonts`` package (``pip install 'manifold-rag[cjk]'``), never from the system.
    """
    if not _registered:
        try:
            import mplfonts
            from matplotlib import font_manager

            font = Path(mplfonts.__file__).parent / "fonts" / _CJK_FONT_FILE
            if font.is_file():
                font_manager.fontManager.addfont(str(font))
                _registered.append(_CJK_FAMILY)
        except ImportError:
            pass
        _registered.insert(0, "DejaVu Sans")
    return list(_registered)


@dataclass
class ChunkingProfile:
    """What the chunker saw in one text.

    Attributes:
        text: the text.
        units: ``(start, end)`` of each unit (a sentence, or a piece of a long one).
        sims: similarity at each gap; gap ``i`` lies between units ``i`` and ``i + 1``.
        rule_cuts: the gaps the breakpoint rule cut.
        chunks: the final chunks.
        boundaries: the gap each chunk after the first starts at (ascending).
        rule: the breakpoint rule; threshold: its parameter.
        cutoff: the similarity below which the rule cuts, when the rule has one (see
            :func:`similarity_cutoff`); cutoff_label says what the value is.
    """

    text: str
    units: list[tuple[int, int]]
    sims: np.ndarray
    rule_cuts: list[int]
    chunks: list[Chunk]
    boundaries: list[int]
    rule: str
    threshold: float
    cutoff: float | None
    cutoff_label: str
    semantic_cuts: list[int] = field(init=False)
    size_cuts: list[int] = field(init=False)
    merged_gaps: list[int] = field(init=False)

    def __post_init__(self) -> None:
        rule, final = set(self.rule_cuts), set(self.boundaries)
        self.semantic_cuts = sorted(rule & final)
        self.size_cuts = sorted(final - rule)
        self.merged_gaps = sorted(rule - final)

    def cut_kind(self, gap: int) -> str | None:
        """``"semantic"``, ``"size"``, ``"merged"`` or ``None`` (not cut) for a gap."""
        if gap in self.semantic_cuts:
            return "semantic"
        if gap in self.size_cuts:
            return "size"
        if gap in self.merged_gaps:
            return "merged"
        return None

    def gap_offset(self, gap: int) -> int:
        """Character offset where the unit after the gap starts."""
        return self.units[gap + 1][0]


def similarity_cutoff(rule: str, threshold: float, sims: Any) -> tuple[float | None, str]:
    """The similarity below which ``rule`` cuts a gap, and a label for it.

    ``percentile``, ``stddev``, ``interquartile`` and ``absolute`` cut exactly the gaps
    strictly below one value. ``number_of_chunks`` cuts the lowest gaps, so the highest
    similarity it cut is given. ``gradient`` cuts sharp dips relative to the neighbouring
    gaps, whatever their level: there is no single cut-off and the value is ``None``.
    """
    s = np.asarray(sims, dtype=float)
    t = float(threshold)
    if s.size == 0:
        return None, "no gaps: the text is one sentence"
    if rule == "percentile":
        if t <= 0:
            return None, "percentile 0: no cuts"
        return float(np.percentile(s, t * 100)), f"cut-off: {t * 100:g}th percentile"
    if rule == "stddev":
        return float(s.mean() - t * s.std()), f"cut-off: mean - {t:g} std"
    if rule == "interquartile":
        q1, q3 = np.percentile(s, [25, 75])
        return float(q1 - t * (q3 - q1)), f"cut-off: Q1 - {t:g} IQR"
    if rule == "absolute":
        return t, f"cut-off: {t:g}"
    if rule == "number_of_chunks":
        n_cuts = min(int(t) - 1, s.size)
        if n_cuts <= 0:
            return None, "number_of_chunks 1: no cuts"
        return float(np.sort(s)[n_cuts - 1]), f"highest cut similarity ({n_cuts} lowest gaps cut)"
    if rule == "gradient":
        return None, "gradient: cuts the sharpest dips, no single cut-off"
    if rule == "size":
        return None, "size: the weakest gaps that keep chunks under max_tokens, no cut-off"
    raise ValueError(f"unknown breakpoint rule {rule!r}")


def chunking_profile(chunker: SemanticChunker, text: str) -> ChunkingProfile:
    """Chunk ``text`` and keep the similarities and cuts behind the chunks.

    The text's windows are embedded once: the chunker's encoder is wrapped, for the
    duration of the call, by one that remembers the vectors of the texts it has seen.
    """
    original = chunker.encoder
    memo = _MemoEncoder(original)
    chunker.encoder = memo
    try:
        units, sims = chunker.similarities(text)
        chunks = chunker.split_text(text)
    finally:
        chunker.encoder = original
    sims = np.asarray(sims, dtype=float)
    first_unit = {start: i for i, (start, _end) in enumerate(units)}
    boundaries = [first_unit[c.start] - 1 for c in chunks[1:]]
    if chunker.breakpoint_rule == "size":  # its cuts are the chunk boundaries
        rule_cuts = list(boundaries)
    else:
        rule_cuts = [int(g) for g in chunker.breakpoints(sims)] if sims.size else []
    cutoff, label = similarity_cutoff(chunker.breakpoint_rule, chunker.threshold, sims)
    return ChunkingProfile(
        text=text,
        units=list(units),
        sims=sims,
        rule_cuts=rule_cuts,
        chunks=chunks,
        boundaries=boundaries,
        rule=chunker.breakpoint_rule,
        threshold=chunker.threshold,
        cutoff=cutoff,
        cutoff_label=label,
    )


class _MemoEncoder:
    """An encoder that embeds each distinct document text once."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.cache: dict[str, np.ndarray] = {}

    def encode_documents(self, texts: Any) -> np.ndarray:
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            vectors = np.asarray(self.encoder.encode_documents(missing), dtype=np.float32)
            self.cache.update(zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts])

    def encode_queries(self, texts: Any) -> np.ndarray:
        return np.asarray(self.encoder.encode_queries(texts), dtype=np.float32)


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
