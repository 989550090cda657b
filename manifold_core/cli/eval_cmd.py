"""``manifold eval``: compare BM25, dense, hybrid and reranked retrieval on a BEIR dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from manifold_core.cli._app import app
from manifold_core.cli._common import (
    DEFAULT_EMBEDDING,
    DEFAULT_RERANKER,
    cli_errors,
    console,
    err_console,
    fail,
    load_encoder,
    load_reranker,
)
from manifold_core.fusion import HYBRID_FUSION

if TYPE_CHECKING:
    from manifold_core.evaluation import EvaluationReport

ALL_PIPELINES = "bm25,dense,hybrid,hybrid-tuned,hybrid+rerank"


@app.command("eval")
def eval_command(
    dataset: Annotated[
        Path,
        typer.Option(
            "--dataset",
            "-d",
            help="A BEIR folder: corpus.jsonl[.gz], queries.jsonl[.gz], qrels/<split>.tsv.",
        ),
    ],
    split: Annotated[str, typer.Option(help="The qrels split to evaluate.")] = "test",
    pipelines: Annotated[
        str,
        typer.Option("--pipelines", "-p", help=f"Comma-separated, from: {ALL_PIPELINES}."),
    ] = ALL_PIPELINES,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Embedding model: Hub name, folder or pkg:NAME (offline: "
            "pkg:all-MiniLM-L6-v2). Not loaded for bm25 alone.",
        ),
    ] = DEFAULT_EMBEDDING,
    reranker: Annotated[
        str,
        typer.Option(
            "--reranker",
            "-r",
            help="Reranker for hybrid+rerank: Hub name, folder or pkg:NAME (offline: "
            "pkg:ms-marco-MiniLM-L-12-v2).",
        ),
    ] = DEFAULT_RERANKER,
    max_queries: Annotated[
        int | None,
        typer.Option("--max-queries", "-n", min=1, help="Evaluate only the first N queries."),
    ] = None,
    fusion: Annotated[
        str, typer.Option(help="Hybrid fusion: dbsf, rrf, relative_score or weighted.")
    ] = HYBRID_FUSION,
    rerank_depth: Annotated[
        int, typer.Option(min=1, help="Hybrid hits the reranker reorders per query.")
    ] = 30,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the JSON report.")
    ] = Path("manifold-eval.json"),
    plot: Annotated[
        Path | None,
        typer.Option(help="Where to write the PNG chart (default: the --output path, .png)."),
    ] = None,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Do not draw the chart.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per embedding call.")] = 64,
    folds: Annotated[
        int, typer.Option(min=2, help="hybrid-tuned: cross-validation folds over queries.")
    ] = 5,
) -> None:
    """Score retrieval pipelines on a BEIR dataset: nDCG@10, Recall@100, MRR@10, latency.

    Builds an in-memory index of the corpus, runs each pipeline on every judged query
    (100 hits each), prints a table and writes a JSON report and a PNG chart.
    """
    with cli_errors():
        from manifold_core.evaluation import evaluate, load_beir, parse_pipelines, plot_report
        from manifold_core.fusion import validate_fusion

        names = parse_pipelines(pipelines)
        validate_fusion(fusion)
        if output.suffix.lower() == ".png":
            fail(f"--output is the JSON report, got {output}; use --plot for the chart")
        plot_path = None if no_plot else (plot or output.with_suffix(".png"))
        data = load_beir(dataset, split, max_queries=max_queries)
        rerank_model = None
        if "hybrid+rerank" in names:
            with err_console.status(f"loading reranker {reranker}"):
                rerank_model = load_reranker(reranker)
        encoder = None
        if any(n != "bm25" for n in names):
            with err_console.status(f"loading embedding model {model}"):
                encoder = load_encoder(model)
        report = _run_with_progress(
            evaluate,
            data,
            names,
            encoder=encoder,
            reranker=rerank_model,
            fusion=fusion,
            rerank_depth=rerank_depth,
            batch_size=batch_size,
            embedding_model=model if encoder is not None else None,
            reranker_model=reranker if rerank_model is not None else None,
            folds=folds,
        )
        _print_table(report)
        _print_tuned(report)
        written = [str(report.write_json(output))]
        if plot_path is not None:
            written.append(str(plot_report(report, plot_path)))
        err_console.print(f"wrote {' and '.join(written)}", highlight=False)


def _run_with_progress(evaluate: Any, *args: Any, **kwargs: Any) -> EvaluationReport:
    """Call ``evaluate`` with a rich progress bar per task (corpus embedding, each pipeline)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bars:
        tasks: dict[str, Any] = {}

        def progress(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bars.add_task(task, total=total)
            bars.update(tasks[task], completed=done, total=total)

        report: EvaluationReport = evaluate(*args, progress=progress, **kwargs)
    return report


def _print_table(report: EvaluationReport) -> None:
    from rich.table import Table

    models = [f"embedding: {report.embedding_model}"] if report.embedding_model else []
    if report.reranker_model:
        models.append(f"reranker: {report.reranker_model} (top {report.rerank_depth})")
    table = Table(
        title=f"{report.dataset} ({report.split}), {report.n_queries} queries, "
        f"{report.n_documents:,} documents",
        caption="; ".join([*models, f"fusion: {report.fusion}"]),
    )
    table.add_column("pipeline", style="bold", no_wrap=True)
    metrics = list(next(iter(report.pipelines.values())).metrics)
    for name in metrics:
        table.add_column(name, justify="right")
    table.add_column("mean ms", justify="right")
    table.add_column("p95 ms", justify="right")
    best = {m: max(r.metrics[m] for r in report.pipelines.values()) for m in metrics}
    for name, result in report.pipelines.items():
        cells = [
            f"[green]{v:.4f}[/]" if v == best[m] else f"{v:.4f}" for m, v in result.metrics.items()
        ]
        table.add_row(name, *cells, f"{result.latency_ms_mean:.1f}", f"{result.latency_ms_p95:.1f}")
    console.print(table)


def _print_tuned(report: EvaluationReport) -> None:
    """The setting ``hybrid-tuned`` chose on all queries, and its cross-validated score."""
    if not report.tuned:
        return
    from manifold_core.fusion_tuning import FusionSetting

    setting = FusionSetting.from_dict(report.tuned["setting"])
    console.print(
        f"hybrid-tuned setting: {setting.label()} (cross-validated nDCG@10 "
        f"{report.tuned['cv_ndcg@10']:.4f}, {report.tuned['folds']} folds)",
        highlight=False,
    )


__all__ = ["eval_command"]
