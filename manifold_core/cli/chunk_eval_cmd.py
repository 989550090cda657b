"""``manifold eval-chunks`` and ``manifold qa-to-chunks``: compare chunkers on span references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from manifold_core.cli._app import app
from manifold_core.cli._common import (
    DEFAULT_EMBEDDING,
    cli_errors,
    console,
    err_console,
    load_encoder,
)
from manifold_core.defaults import PKG_MINILM, PKG_MULTILINGUAL_USE

if TYPE_CHECKING:
    from manifold_core.chunk_benchmark import ChunkEvalReport
    from manifold_core.paired import PairedDifference


@app.command("eval-chunks")
def eval_chunks_command(
    dataset: Annotated[
        Path,
        typer.Option(
            "--dataset",
            "-d",
            help="A chunking folder: corpus.jsonl[.gz], queries.jsonl[.gz], references.tsv "
            "(query-id, corpus-id, start, end).",
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Embedding model that retrieves (and drives the semantic chunkers): Hub "
            f"name, folder or pkg:NAME (offline: {PKG_MINILM}, {PKG_MULTILINGUAL_USE}).",
        ),
    ] = DEFAULT_EMBEDDING,
    chunkers: Annotated[
        str | None,
        typer.Option(
            "--chunkers",
            "-c",
            help="Chunker specs, comma-separated: kind or kind:key=value,... with kinds "
            "fixed, semantic (ours), recursive, li-sentence, lc-semantic, li-semantic. "
            "Default: a grid of all of them.",
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Chunks retrieved per question.")] = 5,
    budget: Annotated[
        int, typer.Option(min=1, help="Retrieved tokens per question for the budget scores.")
    ] = 1000,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder for chunk-eval.json and chunk-eval.png."),
    ] = Path("manifold-chunk-eval"),
    limit_queries: Annotated[
        int | None,
        typer.Option("--limit-queries", "-n", min=1, help="Score only the first N questions."),
    ] = None,
    limit_documents: Annotated[
        int | None,
        typer.Option(
            "--limit-documents",
            min=1,
            help="Use only the first N documents (and the questions about them).",
        ),
    ] = None,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Do not draw the chart.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON report instead of a table.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Chunks per embedding call.")] = 64,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="One of the chunkers: also print every other chunker's difference to it in "
            "recall and IoU at the budget, with a paired bootstrap 95% interval (is the gap "
            "more than the luck of the questions?).",
        ),
    ] = None,
) -> None:
    """Compare chunkers: recall, precision and IoU of the retrieved text against reference spans.

    Every document is chunked by each chunker, every chunk embedded, and each question
    retrieves the most similar chunks of the whole corpus: scored at top k and at a
    budget of retrieved tokens (the last chunk cut to fit). Prints a table and writes a
    JSON report and a PNG (recall against IoU, one point per chunker).
    """
    with cli_errors():
        from manifold_core.chunk_benchmark import (
            DEFAULT_CHUNKERS,
            evaluate_chunkers,
            load_chunking_dataset,
            parse_chunker_list,
            plot_chunk_report,
        )

        specs = parse_chunker_list(chunkers) if chunkers else list(DEFAULT_CHUNKERS)
        if against is not None and against not in specs:
            listed = ", ".join(specs)
            raise ValueError(f"--against {against!r} is not one of the chunkers: {listed}")
        data = load_chunking_dataset(
            dataset, max_queries=limit_queries, max_documents=limit_documents
        )
        with err_console.status(f"loading embedding model {model}"):
            encoder = load_encoder(model)

        def progress(task: str, done: int, total: int) -> None:
            if done == 0 and not as_json:
                err_console.print(f"chunking, embedding, scoring: {task}", highlight=False)

        report = evaluate_chunkers(
            data,
            specs,
            encoder,
            k=k,
            budget=budget,
            model_name=model,
            batch_size=batch_size,
            progress=progress,
        )
        compared = _comparisons(report, against)
        plain = {n: {m: d.to_dict() for m, d in ds.items()} for n, ds in compared.items()}
        extra = {"against": {"chunker": against, "differences": plain}} if compared else None
        written = [str(report.write_json(out / "chunk-eval.json", extra))]
        if not no_plot:
            written.append(str(plot_chunk_report(report, out / "chunk-eval.png")))
        if as_json:
            data_out = {**report.to_dict(), **(extra or {})}
            console.print_json(json.dumps(data_out, ensure_ascii=False))
        else:
            _print_table(report)
            if compared:
                _print_comparisons(report, str(against), compared)
        err_console.print(f"wrote {' and '.join(written)}", highlight=False)


def _print_table(report: ChunkEvalReport) -> None:
    from rich.table import Table

    table = Table(
        title=f"{report.dataset}: {report.n_queries} questions, {report.n_documents} documents",
        caption=f"embedding: {report.model}; characters; top {report.k} chunks and "
        f"{report.budget} retrieved tokens",
    )
    table.add_column("chunker", style="bold", no_wrap=True)
    for head in (
        f"R@{report.k}",
        f"P@{report.k}",
        f"IoU@{report.k}",
        f"R@{report.budget}t",
        f"P@{report.budget}t",
        f"IoU@{report.budget}t",
        "chunks",
        "mean tok",
        "max tok",
        "s",
    ):
        table.add_column(head, justify="right")
    results = list(report.results.values())
    keys = [("at_k", m) for m in ("recall", "precision", "iou")]
    keys += [("at_budget", m) for m in ("recall", "precision", "iou")]
    best = {key: max(getattr(r, key[0])[key[1]] for r in results) for key in keys}
    for r in results:
        cells = []
        for key in keys:
            v = getattr(r, key[0])[key[1]]
            cells.append(f"[green]{v:.3f}[/]" if v == best[key] else f"{v:.3f}")
        table.add_row(
            r.name,
            *cells,
            str(r.n_chunks),
            f"{r.tokens_mean:.0f}",
            str(r.tokens_max),
            f"{r.chunk_seconds + r.embed_seconds:.1f}",
        )
    for name, why in report.skipped.items():
        table.add_row(name, *(["-"] * 6), "skipped:", why, "", "")
    console.print(table, width=max(console.width, 150))


def _comparisons(
    report: ChunkEvalReport, against: str | None
) -> dict[str, dict[str, PairedDifference]]:
    """Every other chunker minus ``against``: recall and IoU at the budget."""
    if against not in report.results:
        return {}
    return {name: report.compare(name, against) for name in report.results if name != against}


def _print_comparisons(
    report: ChunkEvalReport, against: str, compared: dict[str, dict[str, PairedDifference]]
) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"minus {against}, at {report.budget} retrieved tokens",
        caption="mean difference over the questions, then its paired bootstrap 95% interval; "
        "better / worse: the interval excludes 0, tie: it does not",
    )
    table.add_column("chunker", style="bold", no_wrap=True)
    for head in ("recall", "", "IoU", ""):
        table.add_column(head, justify="right")
    for name, diffs in compared.items():
        cells = []
        for metric, digits in (("recall", 3), ("iou", 4)):
            d = diffs[metric]
            colour = {"better": "green", "worse": "red"}.get(d.verdict, "")
            cells += [escape(d.text(digits)), f"[{colour}]{d.verdict}[/]" if colour else d.verdict]
        table.add_row(name, *cells)
    console.print(table, width=max(console.width, 150))


@app.command("qa-to-chunks")
def qa_to_chunks_command(
    dataset: Annotated[
        Path,
        typer.Option(
            "--dataset",
            "-d",
            help="A BEIR folder whose paragraphs have titles and whose queries hold "
            "metadata.answers (e.g. CMRC 2018).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The chunking folder to write.")],
    split: Annotated[
        str | None, typer.Option(help="The qrels split to convert (default: every split).")
    ] = None,
    context: Annotated[
        str,
        typer.Option(help="Reference span: 'sentence' (the answer's sentence) or 'answer'."),
    ] = "sentence",
    max_documents: Annotated[
        int | None, typer.Option(min=1, help="Keep the first N articles with a question.")
    ] = None,
    max_queries: Annotated[
        int | None, typer.Option(min=1, help="Keep at most N questions.")
    ] = None,
) -> None:
    """Turn QA data with answer strings into a chunking folder for ``eval-chunks``.

    One document per article (paragraphs of one title joined by a blank line); each
    question's reference is located from its answers in its gold paragraph.
    """
    with cli_errors():
        from manifold_core.chunk_benchmark import write_chunking_dataset
        from manifold_core.qa_to_chunks import qa_to_chunking

        if context not in ("sentence", "answer"):
            raise ValueError(f"--context must be 'sentence' or 'answer', got {context!r}")
        data = qa_to_chunking(
            dataset,
            split,
            context="answer" if context == "answer" else "sentence",
            max_documents=max_documents,
            max_queries=max_queries,
        )
        write_chunking_dataset(data, out)
        err_console.print(
            f"wrote {out}: {len(data.documents)} documents, {len(data.queries)} questions",
            highlight=False,
        )


__all__ = ["eval_chunks_command", "qa_to_chunks_command"]
