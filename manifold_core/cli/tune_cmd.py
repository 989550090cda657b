"""``manifold tune``: choose the index's fusion setting on judgements, by cross-validation."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from manifold_core.cli._app import app
from manifold_core.cli._common import cli_errors, console, err_console, load_encoder


@app.command("tune")
def tune_command(
    dataset: Annotated[
        Path,
        typer.Option(
            "--dataset",
            "-d",
            help="A BEIR folder whose qrels judge documents of the index (by their _id).",
        ),
    ],
    index: Annotated[
        Path,
        typer.Option(
            "--index", "-i", help="Index directory made by `manifold ingest`.", metavar="DIR"
        ),
    ],
    split: Annotated[str, typer.Option(help="The qrels split to tune on.")] = "test",
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds over queries.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
    max_queries: Annotated[
        int | None,
        typer.Option("--max-queries", "-n", min=1, help="Tune on the first N queries only."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the setting, leave the manifest alone.")
    ] = False,
) -> None:
    """Tune fusion (method, weights, candidate depth) on judgements; save it in the index.

    Every setting is scored by nDCG@10 with k-fold cross-validation over the queries (each
    fold scored with the setting chosen on the others), so the printed score is honest.
    The setting chosen on all queries goes into the index manifest, where `manifold
    query` and the adapters' ``from_manifold_index`` pick it up.
    """
    with cli_errors():
        from manifold_core.evaluation import load_beir, tune_index
        from manifold_core.ingest import open_index, read_manifest, write_manifest

        data = load_beir(dataset, split, max_queries=max_queries)
        with err_console.status("Loading the index and its model…"):
            store, _ = open_index(index, load_encoder=load_encoder)
        with err_console.status(f"Tuning on {len(data.queries)} queries…"):
            cv, used = tune_index(store, data, folds=folds, seed=seed)
        console.print(
            f"fusion setting: {cv.setting.label()}\n"
            f"cross-validated nDCG@10: {cv.score:.4f} ({used} queries, {len(cv.folds)} folds)",
            highlight=False,
        )
        if dry_run:
            return
        manifest = read_manifest(index)  # re-read: written last, over the freshest copy
        assert manifest is not None
        tuned = {
            "setting": cv.setting.to_dict(),
            "cv_ndcg@10": round(cv.score, 6),
            "queries": used,
            "folds": len(cv.folds),
            "seed": seed,
            "dataset": data.name,
            "split": split,
            "tuned": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        path = write_manifest(index, dataclasses.replace(manifest, fusion=tuned))
        err_console.print(f"wrote the setting into {path}", highlight=False)


__all__ = ["tune_command"]
