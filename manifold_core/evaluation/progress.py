"""The progress callback of an evaluation: plain calls, no rich, no framework."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProgressCallback", "notify"]

ProgressCallback = Callable[[str, int, int], None]
"""``progress(task, done, total)``: called as work advances (``done == total`` at the end).

Tasks: ``"embedding corpus"``, ``"indexing"``, then one per pipeline (``"bm25"`` ...,
with ``"hybrid+rerank"`` advancing together with ``"hybrid"``).
"""


def notify(progress: ProgressCallback | None, task: str, done: int, total: int) -> None:
    """Call ``progress(task, done, total)`` when a callback was given."""
    if progress is not None:
        progress(task, done, total)
