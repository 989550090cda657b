"""The ``manifold`` command: ingest, query, eval, eval-chunks, qa-to-chunks, chunks and models.

Each command lives in its own module and registers itself on :data:`app`; heavy
libraries (torch, chromadb, sentence-transformers) are imported inside the commands, so
``manifold --help`` stays fast.
"""

from __future__ import annotations

from manifold_core.cli._app import app

# Importing the command modules registers their commands on ``app``, in help order.
from manifold_core.cli import (  # noqa: F401  isort: skip
    ingest_cmd,
    query_cmd,
    eval_cmd,
    tune_cmd,
    chunk_eval_cmd,
    chunks_cmd,
    models_cmd,
)

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``manifold`` console script."""
    app()
