"""``manifold ingest``: files in, a persisted hybrid (Chroma + BM25) index out.

The work is :func:`manifold_core.ingest.run_ingest`; this module parses the options,
shows progress bars and prints the summary. Heavy imports happen inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from manifold_core.cli._app import app
from manifold_core.cli._common import (
    DEFAULT_EMBEDDING,
    cli_errors,
    console,
    err_console,
    load_encoder,
)

__all__ = ["ingest"]

_STAGES = {"split": "Splitting", "embed": "Embedding", "write": "Writing"}


class _RichProgress:
    """One rich progress bar per stage of the ingest, on stderr."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, stage: str, total: int) -> None:
        label = _STAGES.get(stage, stage)
        self.tasks[stage] = self.progress.add_task(label, total=max(total, 1))

    def advance(self, stage: str, n: int) -> None:
        self.progress.advance(self.tasks[stage], n)


@app.command("ingest")
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files (.txt, .md, .jsonl, .jsonl.gz) and directories (read recursively).",
            show_default=False,
        ),
    ],
    index: Annotated[
        Path,
        typer.Option("--index", "-i", help="Index directory (created if missing).", metavar="DIR"),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help=(
                "Embedding model: Hub name, local folder or pkg: name. Default: the index's "
                f"model, else {DEFAULT_EMBEDDING}."
            ),
            show_default=False,
        ),
    ] = None,
    chunker: Annotated[
        str | None,
        typer.Option(
            "--chunker",
            help="'semantic' (split where the meaning shifts) or 'none' (documents whole).",
            show_default=False,
        ),
    ] = None,
    rule: Annotated[
        str | None,
        typer.Option(
            "--rule",
            help=(
                "Breakpoint rule: percentile, stddev, interquartile, gradient, absolute or "
                "number_of_chunks. Default percentile."
            ),
            show_default=False,
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="The rule's threshold (percentile 0.2 cuts the lowest 20% of gaps).",
            show_default=False,
        ),
    ] = None,
    min_tokens: Annotated[
        int | None,
        typer.Option(
            "--min-tokens", help="Merge chunks below this. Default 0.", show_default=False
        ),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            help="Hard limit per chunk. Default: the model's input limit.",
            show_default=False,
        ),
    ] = None,
    buffer_size: Annotated[
        int | None,
        typer.Option(
            "--buffer-size",
            help="Sentences on each side of a gap compared. Default 0.",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Chunks per embedding call.")
    ] = 256,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars, only the summary.")
    ] = False,
) -> None:
    """Split, embed and index files; re-ingesting a file replaces its chunks.

    JSONL files hold one document per line: {"text": ..., "metadata": {...}} (other scalar
    fields become metadata too), or BEIR's corpus.jsonl (_id, title, text). The index
    remembers its embedding model and chunker settings (DIR/manifold-index.json); later
    ingests and queries reuse them when the options are omitted.
    """
    with cli_errors():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from manifold_core.ingest import run_ingest

        settings = {
            "kind": chunker,
            "breakpoint_rule": rule,
            "threshold": threshold,
            "buffer_size": buffer_size,
            "min_tokens": min_tokens,
            "max_tokens": max_tokens,
        }
        columns = (
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        # Bars only on a terminal: in logs and pipes they are noise, and an error stays one line.
        show = not quiet and err_console.is_terminal
        with Progress(*columns, console=err_console, disable=not show) as bars:

            def load(spec: str) -> Any:
                task = bars.add_task(f"Loading {spec}", total=None)
                encoder = load_encoder(spec)
                bars.update(task, total=1, completed=1)
                return encoder

            report = run_ingest(
                paths,
                index,
                model=model,
                default_model=DEFAULT_EMBEDDING,
                chunker=settings,
                load_encoder=load,
                progress=_RichProgress(bars),
                embedding_batch_size=batch_size,
            )
        _print_report(report)


def _print_report(report: Any) -> None:
    c = report.chunker
    if c.kind == "none":
        how = "documents kept whole"
    else:
        how = f"{c.breakpoint_rule} {c.threshold:g}, buffer {c.buffer_size}, " + (
            f"{c.min_tokens}-{c.max_tokens} tokens"
        )
    verb = "Created" if report.created else "Updated"
    console.print(
        f"[bold green]{verb}[/] index [bold]{report.index_dir}[/] in {report.seconds:.1f} s: "
        f"{_plural(report.documents, 'document')} from {_plural(report.files, 'file')}, "
        f"{report.chunks:,} chunks, {report.tokens:,} tokens",
        highlight=False,
    )
    console.print(
        f"  {report.new:,} new, {report.replaced:,} replaced, {report.deleted:,} stale deleted; "
        f"{report.total:,} chunks in the index",
        highlight=False,
    )
    console.print(f"  model {report.model}; chunker: {how}", highlight=False)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
