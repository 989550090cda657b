"""Score many settings of our splitter against the baselines on one half of the questions.

For tuning (``--split dev``): the model is loaded once and every text it embeds is cached,
so the sentences of all our settings and the chunks they share are embedded once. Prints
recall and IoU at the budget for every spec and, for each of ours, whether it is at least
as good as every baseline of ``benchmarks/chunk_default.py`` in both. Run:

    HF_HUB_OFFLINE=1 python benchmarks/chunk_search.py --dataset examples/chunking-en \\
        --model pkg:all-MiniLM-L6-v2 --split dev \\
        --chunkers "semantic:breakpoint_rule=size;semantic:breakpoint_rule=size,max_tokens=250"
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from chunk_default import BASELINES, load_half


class CachedEncoder:
    """An encoder that embeds each distinct document text once (queries pass through)."""

    def __init__(self, encoder: Any) -> None:
        self._encoder = encoder
        self._cache: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vecs = np.asarray(self._encoder.encode_documents(missing), dtype=np.float32)
            self._cache.update(zip(missing, vecs, strict=True))
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._encoder.encode_queries(texts), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--chunkers", required=True, help="our specs separated by ;")
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args()

    from manifold_core.chunk_benchmark import evaluate_chunkers
    from manifold_core.encoders import resolve_encoder

    data = load_half(args.dataset, args.split)
    ours = [s for s in args.chunkers.split(";") if s.strip()]
    baselines = [] if args.no_baselines else list(BASELINES)
    encoder = CachedEncoder(resolve_encoder(args.model))
    print(f"{args.dataset}, {args.model}, {args.split}, budget={args.budget}", flush=True)
    best_r = best_i = 0.0
    for spec in [*baselines, *ours]:
        t0 = time.perf_counter()
        report = evaluate_chunkers(data, [spec], encoder, k=args.k, budget=args.budget)
        r = report.results[spec]
        b = r.at_budget
        note = ""
        if spec in baselines:
            best_r, best_i = max(best_r, b["recall"]), max(best_i, b["iou"])
        elif baselines:
            ok = b["recall"] >= best_r and b["iou"] >= best_i
            note = "DOMINATES" if ok else f"(need R>={best_r:.3f} IoU>={best_i:.4f})"
        print(
            f"{spec}\tR={b['recall']:.3f}\tIoU={b['iou']:.4f}\tR@k={r.at_k['recall']:.3f}\t"
            f"chunks={r.n_chunks}\tmean={r.tokens_mean:.0f}\tmax={r.tokens_max}\t"
            f"{time.perf_counter() - t0:.0f}s\t{note}",
            flush=True,
        )


if __name__ == "__main__":
    main()
