"""The ``manifold`` command: ingest, query, eval, chunks and models.

Each command lives in its own module and registers itself on :data:`app`; heavy
libraries (torch, chromadb, sentence-transformers) are imported inside the commands, so
``manifold --help`` stays fast.
"""

from __future__ import annotations

from manifold_core.cli._app import app

# Importing the command modules registers their commands on ``app``.
from manifold_core.cli import models_cmd  # noqa: F401  isort: skip

for _name in ("ingest_cmd", "query_cmd", "eval_cmd", "chunks_cmd"):
    try:
        __import__(f"manifold_core.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command still being written
        if _exc.name != f"manifold_core.cli.{_name}":
            raise

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``manifold`` console script."""
    app()
