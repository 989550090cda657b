"""Dense retrieval with and without the Qwen3 query instruction on a non-Qwen3 model.

Before issue 10, ``Qwen3Embeddings("pkg:all-MiniLM-L6-v2")`` put the Qwen3 instruction in
front of MiniLM queries while the CLI embedded them bare. This prints dense nDCG@10 and
MRR@10 on a BEIR folder for: the adapter's default now (the model's own prompt, none for
MiniLM), the old forced instruction, and the core/CLI encoder, with the corpus embedded
once and shared.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/query_prompts.py --dataset examples/scifact-mini
"""

from __future__ import annotations

import argparse

import numpy as np

from langchain_manifold import Qwen3Embeddings
from manifold_core.encoders import qwen3_query_prompt, resolve_encoder
from manifold_core.evaluation import evaluate, load_beir


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="examples/scifact-mini")
    p.add_argument("--model", default="pkg:all-MiniLM-L6-v2")
    args = p.parse_args()
    data = load_beir(args.dataset, "test")
    core = resolve_encoder(args.model)
    corpus = np.asarray(core.encode_documents(list(data.corpus.values())), dtype=np.float32)
    rows = {
        "core / CLI (resolve_encoder)": core,
        "Qwen3Embeddings default (now)": Qwen3Embeddings(args.model).encoder,
        "Qwen3Embeddings + Qwen3 instruction (before)": Qwen3Embeddings(
            args.model, query_prompt=qwen3_query_prompt()
        ).encoder,
    }
    print(
        f"{args.dataset}: {len(data.queries)} queries, {len(data.corpus)} documents, {args.model}"
    )
    print("| query embedding | nDCG@10 | MRR@10 |\n| --- | --- | --- |")
    for label, encoder in rows.items():
        report = evaluate(data, "dense", encoder=encoder, embeddings=corpus)
        m = report.pipelines["dense"].metrics
        print(f"| {label} | {m['nDCG@10']:.3f} | {m['MRR@10']:.3f} |")


if __name__ == "__main__":
    main()
