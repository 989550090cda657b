"""``manifold chunks``: where the semantic splitter cuts a file, as a table, JSON or a plot."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from manifold_core.cli._app import app
from manifold_core.cli._common import DEFAULT_EMBEDDING, cli_errors, console, err_console, fail

if TYPE_CHECKING:
    from manifold_core.ingest import SourceDocument
    from manifold_core.plotting import ChunkingProfile

PREVIEW_CHARS = 80


def read_text_file(file: str) -> str:
    """The text of ``file`` as the ingest reads it (``-`` reads stdin), or a one-line error."""
    return read_document(file)[0].text


def read_document(file: str, doc: str | None = None) -> tuple[SourceDocument, int]:
    """The document of ``file`` the ingest would index, and how many the file holds.

    Every format ``manifold ingest`` reads is read here the same way (PDF, HTML, DOCX,
    Markdown, text, one record of a JSONL file: ``doc`` is its id or line number, default
    the first). Missing, binary, empty or unreadable input is a one-line error.
    """
    from manifold_core.ingest import SourceDocument, iter_file_documents
    from manifold_core.readers import SkipFile, decode_utf8

    if file == "-":
        try:
            text = decode_utf8(sys.stdin.buffer.read(), "stdin")
        except ValueError as exc:
            fail(str(exc).replace("stdin: ", "stdin is ", 1))
        if not text.strip():
            fail("stdin is empty: nothing to chunk")
        return SourceDocument(text, "stdin", ""), 1
    path = Path(file)
    if not path.exists():
        raise FileNotFoundError(f"{file}: no such file")
    if path.is_dir():
        fail(f"{file} is a directory; give one file")
    try:
        docs = [d for d in iter_file_documents(path) if d.text.strip()]
    except SkipFile as exc:
        if exc.reason == "empty":
            fail(f"{file} is empty: nothing to chunk")
        if exc.reason == "not text" and exc.detail.startswith("not UTF-8"):
            fail(f"{file} is {exc.detail}")
        fail(f"{file}: {exc.reason} ({exc.detail})")
    if not docs:
        fail(f"{file} is empty: nothing to chunk")
    if doc is None:
        return docs[0], len(docs)
    for d in docs:
        if doc in (d.key, str(d.metadata.get("line")), str(d.metadata.get("doc_id"))):
            return d, len(docs)
    fail(f"--doc {doc!r}: {file} has no record with that id or line ({len(docs)} records)")


def _section_of(document: SourceDocument, offset: int) -> dict[str, Any]:
    """Page and heading of the section ``offset`` falls in (empty when it has none)."""
    for sec in document.sections:
        if sec.start <= offset < sec.end:
            return dict(sec.metadata)
    return {}


def _check_plot_path(plot: Path) -> None:
    """Fail before any model loads when the plot cannot be written."""
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    suffix = plot.suffix.lower().lstrip(".")
    if suffix not in formats:
        fail(f"--plot {plot}: use one of the extensions .{', .'.join(sorted(formats))}")
    parent = plot.parent if str(plot.parent) else Path(".")
    if not parent.is_dir():
        fail(f"--plot {plot}: the folder {parent} does not exist")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def profile_to_json(
    profile: ChunkingProfile,
    *,
    file: str,
    model: str,
    document: SourceDocument | None = None,
) -> dict[str, Any]:
    """The profile as plain JSON: settings, the cut-off, every chunk and every gap.

    With ``document``, each chunk also carries the page / heading of where it starts.
    """
    out: dict[str, Any] = {
        "file": file,
        "model": model,
        "rule": profile.rule,
        "threshold": profile.threshold,
        "cutoff": profile.cutoff,
        "cutoff_label": profile.cutoff_label,
        "sentences": len(profile.units),
        "chunks": [
            {
                "index": c.index,
                "start": c.start,
                "end": c.end,
                "tokens": c.token_count,
                "boundary_similarity": c.boundary_similarity,
                "cut": None if c.index == 0 else profile.cut_kind(profile.boundaries[c.index - 1]),
                "text": c.text,
            }
            for c in profile.chunks
        ],
        "gaps": [
            {
                "index": g,
                "offset": profile.gap_offset(g),
                "similarity": float(s),
                "cut": profile.cut_kind(g),
            }
            for g, s in enumerate(profile.sims)
        ],
    }
    if document is not None and document.sections:
        for c in out["chunks"]:
            c.update(_section_of(document, c["start"]))
    return out


def _print_table(profile: ChunkingProfile, *, file: str, model: str) -> None:
    from rich.table import Table

    rows = []
    for c in profile.chunks:
        kind = "" if c.index == 0 else profile.cut_kind(profile.boundaries[c.index - 1]) or ""
        sim = "" if c.boundary_similarity is None else f"{c.boundary_similarity:.3f}"
        rows.append((str(c.index), f"{c.start}-{c.end}", str(c.token_count), sim, kind))
    n = len(profile.chunks)
    table = Table(title=f"{file}: {n} chunk{'s' if n != 1 else ''}", title_justify="left")
    headers = ("#", "chars", "tokens", "sim", "cut")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for header, width in zip(headers, widths, strict=True):
        table.add_column(
            header, justify="left" if header == "cut" else "right", no_wrap=True, min_width=width
        )
    # The numbers keep their width; the text preview takes what is left of the line
    # (each column adds a border and two spaces of padding).
    text_width = max(10, console.width - sum(widths) - 3 * (len(headers) + 1) - 1)
    table.add_column("text", no_wrap=True, overflow="ellipsis", max_width=text_width)
    for row, c in zip(rows, profile.chunks, strict=True):
        table.add_row(*row, _preview(c.text))
    console.print(table)
    cutoff = (
        f"{profile.cutoff_label} = {profile.cutoff:.3f}"
        if profile.cutoff is not None
        else profile.cutoff_label
    )
    console.print(
        f"{_plural(len(profile.units), 'sentence')}, {_plural(len(profile.sims), 'gap')}; "
        f"model {model}; "
        f"rule {profile.rule} (threshold {profile.threshold:g}); {cutoff}; "
        f"{len(profile.semantic_cuts)} semantic cuts, {len(profile.size_cuts)} size-limit "
        f"cuts, {len(profile.merged_gaps)} rule cuts merged away",
        highlight=False,
    )


@app.command("chunks")
def chunks(
    file: Annotated[
        str,
        typer.Argument(
            help="A file ingest reads (PDF, HTML, DOCX, Markdown, text, JSONL; '-' reads stdin)."
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Embedding model: a Hub name, a local folder or pkg:NAME (see 'manifold models').",
        ),
    ] = DEFAULT_EMBEDDING,
    rule: Annotated[
        str,
        typer.Option(
            "--rule",
            "-r",
            help="Breakpoint rule: size (default: fewest chunks under --max-tokens minus "
            "the overlap, cut at the weakest gaps), percentile (the seed's), stddev, "
            "interquartile, gradient, absolute or number_of_chunks.",
        ),
    ] = "size",
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            "-t",
            help="The rule's parameter (percentile 0.2 = cut the lowest 20% of gaps; "
            "absolute 0.5 = cut below cosine 0.5; number_of_chunks 4 = four chunks). "
            "Default: the rule's default.",
        ),
    ] = None,
    buffer_size: Annotated[
        int, typer.Option("--buffer-size", "-b", help="Sentences on each side of a gap compared.")
    ] = 0,
    min_tokens: Annotated[
        int, typer.Option("--min-tokens", help="Merge chunks smaller than this.")
    ] = 0,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            help="Hard limit per chunk (default: 300 for the size rule, else the model's limit).",
        ),
    ] = None,
    overlap: Annotated[
        int | None,
        typer.Option(
            "--overlap",
            help="Tokens of whole sentences each chunk repeats from the one before "
            "(default: half a chunk for the size rule, else 0).",
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            "-p",
            help="Write the similarity profile with the cuts and the cut-off (.png, .svg, .pdf).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (chunks, every gap) instead of a table.")
    ] = False,
    doc: Annotated[
        str | None,
        typer.Option(
            "--doc", help="JSONL: the record to show, by id or line number (default the first)."
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show the libraries' own warnings and bars."),
    ] = False,
) -> None:
    """Show where the semantic splitter cuts FILE: chunks, boundary similarities, cut-off.

    FILE is read as `manifold ingest` reads it (PDF, HTML, DOCX, Markdown, text, one JSONL
    record). The profile runs over the whole extracted text, each chunk labelled with the
    page or heading it starts in; ingest also cuts at every page and heading.
    """
    with cli_errors(verbose=verbose):
        from manifold_core.cli._common import _go_offline_if_hub_unreachable
        from manifold_core.ingest import precheck_model

        _go_offline_if_hub_unreachable(model)
        precheck_model(model)  # a bad model name fails now, before anything slow
        document, n_docs = read_document(file, doc)
        text = document.text
        if n_docs > 1 and doc is None:
            err_console.print(
                f"{file}: showing the first of {n_docs} records (pick one with --doc)",
                highlight=False,
            )
        if plot is not None:
            _check_plot_path(plot)
        from manifold_core.chunking import BREAKPOINT_RULES, SemanticChunker
        from manifold_core.cli._common import load_encoder
        from manifold_core.plotting import chunking_profile

        if rule not in BREAKPOINT_RULES:
            fail(f"--rule must be one of {', '.join(BREAKPOINT_RULES)}; got {rule!r}")
        encoder = load_encoder(model)
        chunker = SemanticChunker(
            encoder,
            breakpoint_rule=rule,  # type: ignore[arg-type]
            threshold=threshold,
            buffer_size=buffer_size,
            min_tokens=min_tokens,
            max_tokens=max_tokens,
            overlap_tokens=overlap,
        )
        profile = chunking_profile(chunker, text)
        name = "stdin" if file == "-" else file
        if as_json:
            typer.echo(
                json.dumps(
                    profile_to_json(profile, file=name, model=model, document=document),
                    indent=2,
                    ensure_ascii=False,
                )
            )
        else:
            _print_table(profile, file=name, model=model)
        if plot is not None:
            from manifold_core.plotting import plot_chunking

            plot_chunking(profile, plot, title=f"{Path(name).name}: where the splitter cuts")
            (err_console if as_json else console).print(f"wrote {plot}", highlight=False)


__all__ = ["chunks", "profile_to_json", "read_document", "read_text_file"]
