"""``manifold ingest``: files in, a persisted hybrid (Chroma + BM25) index out.

The work is :func:`manifold_core.ingest.run_ingest`; this module parses the options,
shows progress bars and prints the summary; the library names its parameters (``model``,
``index_dir``...) and :func:`~manifold_core.cli._common.cli_errors` words them as flags.
Heavy imports happen inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from manifold_core.cli._app import app
from manifold_core.cli._common import (
    DEFAULT_EMBEDDING,
    _go_offline_if_hub_unreachable,
    cli_errors,
    console,
    err_console,
    flag_wording,
    load_encoder,
)

__all__ = ["flag_wording", "ingest"]

_STAGES = {"read": "Reading", "embed": "Embedded"}
SKIPPED_SHOWN = 20


class _RichProgress:
    """Rich progress bars on stderr: bytes read (rate, time left) and chunks embedded."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def start(self, stage: str, total: int | None) -> None:
        label = _STAGES.get(stage, stage)
        unit = "B" if stage == "read" else "chunks"
        self.tasks[stage] = self.progress.add_task(label, total=total, unit=unit)

    def advance(self, stage: str, n: int) -> None:
        self.progress.advance(self.tasks[stage], n)

    def finish(self) -> None:
        """Close the bars whose total was not known (the chunks embedded)."""
        for task in self.tasks.values():
            done = self.progress.tasks[task].completed
            self.progress.update(task, total=max(done, 1), completed=max(done, 1))


