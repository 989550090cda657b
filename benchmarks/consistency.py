"""How fast a reader follows another process's writes, and what the freshness check costs.

On a `chroma run` server started here (127.0.0.1) with N chunks (precomputed random
embeddings, Zipf-distributed words): another process upserts 1,000 chunks; we time until
a reader's search reflects them (journal catch-up) against a full rebuild of the reader's
index (what a reader without the journal must do), the cost the freshness check adds to a
search at ``max_staleness=0`` and at the default, and the lexical index's memory.

    python benchmarks/consistency.py [--chunks 100000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chromadb

from manifold_core.store import HybridStore

DIM = 64


def corpus(n: int, seed: int) -> tuple[list[str], list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(20_000)])
    words = vocab[np.minimum(rng.zipf(1.2, size=(n, 40)), 20_000) - 1]
    texts = [" ".join(row) for row in words]
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return [f"c{i}" for i in range(n)], texts, vecs


class Zero:
    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), DIM), np.float32) / np.sqrt(DIM)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self.encode_queries(texts)


def server() -> tuple[subprocess.Popen[bytes], int, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    data = tempfile.mkdtemp(prefix="bench-chroma-")
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path", data],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            break
        except Exception:
            time.sleep(0.2)
    return proc, port, data


WRITER = """
import sys, numpy as np, chromadb
sys.path.insert(0, {root!r})
from manifold_core.store import HybridStore
sys.path.insert(0, {bench!r})
from consistency import corpus, Zero
ids, texts, vecs = corpus(1000, 99)
ids = [f"c{{i}}" for i in range(1000)]
texts = [t + " freshword" for t in texts]
s = HybridStore(Zero(), client=chromadb.HttpClient(host="127.0.0.1", port={port}),
                collection_name="bench", max_staleness=3600)
s.upsert(texts, ids=ids, embeddings=vecs)
"""


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--searches", type=int, default=300)
    args = ap.parse_args()
    proc, port, data = server()
    try:
        client = chromadb.HttpClient(host="127.0.0.1", port=port)
        ids, texts, vecs = corpus(args.chunks, 0)
        t = time.perf_counter()
        loader = HybridStore(Zero(), client=client, collection_name="bench", max_staleness=3600)
        loader.add(texts, ids=ids, embeddings=vecs)
        load_s = time.perf_counter() - t
        tracemalloc.start()
        reader = HybridStore(Zero(), client=client, collection_name="bench", max_staleness=0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        reader.wait_for_repairs()
        t = time.perf_counter()
        reader.mirror.rebuild()
        rebuild_s = time.perf_counter() - t

        code = WRITER.format(
            root=str(Path(__file__).resolve().parent.parent),
            bench=str(Path(__file__).resolve().parent),
            port=port,
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        t = time.perf_counter()
        while not reader.lexical_search("freshword", 2000):
            pass
        catch_s = time.perf_counter() - t
        assert len(reader.lexical_search("freshword", 2000)) == 1000

        q = "w1 w17 w250"
        reader.mirror.max_staleness = 3600.0
        reader.sync(0)
        base = []
        for _ in range(args.searches):
            t = time.perf_counter()
            reader.mirror.index.search(q, 10)
            base.append(time.perf_counter() - t)
        costs: dict[str, list[float]] = {"0": [], "default (1 s)": []}
        for label, staleness in (("0", 0.0), ("default (1 s)", 1.0)):
            reader.mirror.max_staleness = staleness
            for _ in range(args.searches):
                t = time.perf_counter()
                reader.sync()
                costs[label].append(time.perf_counter() - t)
        n = args.chunks
        print(f"| measure ({n:,} chunks, chroma run on 127.0.0.1) | value |")
        print("| --- | ---: |")
        print(f"| initial load through HybridStore.add | {load_s:.1f} s |")
        print(f"| full rebuild of a reader's index from Chroma | {rebuild_s:.2f} s |")
        print(f"| catch-up after another process upserted 1,000 | {catch_s:.3f} s |")
        print(f"| catch-up / rebuild | {catch_s / rebuild_s:.3f} |")
        print(f"| BM25 search alone, p50 | {p50(base):.3f} ms |")
        for label, samples in costs.items():
            print(f"| freshness check at max_staleness={label}, p50 | {p50(samples):.4f} ms |")
        print(f"| traced memory of opening a reader (index build) | {peak / 2**20:.0f} MiB |")
        print(f"| ... per 100k chunks | {peak / 2**20 * 100_000 / n:.0f} MiB |")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
