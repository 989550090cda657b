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
    from manifold_core.plotting import ChunkingProfile

PREVIEW_CHARS = 80


def read_text_file(file: str) -> str:
    """The file's text (``-`` reads stdin), or a one-line error: missing, binary, empty."""
    if file == "-":
        data = sys.stdin.buffer.read()
        name = "stdin"
    else:
        path = Path(file)
        if not path.exists():
            raise FileNotFoundError(f"{file}: no such file")
        if path.is_dir():
            fail(f"{file} is a directory; give one text file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            fail(f"{file}: cannot read ({exc.strerror or exc})")
        name = file
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it first, e.g. iconv -f GBK -t UTF-8"
        )
    if not text.strip():
        fail(f"{name} is empty: nothing to chunk")
    return text


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


def profile_to_json(profile: ChunkingProfile, *, file: str, model: str) -> dict[str, Any]:
    """The profile as plain JSON: settings, the cut-off, every chunk and every gap."""
    return {
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
    file: Annotated[str, typer.Argument(help="A UTF-8 text file ('-' reads stdin).")],
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
            help="Breakpoint rule: percentile, stddev, interquartile, gradient, absolute "
            "or number_of_chunks.",
        ),
    ] = "percentile",
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
        typer.Option("--max-tokens", help="Hard limit per chunk (default: the model's limit)."),
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
) -> None:
    """Show where the semantic splitter cuts FILE: chunks, boundary similarities, cut-off."""
    with cli_errors():
        text = read_text_file(file)
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
        )
        profile = chunking_profile(chunker, text)
        name = "stdin" if file == "-" else file
        if as_json:
            typer.echo(
                json.dumps(
                    profile_to_json(profile, file=name, model=model), indent=2, ensure_ascii=False
                )
            )
        else:
            _print_table(profile, file=name, model=model)
        if plot is not None:
            from manifold_core.plotting import plot_chunking

            plot_chunking(profile, plot, title=f"{Path(name).name}: where the splitter cuts")
            (err_console if as_json else console).print(f"wrote {plot}", highlight=False)


__all__ = ["chunks", "profile_to_json", "read_text_file"]
