"""The ``manifold`` command: ingest, query, eval, eval-chunks, qa-to-chunks, chunks and models.

Each command lives in its own module and registers itself on :data:`app`; heavy
libraries (torch, chromadb, sentence-transformers) are imported inside the commands, so
``manifold --help`` stays fast.
"""

from __future__ import annotations

try:  # typer and rich come with the [cli] extra, not with the core
    import rich  # noqa: F401
    import typer  # noqa: F401
except ModuleNotFoundError as exc:
    raise ModuleNotFoundError(
        f'the manifold command needs {exc.name!r}: pip install "manifold-rag[cli]"',
        name=exc.name,
    ) from exc

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
