"""``manifold models``: the models that ship in pip packages, and the defaults."""

from __future__ import annotations

import typer

from manifold_core.cli._app import app
from manifold_core.cli._common import DEFAULT_EMBEDDING, DEFAULT_RERANKER, console


@app.command("models")
def models() -> None:
    """List the models usable without the Hugging Face Hub (pkg:NAME) and the defaults."""
    from rich.table import Table

    from manifold_core.packaged import PACKAGED_MODELS

    table = Table(title="Models that ship in pip packages (work offline)")
    table.add_column("name", no_wrap=True, style="bold")
    for column in ("kind", "languages", "installed", "pip package"):
        table.add_column(column)
    for m in PACKAGED_MODELS.values():
        ok = "[green]yes[/]" if m.installed() else "[red]no[/]"
        table.add_row(m.spec, m.kind, m.languages, ok, m.package)
    console.print(table)
    console.print(
        f"Defaults (Hub names, downloaded on a connected machine): embedding "
        f"[bold]{DEFAULT_EMBEDDING}[/], reranker [bold]{DEFAULT_RERANKER}[/]. Any Hub name "
        "or local folder works too; set MANIFOLD_EMBEDDING_MODEL / MANIFOLD_RERANKER_MODEL "
        "to change the defaults."
    )


__all__ = ["models", "typer"]