def _progress_columns() -> tuple[Any, ...]:
    """Item counts, rate and time left: bytes for reading, chunks for embedding."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        ProgressColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.text import Text

    class Counts(ProgressColumn):
        def render(self, task: Any) -> Text:
            unit = task.fields.get("unit")
            if unit == "B":
                return DownloadColumn().render(task)
            return Text(f"{int(task.completed):,} {unit}" if unit else "")

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            unit = task.fields.get("unit")
            if unit == "B":
                return TransferSpeedColumn().render(task)
            speed = task.finished_speed or task.speed
            return Text("" if speed is None or not unit else f"{speed:,.1f} {unit}/s")

    return (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        Counts(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
    )


@app.command("ingest")
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files and folders (read recursively): PDF, HTML, DOCX, Markdown, text, JSONL.",
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
            help=(
                "'semantic' (split where the meaning shifts), 'fixed' (token windows with "
                "--overlap: fast) or 'none' (documents whole; longer than the model reads: "
                "refused unless --truncate). Default: the index's, else semantic."
            ),
            show_default=False,
        ),
    ] = None,
    rule: Annotated[
        str | None,
        typer.Option(
            "--rule",
            help=(
                "Breakpoint rule: size, percentile, stddev, interquartile, gradient, "
                "absolute or number_of_chunks. Default: the index's, else size."
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
            help="Hard limit per chunk. Default: 300 for the size rule, else the model's "
            "input limit.",
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
    overlap: Annotated[
        int | None,
        typer.Option(
            "--overlap",
            help="Tokens shared by consecutive chunks (fixed windows; for semantic chunks "
            "the last whole sentences of the chunk before). Default: half a chunk for the "
            "size rule, else 0.",
            show_default=False,
        ),
    ] = None,
    truncate: Annotated[
        bool,
        typer.Option(
            "--truncate",
            help="--chunker none: cut documents at the model's limit (with a warning) "
            "instead of refusing them.",
        ),
    ] = False,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            help="Only files matching this glob ('*.pdf'; with '/': the path inside the "
            "folder). Repeatable.",
            show_default=False,
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="Skip files and folders matching this glob ('drafts', '*.log'). Repeatable.",
            show_default=False,
        ),
    ] = None,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Delete the chunks of files gone from the folders ingested."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print what would be read, skipped and pruned; write nothing."
        ),
    ] = False,
    stemming: Annotated[
        str | None,
        typer.Option(
            "--stemming",
            help="BM25 stemmer of a new index: english (the default: measured best), "
            "another Snowball language, or none. An index keeps its own.",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Chunks per embedding call and write.")
    ] = 256,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (files, skipped, counts).")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars, only the summary.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show the libraries' own warnings and bars."),
    ] = False,
) -> None:
    """Read, split, embed and index files; unchanged files are not read again.

    Reads PDF, HTML, DOCX, Markdown, plain text (a README without suffix, a text .bak)
    and JSONL; every file left out is listed with the reason. JSONL files hold one
    document per line: {"text": ..., "metadata": {...}} (other scalar fields become
    metadata too), or BEIR's corpus.jsonl (_id, title, text). The index remembers its
    embedding model, chunker settings and a hash per file (DIR/manifold-index.json);
    later ingests and queries reuse them when the options are omitted.
    """
    with cli_errors(verbose=verbose):
        from rich.progress import Progress

        # Here, not at the top: the ingest imports numpy and the store; --help stays light.
        from manifold_core.ingest import precheck_model, run_ingest

        settings = {
            "kind": chunker,
            "breakpoint_rule": rule,
            "threshold": threshold,
            "buffer_size": buffer_size,
            "min_tokens": min_tokens,
            "max_tokens": max_tokens,
            "overlap": overlap,
        }
        # Bars only on a terminal: in logs and pipes they are noise, and an error stays one line.
        show = not quiet and not as_json and not dry_run and err_console.is_terminal
        with Progress(*_progress_columns(), console=err_console, disable=not show) as bars:

            def load(spec: str) -> Any:
                task = bars.add_task(f"Loading {spec}", total=None, unit="")
                encoder = load_encoder(spec)
                bars.update(task, total=1, completed=1)
                return encoder

            def check(spec: str) -> None:
                _go_offline_if_hub_unreachable(spec)
                precheck_model(spec)

            tracker = _RichProgress(bars)
            report = run_ingest(
                paths,
                index,
                model=model,
                default_model=DEFAULT_EMBEDDING,
                chunker=settings,
                load_encoder=load,
                progress=tracker,
                embedding_batch_size=batch_size,
                include=include or (),
                exclude=exclude or (),
                prune=prune,
                dry_run=dry_run,
                truncate=truncate,
                check_model=check,
                stemming=stemming,
            )
            tracker.finish()
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        elif report.dry_run:
            _print_plan(report)
        else:
            _print_report(report)


def _how(c: Any) -> str:
    if c.kind == "none":
        return "documents kept whole"
    if c.kind == "fixed":
        limit = "the model's limit" if c.max_tokens is None else f"{c.max_tokens}"
        return f"fixed windows of {limit} tokens, overlap {c.overlap}"
    threshold = "default" if c.threshold is None else f"{c.threshold:g}"
    limit = "model limit" if c.max_tokens is None else str(c.max_tokens)
    overlap = "default" if c.overlap is None else str(c.overlap)
    return (
        f"{c.breakpoint_rule} {threshold}, buffer {c.buffer_size}, {c.min_tokens}-{limit} "
        f"tokens, overlap {overlap}"
    )


def _print_skipped(report: Any) -> None:
    shown = [s for s in report.skipped if s.reason != "excluded"]
    excluded = len(report.skipped) - len(shown)
    if shown:
        console.print(f"  skipped {_plural(len(shown), 'file')}:", highlight=False)
        for s in shown[:SKIPPED_SHOWN]:
            console.print(f"    {s.path}: {s.reason} ({s.detail})", highlight=False, soft_wrap=True)
        if len(shown) > SKIPPED_SHOWN:
            console.print(f"    ... and {len(shown) - SKIPPED_SHOWN} more (see --json)")
    if excluded:
        console.print(f"  {_plural(excluded, 'file')} excluded by --include/--exclude")
    for t in report.truncated[:SKIPPED_SHOWN]:
        err_console.print(
            f"[yellow]warning:[/] {t.path}: cut at the model's limit ({t.detail})",
            highlight=False,
            soft_wrap=True,
        )


def _status_line(plan: Any) -> str:
    parts = [
        f"{len(plan.with_status('new')):,} new",
        f"{len(plan.with_status('changed')):,} changed",
        f"{len(plan.with_status('unchanged')):,} unchanged",
    ]
    return ", ".join(parts)


def _print_plan(report: Any) -> None:
    plan = report.plan
    console.print(
        f"[bold]Dry run[/]: index [bold]{report.index_dir}[/], model {report.model}; "
        f"nothing written",
        highlight=False,
    )
    console.print(f"  {_plural(report.files, 'file')}: {_status_line(plan)}", highlight=False)
    if plan.settings_changed:
        console.print("  chunker settings changed: every file would be chunked again")
    for f in plan.files:
        if f.status != "unchanged":
            console.print(f"    {f.status:<8} {f.path} ({f.kind})", highlight=False)
    if plan.gone:
        console.print(
            f"  {_plural(len(plan.gone), 'file')} gone from the folders"
            + (" (kept: add --prune to remove)" if True else ""),
            highlight=False,
        )
        for g in plan.gone[:SKIPPED_SHOWN]:
            console.print(f"    gone     {g}", highlight=False)
    _print_skipped(report)


def _print_report(report: Any) -> None:
    plan = report.plan
    if not report.wrote and report.chunks == 0:
        console.print(
            f"[bold green]Up to date[/]: index [bold]{report.index_dir}[/]: "
            f"{_plural(report.files, 'file')} ({_status_line(plan)}); nothing embedded "
            "or written",
            highlight=False,
        )
    else:
        verb = "Created" if report.created else "Updated"
        console.print(
            f"[bold green]{verb}[/] index [bold]{report.index_dir}[/] in {report.seconds:.1f} s: "
            f"{_plural(report.documents, 'document')} from {_plural(report.files, 'file')}, "
            f"{report.chunks:,} chunks, {report.tokens:,} tokens",
            highlight=False,
        )
        console.print(f"  files: {_status_line(plan)}", highlight=False)
    console.print(
        f"  {report.new:,} new, {report.replaced:,} replaced, {report.deleted:,} stale deleted; "
        f"{report.total:,} chunks in the index",
        highlight=False,
    )
    if report.pruned_files:
        console.print(
            f"  pruned {report.pruned:,} chunks of "
            f"{_plural(len(report.pruned_files), 'gone file')}",
            highlight=False,
        )
    elif plan.gone:
        console.print(
            f"  {_plural(len(plan.gone), 'file')} gone from the folders still indexed; "
            "--prune removes their chunks",
            highlight=False,
        )
    console.print(f"  model {report.model}; chunker: {_how(report.chunker)}", highlight=False)
    _print_skipped(report)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
