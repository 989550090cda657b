"""Fusion defaults and cross-validated tuning on SciFact (English) and CMRC 2018 (Chinese).

For each dataset the corpus is embedded once (cached as ``.npy`` in ``--cache``, default a
temporary folder removed at the end), indexed in an in-memory ``HybridStore``, and every
query's dense and BM25 candidates (100 per side) are collected once; every fusion
setting is then replayed on those lists (:mod:`manifold_core.fusion_tuning`), exactly as
``HybridRetriever`` would fuse them. Rows:

- ``bm25``, ``dense``: one side alone (top 100);
- ``hybrid``: the current default, equal-weight ``dbsf`` over 50 candidates per side;
- candidate defaults (fixed settings, no judgements needed);
- ``tuned on <tune split>``: the setting cross-validation picks on the tune split
  (SciFact train, CMRC dev), applied to the report split;
- ``hybrid-tuned (CV)``: ``manifold eval``'s figure, 5-fold CV on the split itself.

nDCG@10 per split (``ndcg_at``, equal to ir-measures' ``trec_eval`` figure, pinned by a
test). Defaults are to be chosen on the tune splits; the report splits are the result.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fusion_tuning.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fusion_tuning.py --datasets cmrc2018 --cache /tmp/c
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import numpy as np  # noqa: E402

from benchmarks.scifact_data import data_dir  # noqa: E402
from manifold_core.evaluation import build_store, collect_candidates, load_beir  # noqa: E402
from manifold_core.fusion_tuning import (  # noqa: E402
    DEFAULT_SETTING,
    Candidates,
    FusionSetting,
    cross_validate,
    fused_ranking,
    ndcg_at,
    tune,
    tune_candidates,
)
from manifold_core.ingest import embed_texts  # noqa: E402

# dataset -> (embedding model, tune split, report split)
DATASETS: dict[str, tuple[str, str, str]] = {
    "scifact": ("pkg:all-MiniLM-L6-v2", "train", "test"),
    "cmrc2018": ("pkg:multilingual-use", "dev", "test"),
}

FIXED: list[tuple[str, FusionSetting]] = [
    ("bm25", FusionSetting("rrf", 0.0, 100)),
    ("dense", FusionSetting("rrf", 1.0, 100)),
    ("hybrid (default: dbsf, 50)", DEFAULT_SETTING),
    ("rrf, depth 50 (the old default)", FusionSetting("rrf", 0.5, 50)),
    ("rrf, depth 100", FusionSetting("rrf", 0.5, 100)),
    ("rrf, depth 20", FusionSetting("rrf", 0.5, 20)),
    ("rrf, depth 10", FusionSetting("rrf", 0.5, 10)),
    ("rrf c=10, depth 50", FusionSetting("rrf", 0.5, 50, 10)),
    ("rrf w_dense=0.3, depth 50", FusionSetting("rrf", 0.3, 50)),
    ("relative_score, depth 50", FusionSetting("relative_score", 0.5, 50)),
    ("relative_score, depth 20", FusionSetting("relative_score", 0.5, 20)),
    ("dbsf, depth 20", FusionSetting("dbsf", 0.5, 20)),
    ("dbsf w_dense=0.3, depth 50", FusionSetting("dbsf", 0.3, 50)),
]


def mean_score(
    cands: Mapping[str, Candidates], qrels: Mapping[str, Mapping[str, int]], s: FusionSetting
) -> float:
    """Mean nDCG@10 of ``s`` over the judged queries of ``cands``."""
    return math.fsum(ndcg_at(fused_ranking(c, s, 10), qrels[q]) for q, c in cands.items()) / len(
        cands
    )


def _scorer(
    cands: Mapping[str, Candidates], qrels: Mapping[str, Mapping[str, int]]
) -> Callable[[FusionSetting, str], float]:
    def score(s: FusionSetting, q: str) -> float:
        return ndcg_at(fused_ranking(cands[q], s, 10), qrels[q])

    return score


def _argmax(
    ids: Sequence[str], score: Callable[[FusionSetting, str], float], grid: Sequence[FusionSetting]
) -> FusionSetting:
    return tune(ids, score, grid, min_gain_se=0)


def embed_corpus(model: str, texts: Sequence[str], cache: Path) -> np.ndarray:
    """Document vectors of ``texts``, cached in ``cache`` by model and text hash."""
    digest = hashlib.sha256(model.encode())
    for t in texts:
        digest.update(hashlib.sha256(t.encode()).digest())
    path = cache / f"emb-{digest.hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    from manifold_core.encoders import resolve_encoder

    enc = resolve_encoder(model)
    t0 = time.perf_counter()
    vectors = embed_texts(enc, texts, batch_size=64)
    print(f"  embedded {len(texts)} documents in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    np.save(path, vectors, allow_pickle=False)
    return vectors


def run_dataset(
    name: str,
    cache: Path,
    max_queries: int | None,
    folds: int,
    max_docs: int | None,
    model: str | None = None,
) -> dict[str, Any]:
    """Every row's nDCG@10 on the tune and report splits of one dataset."""
    from manifold_core.encoders import resolve_encoder

    default_model, tune_split, report_split = DATASETS[name]
    model = model or default_model
    tune_set = load_beir(data_dir() / name, tune_split, max_queries=max_queries)
    report_set = load_beir(data_dir() / name, report_split, max_queries=max_queries)
    ids = list(report_set.corpus)
    if max_docs is not None and max_docs < len(ids):
        # every judged document of the kept queries, then a seeded sample of the others
        judged = {d for s in (tune_set, report_set) for r in s.qrels.values() for d in r}
        rest = sorted(set(ids) - judged)
        random.Random(0).shuffle(rest)
        keep = judged | set(rest[: max(0, max_docs - len(judged))])
        ids = [i for i in ids if i in keep]
    texts = [report_set.corpus[i] for i in ids]
    vectors = embed_corpus(model, texts, cache)
    encoder = resolve_encoder(model)
    store = build_store(encoder, ids, texts, vectors, None)
    try:
        t0 = time.perf_counter()
        tune_c, _ = collect_candidates(store, tune_set.queries, 100)
        report_c, _ = collect_candidates(store, report_set.queries, 100)
        print(f"  searched in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    finally:
        store.client.delete_collection(store.collection_name)
    rows: dict[str, tuple[float, float]] = {}
    for label, s in FIXED:
        rows[label] = (
            mean_score(tune_c, tune_set.qrels, s),
            mean_score(report_c, report_set.qrels, s),
        )
    t0 = time.perf_counter()
    on_tune = tune_candidates(tune_c, tune_set.qrels, folds=folds)
    cv_report = tune_candidates(report_c, report_set.qrels, folds=folds)
    print(f"  tuned in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    rows[f"tuned on {tune_split}: {on_tune.setting.label()}"] = (
        on_tune.score,
        mean_score(report_c, report_set.qrels, on_tune.setting),
    )
    rows["hybrid-tuned (5-fold CV on the split)"] = (on_tune.score, cv_report.score)
    raw_tune = cross_validate(
        [q for q in tune_c if tune_set.qrels.get(q)],
        _scorer(tune_c, tune_set.qrels),
        folds=folds,
        tuner=_argmax,
    )
    raw_report = cross_validate(
        [q for q in report_c if report_set.qrels.get(q)],
        _scorer(report_c, report_set.qrels),
        folds=folds,
        tuner=_argmax,
    )
    rows["hybrid-tuned without the one-SE guard (CV)"] = (raw_tune.score, raw_report.score)
    return {
        "model": model,
        "splits": (tune_split, report_split),
        "n": (len(tune_set.queries), len(report_set.queries)),
        "docs": len(ids),
        "rows": rows,
        "cv_setting": cv_report.setting.label(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", default="scifact,cmrc2018")
    p.add_argument("--cache", default=None, help="embedding cache folder (default: temporary)")
    p.add_argument("--max-queries", type=int, default=None, help="first N queries per split")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--model", default=None, help="embedding model for every dataset listed")
    p.add_argument(
        "--max-docs",
        type=int,
        default=None,
        help="subsample the corpus: the judged documents of the kept queries, then a "
        "seeded sample of the others, up to N",
    )
    args = p.parse_args()
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="manifold-fusion-"))
    cache.mkdir(parents=True, exist_ok=True)
    try:
        for name in args.datasets.split(","):
            print(f"{name} ...", file=sys.stderr)
            r = run_dataset(name, cache, args.max_queries, args.folds, args.max_docs, args.model)
            print_table(name, r)
    finally:
        if not args.cache:
            shutil.rmtree(cache, ignore_errors=True)


def print_table(name: str, r: Mapping[str, Any]) -> None:
    """One dataset's markdown table, printed as soon as it is measured."""
    (ts, rs), (nt, nr) = r["splits"], r["n"]
    print(f"\n{name} ({r['model']}, {r['docs']} documents), nDCG@10\n")
    print(f"| pipeline | {ts} ({nt} q) | {rs} ({nr} q) |")
    print("| --- | ---: | ---: |")
    for label, (a, b) in r["rows"].items():
        print(f"| {label} | {a:.4f} | {b:.4f} |")
    print(f"\nCV on {rs} picks (all queries): {r['cv_setting']}", flush=True)


if __name__ == "__main__":
    main()
