"""The result of a chunker comparison: each chunker's scores, every question's, and pairing.

Plain data (JSON through :meth:`ChunkEvalReport.to_dict`), filled by
:func:`manifold_core.chunk_benchmark.evaluate_chunkers`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from manifold_core.paired import PairedDifference, paired_difference

__all__ = ["ChunkEvalReport", "ChunkerResult"]


@dataclass(frozen=True)
class ChunkerResult:
    """One chunker's scores and chunk statistics.

    Attributes:
        name: the chunker spec.
        at_k: mean ``recall``, ``precision``, ``iou`` over questions (characters), and
            ``recall_tokens``, ``precision_tokens``, ``iou_tokens`` (tokens), top ``k``.
        at_budget: the same at the token budget.
        n_chunks: chunks over the corpus.
        tokens_mean, tokens_median, tokens_max: chunk sizes in tokens.
        over_model_limit: chunks longer than the model's ``max_seq_length`` (the model
            silently reads only their beginning); 0 when the model states no limit.
        chunk_seconds: time to chunk the corpus (semantic chunkers embed inside it).
        embed_seconds: time to embed the chunks.
        per_query: ``"at_k"`` and ``"at_budget"`` -> metric -> one score per question, in
            the order of :attr:`ChunkEvalReport.query_ids` (what :meth:`ChunkEvalReport.compare`
            pairs, and what a user reads to see which questions a chunker misses).
    """

    name: str
    at_k: dict[str, float]
    at_budget: dict[str, float]
    n_chunks: int
    tokens_mean: float
    tokens_median: float
    tokens_max: int
    over_model_limit: int
    chunk_seconds: float
    embed_seconds: float
    per_query: dict[str, dict[str, list[float]]] = field(default_factory=dict)


@dataclass
class ChunkEvalReport:
    """Everything :func:`evaluate_chunkers` measured, ready for JSON."""

    dataset: str
    model: str | None
    k: int
    budget: int
    n_documents: int
    n_queries: int
    n_references: int
    results: dict[str, ChunkerResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    query_ids: list[str] = field(default_factory=list)

    def compare(
        self,
        name: str,
        against: str,
        *,
        at: str = "at_budget",
        metrics: Sequence[str] = ("recall", "iou"),
        level: float = 0.95,
    ) -> dict[str, PairedDifference]:
        """Per metric, chunker ``name`` minus chunker ``against`` on the same questions.

        The mean difference with its paired bootstrap interval
        (:func:`~manifold_core.paired.paired_difference`): whether a gap between two
        chunkers is more than the luck of which questions were asked.

        Raises:
            KeyError: ``name`` or ``against`` is not a scored chunker, or ``at`` / a metric
                is unknown.
        """
        for spec in (name, against):
            if spec not in self.results:
                raise KeyError(f"no scores for chunker {spec!r}; scored: {', '.join(self.results)}")
        mine, theirs = self.results[name].per_query[at], self.results[against].per_query[at]
        return {m: paired_difference(mine[m], theirs[m], level=level) for m in metrics}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the JSON report)."""
        return asdict(self)

    def write_json(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write :meth:`to_dict` (with the keys of ``extra`` added) as indented JSON."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        data = {**self.to_dict(), **(extra or {})}
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
        return out
