"""Segmentations of a document's units (sentences): the ``size`` rule and sentence overlap.

Pure functions over units' token counts and the similarities at the gaps between them, used
by :class:`manifold_core.chunking.SemanticChunker` (kept apart so each is tested alone).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["overlap_starts", "size_segments"]


def size_segments(
    sims: Sequence[float] | np.ndarray,
    unit_tokens: Sequence[int],
    max_tokens: int,
    min_tokens: int = 0,
    cut_cost: float = 0.2,
) -> list[tuple[int, int]]:
    """The ``size`` rule: optimal segmentation of units under a token cap, by dynamic programming.

    Units ``0..n-1`` (with ``unit_tokens``) are split into consecutive ranges ``[a, b)``
    whose token sums fit ``max_tokens`` (a single unit always fits). Opening a range at
    unit ``a > 0`` costs ``cut_cost + sims[a - 1]``: every extra chunk has a price, and a
    cut is cheap where neighbouring text is dissimilar. A range below ``min_tokens`` costs
    more than any cut, so it appears only when nothing else fits. The cheapest total is
    exact (not greedy): few chunks close to the cap, cut at the weakest gaps that allow it.
    This is the idea of the Chroma report's ClusterSemanticChunker (segments chosen by
    dynamic programming under a size cap), scored by gap similarity.

    Returns:
        The ranges, in order, covering ``0..n`` exactly.
    """
    n = len(unit_tokens)
    if n == 0:
        return []
    sim = np.asarray(sims, dtype=float)
    if sim.shape != (n - 1,):
        raise ValueError(f"need {n - 1} similarities for {n} units, got {sim.shape}")
    prefix = np.concatenate([[0], np.cumsum(np.asarray(unit_tokens, dtype=np.int64))])
    short = 2.0 * (abs(cut_cost) + 2.0)  # worse than any cut (|sim| <= 1)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    back = np.zeros(n + 1, dtype=np.int64)
    for b in range(1, n + 1):
        a = b - 1
        while a >= 0:
            size = prefix[b] - prefix[a]
            if size > max_tokens and b - a > 1:
                break
            cost = best[a] + (cut_cost + sim[a - 1] if a > 0 else 0.0)
            if size < min_tokens:
                cost += short
            if cost <= best[b]:  # ties: the longer last range
                best[b] = cost
                back[b] = a
            a -= 1
    ranges: list[tuple[int, int]] = []
    b = n
    while b > 0:
        a = int(back[b])
        ranges.append((a, b))
        b = a
    return ranges[::-1]


def overlap_starts(
    ranges: Sequence[tuple[int, int]], unit_tokens: Sequence[int], overlap_tokens: int
) -> list[int]:
    """The first unit of each range once it carries the end of the range before it.

    Range ``[a, b)`` (not the first) also takes the last whole units of the previous range
    whose tokens add up to at most ``overlap_tokens`` (none when its last unit alone is
    longer), never the whole previous range: the overlap is sentence-aligned and bounded.

    Returns:
        For each range, the unit it starts at (``a`` itself when nothing is carried).
    """
    starts: list[int] = []
    for i, (a, _b) in enumerate(ranges):
        s = a
        if i > 0 and overlap_tokens > 0:
            prev_a = ranges[i - 1][0]
            used = 0
            while s - 1 > prev_a and used + unit_tokens[s - 1] <= overlap_tokens:
                used += unit_tokens[s - 1]
                s -= 1
        starts.append(s)
    return starts
