"""``manifold query``: hybrid search (and optional reranking) over an ingested index.

The index is opened with :func:`manifold_core.ingest.open_index` (its manifest names
the embedding model), searched with :class:`manifold_core.retrieval.HybridRetriever`
(one filter for the dense and the lexical side) and, with ``--rerank``, the candidates
are reordered by a cross-encoder. Output is a rich table or, with ``--json``, a JSON list.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

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

__all__ = ["parse_filter", "query"]

_SNIPPET = 160
# --json prints chunk texts up to this many characters unless --full-text.
JSON_TEXT_CHARS = 1000


def parse_filter(text: str | None) -> dict[str, Any] | None:
    """The ``--filter`` JSON as a Chroma-style ``where`` dict (``None`` when not given).

    Invalid JSON is reported with the position where parsing failed; an expression that
    Chroma cannot run (unknown operator, wrong operand type) with the offending part.
    """
    if text is None or not text.strip():
        return None
    try:
        where = json.loads(text)
    except json.JSONDecodeError as exc:
        near = text[max(exc.pos - 10, 0) : exc.pos + 10]
        fail(
            f"--filter is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
            f'(near {near!r}); write it like \'{{"brand": "BMW"}}\''
        )
    if not isinstance(where, dict):
        fail(f'--filter must be a JSON object such as \'{{"year": {{"$gte": 2023}}}}\', got {text}')
    from manifold_core.store import as_filter

    try:
        as_filter(where)
    except ValueError as exc:
        fail(f"--filter {text}: {exc}")
    return where


def _snippet(text: str, width: int = _SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _source_label(meta: dict[str, Any]) -> str:
    name = str(meta.get("file_name") or meta.get("source") or "?")
    if "doc_id" in meta:
        return f"{name} #{meta['doc_id']}"
    if "line" in meta:
        return f"{name}:{meta['line']}"
    return name


def _num(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


@app.command("query")
def query(
    text: Annotated[str, typer.Argument(help="The search text.", show_default=False)],
    index: Annotated[
        Path,
        typer.Option(
            "--index", "-i", help="Index directory made by `manifold ingest`.", metavar="DIR"
        ),
    ],
    k: Annotated[int, typer.Option("--k", "-k", help="Number of results.")] = 5,
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            help=(
                'Metadata filter, a Chroma where dict in JSON: \'{"brand": "BMW"}\', '
                '\'{"year": {"$gte": 2023}}\'; applied to the dense and the BM25 side.'
            ),
            show_default=False,
        ),
    ] = None,
    rerank: Annotated[
        bool, typer.Option("--rerank", help="Rerank the candidates with a cross-encoder.")
    ] = False,
    reranker: Annotated[
        str | None,
        typer.Option(
            "--reranker",
            help=f"Reranking model (implies --rerank). Default {DEFAULT_RERANKER}.",
            show_default=False,
        ),
    ] = None,
    candidates: Annotated[
        int, typer.Option("--candidates", help="Hits retrieved for the reranker to reorder.")
    ] = 20,
    fusion: Annotated[
        str | None,
        typer.Option(
            "--fusion",
            help="dbsf, rrf, relative_score or weighted (equal weights). Default: the "
            "setting `manifold tune` saved in the index, else dbsf.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Embedding model; default (and only choice): the one the index was built with.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list instead of a table.")
    ] = False,
    full_text: Annotated[
        bool,
        typer.Option(
            "--full-text",
            help=f"--json: whole chunk texts (default: texts cut at {JSON_TEXT_CHARS} "
            "characters, with 'chars' giving the full length).",
        ),
    ] = False,
) -> None:
    """Search an index: dense + BM25 under one filter, fused, optionally reranked."""
    with cli_errors():
        if k <= 0:
            fail(f"--k must be a positive number, got {k}")
        if candidates <= 0:
            fail(f"--candidates must be a positive number, got {candidates}")
        if not text.strip():
            fail("the query text is empty")
        from manifold_core.fusion import validate_fusion

        if fusion is not None:
            validate_fusion(fusion)
        where = parse_filter(filter)
        use_reranker = rerank or reranker is not None

        from manifold_core.ingest import open_index
        from manifold_core.retrieval import HybridRetriever

        with err_console.status("Loading the index and its model…"):
            store, manifest = open_index(
                index, model=model, default_model=DEFAULT_EMBEDDING, load_encoder=load_encoder
            )
        n = max(candidates, k) if use_reranker else k
        options: dict[str, Any] = (
            manifest.retriever_kwargs() if fusion is None else {"fusion": fusion}
        )
        if fusion is None and options:
            setting = manifest.fusion_setting()
            assert setting is not None and manifest.fusion is not None
            score = manifest.fusion.get("cv_ndcg@10")
            cv = f" (cross-validated nDCG@10 {score:.4f})" if isinstance(score, float) else ""
            err_console.print(f"fusion: tuned {setting.label()}{cv}", highlight=False)
        options["fetch_k"] = max(int(options.get("fetch_k", 50)), n)
        retriever = HybridRetriever(store, k=n, **options)
        hits = _search_warning_unknown_keys(retriever, text, n, where)
        rows: list[dict[str, Any]] = []
        if use_reranker and hits:
            spec = reranker or DEFAULT_RERANKER
            with err_console.status(f"Reranking {len(hits)} candidates with {spec}…"):
                ranked = load_reranker(spec).rerank(text, hits, top_n=k)
            for r in ranked:
                rows.append(_row(r.item, r.score, r.index + 1))
        else:
            rows = [_row(h, None, i + 1) for i, h in enumerate(hits[:k])]
        for i, row in enumerate(rows, start=1):
            row["rank"] = i
        if as_json:
            typer.echo(
                json.dumps(
                    [_json_row(r, use_reranker, full_text) for r in rows], ensure_ascii=False
                )
            )
        else:
            _print_table(text, rows, use_reranker)


def _search_warning_unknown_keys(retriever: Any, text: str, k: int, where: Any) -> list[Any]:
    """Search; a filter key no document has is printed as one ``warning:`` line."""
    import warnings

    from manifold_core.filter_hints import UnknownFilterKeyWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownFilterKeyWarning)
        hits: list[Any] = retriever.search(text, k=k, filter=where)
    for w in caught:
        if issubclass(w.category, UnknownFilterKeyWarning):
            err_console.print(f"warning: {w.message}", highlight=False, soft_wrap=True)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return hits


def _row(hit: Any, rerank_score: float | None, retrieval_rank: int) -> dict[str, Any]:
    return {
        "hit": hit,
        "rerank": rerank_score,
        "retrieval_rank": retrieval_rank,
    }


def _json_text(text: str, full: bool) -> str:
    """The chunk text, cut at :data:`JSON_TEXT_CHARS` (ending in "…") unless ``full``."""
    if full or len(text) <= JSON_TEXT_CHARS:
        return text
    return text[: JSON_TEXT_CHARS - 1] + "…"


def _json_row(row: dict[str, Any], reranked: bool, full_text: bool = False) -> dict[str, Any]:
    hit = row["hit"]
    scores: dict[str, Any] = hit.scores()
    ranks: dict[str, Any] = {"fused": row["retrieval_rank"], **hit.ranks()}
    if reranked:
        scores["rerank"] = row["rerank"]
    return {
        "rank": row["rank"],
        "id": hit.id,
        "text": _json_text(hit.text, full_text),
        "chars": len(hit.text),
        "metadata": hit.metadata,
        "scores": scores,
        "ranks": ranks,
    }


def _print_table(text: str, rows: list[dict[str, Any]], reranked: bool) -> None:
    from rich.table import Table

    if not rows:
        console.print(f"No results for {text!r}.", highlight=False)
        return
    table = Table(title=f"Results for {text!r}", title_justify="left", expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    if reranked:
        table.add_column("rerank", justify="right", no_wrap=True, style="bold")
    table.add_column("fused", justify="right", no_wrap=True, style=None if reranked else "bold")
    table.add_column("dense", justify="right", no_wrap=True)
    table.add_column("bm25", justify="right", no_wrap=True)
    table.add_column("source", overflow="fold", max_width=28, style="cyan")
    table.add_column("text", ratio=1)
    for row in rows:
        hit = row["hit"]
        cells = [str(row["rank"])]
        if reranked:
            cells.append(_num(row["rerank"], 3))
        cells += [
            _num(hit.score, 4),
            _num(hit.dense_score, 3),
            _num(hit.lexical_score, 2),
            _source_label(hit.metadata),
            _snippet(hit.text),
        ]
        table.add_row(*cells)
    console.print(table)
