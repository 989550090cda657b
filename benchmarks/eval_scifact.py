"""SciFact through ``manifold_core.evaluation``: the ``manifold eval`` pipelines on full data.

Same pipelines and metrics as ``manifold eval`` (nDCG@10, Recall@100, MRR@10 from
ir-measures; mean/p95 latency per query), with all-MiniLM-L6-v2 corpus embeddings cached in
``.bench_cache/`` (shared with the quality test) and ms-marco-MiniLM-L-12-v2 for reranking.
Prints a markdown table; ``--json``/``--plot`` write the report.

    .venv/bin/python benchmarks/eval_scifact.py                       # bm25, dense, hybrid
    .venv/bin/python benchmarks/eval_scifact.py --pipelines hybrid,hybrid+rerank --max-queries 40
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from benchmarks.scifact_data import cached_embeddings, data_dir  # noqa: E402
from manifold_core.evaluation import evaluate, load_beir, parse_pipelines, plot_report  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dataset", default=str(data_dir() / "scifact"))
    p.add_argument("--split", default="test")
    p.add_argument("--pipelines", default="bm25,dense,hybrid")
    p.add_argument("--max-queries", type=int, default=None)
    p.add_argument("--fusion", default="rrf")
    p.add_argument("--rerank-depth", type=int, default=30)
    p.add_argument("--json", default=None, help="write the report here")
    p.add_argument("--plot", default=None, help="write the chart here")
    args = p.parse_args()

    names = parse_pipelines(args.pipelines)
    data = load_beir(args.dataset, args.split, max_queries=args.max_queries)
    encoder = embeddings = reranker = None
    if names != ["bm25"]:
        import numpy as np

        from manifold_core.encoders import resolve_encoder

        encoder = resolve_encoder("pkg:all-MiniLM-L6-v2")
        # cached in sorted-id order (the quality test's), handed over in corpus order
        ids = sorted(data.corpus)
        cached = cached_embeddings(
            "all-MiniLM-L6-v2", [data.corpus[i] for i in ids], encoder.encode_documents
        )
        row = {doc: i for i, doc in enumerate(ids)}
        embeddings = cached[np.array([row[doc] for doc in data.corpus])]
    if "hybrid+rerank" in names:
        from manifold_core.reranking import CrossEncoderReranker

        reranker = CrossEncoderReranker("pkg:ms-marco-MiniLM-L-12-v2")
    report = evaluate(
        data,
        names,
        encoder=encoder,
        reranker=reranker,
        fusion=args.fusion,
        rerank_depth=args.rerank_depth,
        embeddings=embeddings,
        embedding_model="all-MiniLM-L6-v2" if encoder is not None else None,
        reranker_model="ms-marco-MiniLM-L-12-v2" if reranker is not None else None,
    )
    metrics = list(next(iter(report.pipelines.values())).metrics)
    print(
        f"{report.dataset} {report.split}: {report.n_queries} queries, "
        f"{report.n_documents} documents, fusion {report.fusion}, depth {report.depth}"
    )
    print("| pipeline | " + " | ".join(metrics) + " | mean ms | p95 ms |")
    print("| --- |" + " ---: |" * (len(metrics) + 2))
    for name, res in report.pipelines.items():
        cells = " | ".join(f"{res.metrics[m]:.4f}" for m in metrics)
        print(f"| {name} | {cells} | {res.latency_ms_mean:.1f} | {res.latency_ms_p95:.1f} |")
    if args.json:
        report.write_json(args.json)
    if args.plot:
        plot_report(report, args.plot)


if __name__ == "__main__":
    main()
