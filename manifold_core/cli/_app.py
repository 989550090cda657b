"""The typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="manifold",
    help=(
        "Semantic chunking, hybrid (Chroma + BM25) retrieval and reranking from the command "
        "line: ingest files into an index, query it, evaluate pipelines on a BEIR dataset, "
        "and look at where the splitter cuts."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Semantic chunking, hybrid (Chroma + BM25) retrieval and reranking from the command line."""
