"""The default splitter against fixed-size and recursive splitters, on held-out questions.

Questions of a chunking dataset (``manifold eval-chunks`` format) are split in two halves
by a hash of their id: ``dev`` (where the default's settings were chosen) and ``test``
(reported). Every chunker is scored at ``k`` chunks and at a budget of retrieved tokens
(:func:`manifold_core.chunk_benchmark.evaluate_chunkers`); a second table gives, for each
of ours (``semantic...``) against each baseline, the differences in recall and IoU at the
budget with their paired bootstrap intervals (``ChunkEvalReport.compare``). Run:

    HF_HUB_OFFLINE=1 python benchmarks/chunk_default.py --dataset examples/chunking-en \\
        --model pkg:all-MiniLM-L6-v2 --split test
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BASELINES = (
    "fixed:max_tokens=200",
    "fixed:max_tokens=200,overlap=50",
    "fixed:max_tokens=400",
    "fixed:max_tokens=400,overlap=100",
    "recursive:chunk_size=200",
    "recursive:chunk_size=400",
)
OURS = (
    "semantic:breakpoint_rule=size",
    "semantic:breakpoint_rule=size,max_tokens=300,overlap_tokens=150",
    "semantic",
)


def question_half(qid: str) -> str:
    """``dev`` or ``test``: a stable half of the questions, by a hash of the id."""
    return "dev" if int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 2 == 0 else "test"


def load_half(dataset: str, split: str) -> Any:
    """The chunking dataset at ``dataset`` with only the questions of ``split`` (or all)."""
    from manifold_core.chunk_benchmark import load_chunking_dataset

    full = load_chunking_dataset(dataset)
    return full.only_queries(q for q in full.queries if split in ("all", question_half(q)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="chunking dataset folder")
    parser.add_argument("--model", required=True, help="embedding model (pkg:NAME, folder)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--chunkers", default="", help="specs separated by ; (default: all)")
    args = parser.parse_args()

    from manifold_core.chunk_benchmark import evaluate_chunkers
    from manifold_core.encoders import resolve_encoder

    data = load_half(args.dataset, args.split)
    specs = [s for s in args.chunkers.split(";") if s] or [*BASELINES, *OURS]
    t0 = time.perf_counter()
    report = evaluate_chunkers(
        data, specs, resolve_encoder(args.model), k=args.k, budget=args.budget
    )
    seconds = time.perf_counter() - t0
    print(
        f"{args.dataset}, {args.model}, {args.split} questions ({report.n_queries}), "
        f"k={args.k}, budget={args.budget} tokens, {seconds:.0f} s\n"
    )
    print(
        "| chunker | recall@k | IoU@k | recall@budget | IoU@budget | IoU@budget (tokens) "
        "| chunks | mean tokens | max tokens | over model limit |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in report.results.items():
        a, b = r.at_k, r.at_budget
        print(
            f"| {name} | {a['recall']:.3f} | {a['iou']:.4f} | {b['recall']:.3f} | {b['iou']:.4f} "
            f"| {b['iou_tokens']:.4f} | {r.n_chunks} | {r.tokens_mean:.0f} | {r.tokens_max} "
            f"| {r.over_model_limit} |"
        )
    ours = [n for n in report.results if n.startswith("semantic")]
    others = [n for n in report.results if not n.startswith("semantic")]
    if ours and others:
        print(
            "\nOurs minus each baseline at the budget, mean over the questions and its paired "
            "bootstrap 95% interval (manifold_core.paired); `both >=`: the mean recall and IoU "
            "are at least the baseline's.\n"
        )
        print("| ours | baseline | recall | IoU | both >= |")
        print("|---|---|---|---|---|")
        for mine in ours:
            for other in others:
                d = report.compare(mine, other)
                ok = d["recall"].mean >= 0 and d["iou"].mean >= 0
                print(
                    f"| {mine} | {other} | {d['recall'].text(3)} | {d['iou'].text(4)} "
                    f"| {'yes' if ok else 'no'} |"
                )
    for name, why in report.skipped.items():
        print(f"skipped {name}: {why}")


if __name__ == "__main__":
    main()
