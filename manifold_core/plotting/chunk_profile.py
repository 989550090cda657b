"""Where the splitter cuts, and why: the similarity profile of a document.

:func:`chunking_profile` runs a :class:`~manifold_core.chunking.SemanticChunker` on one
text and keeps what it saw: the units (sentences), the similarity at every gap between
them, the gaps the breakpoint rule cut, and the final chunks. Comparing the rule's cuts
with the chunk boundaries tells the three kinds of boundary apart:

- a *semantic* cut: the rule cut the gap and the chunk boundary is there;
- a *size* cut: no rule cut, but a chunk over ``max_tokens`` had to be cut at its
  weakest gap;
- a *merged* gap: the rule cut it, but a chunk under ``min_tokens`` was merged across it.

:func:`~manifold_core.plotting.plot_chunking` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from manifold_core.chunking import Chunk, SemanticChunker

__all__ = ["ChunkingProfile", "chunking_profile", "similarity_cutoff"]


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
    # the cut after a chunk is the gap after its last unit (with overlap the next chunk
    # starts earlier, on carried sentences, but its new text starts there)
    last_unit = {end: i for i, (_start, end) in enumerate(units)}
    boundaries = [last_unit[c.end] for c in chunks[:-1]]
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
