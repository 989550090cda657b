"""A worker process for the multi-process tests: writer, foreign writer, reader or bulk.

Run as ``python mp_worker.py ROLE PORT COLLECTION OUT SEED DURATION [STOPFILE]``. Every
role talks to one `chroma run` server on 127.0.0.1; results go to the JSON file OUT.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chromadb
import numpy as np
from hybrid_helpers import HashEncoder

from manifold_core.filters import MetadataFilter
from manifold_core.lexical import content_fingerprint
from manifold_core.retrieval import HybridRetriever
from manifold_core.store import HybridStore

WORDS = ["red", "green", "blue", "cyan", "plum", "teal", "gold", "navy", "rust", "sand"]
IDS = [f"d{i}" for i in range(120)]
STALENESS = 0.5


def text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(4)) + f" v{rng.randrange(10**6)}"


def writer(store: HybridStore, rng: random.Random, duration: float, log: list) -> None:
    end = time.monotonic() + duration
    while time.monotonic() < end:
        op = rng.random()
        ids = rng.sample(IDS, rng.randint(1, 6))
        if op < 0.6:
            metas = [{"g": rng.randrange(3), "w": rng.choice(WORDS)} for _ in ids]
            store.upsert([text(rng) for _ in ids], metas, ids=ids)
            log.append(["upsert", time.time(), ids])
        elif op < 0.85:
            t = time.time()
            store.delete(ids=ids)
            log.append(["delete", t, ids])
        else:
            g = rng.randrange(3)
            t = time.time()
            store.delete(filter={"g": g, "w": rng.choice(WORDS)})
            log.append(["delete_where", t, []])


def foreign(col: object, rng: random.Random, duration: float, log: list) -> None:
    """A plain chromadb client: no journal. Upserts keep the count; adds and deletes don't."""
    end = time.monotonic() + duration
    while time.monotonic() < end:
        ids = rng.sample(IDS, rng.randint(1, 4))
        if rng.random() < 0.7:
            col.upsert(  # type: ignore[attr-defined]
                ids=ids,
                documents=[text(rng) for _ in ids],
                metadatas=[{"g": rng.randrange(3), "w": rng.choice(WORDS)} for _ in ids],
                embeddings=HashEncoder().encode_documents(["x"] * len(ids)),
            )
            log.append(["upsert", time.time(), ids])
        else:
            t = time.time()
            col.delete(ids=ids)  # type: ignore[attr-defined]
            log.append(["delete", t, ids])
        time.sleep(0.02)


def bulk(store: HybridStore, rng: random.Random) -> None:
    """One multi-batch upsert (batches of 40), to be killed part-way by the test."""
    store.client.get_max_batch_size = lambda: 40  # type: ignore[method-assign]
    ids = [f"bulk{i}" for i in range(2000)]
    Path(sys.argv[7]).write_text("started")
    store.upsert([text(rng) for _ in ids], [{"g": 9} for _ in ids], ids=ids)


def reader(store: HybridStore, rng: random.Random, stopfile: Path, out: dict) -> None:
    retriever = HybridRetriever(store, k=5, fetch_k=10)
    violations, searches, seen = 0, 0, []
    while not stopfile.exists():
        g = rng.randrange(3)
        flt = {"g": g}
        started = time.time()
        weights = rng.choice([(1.0, 1.0), (0.0, 1.0)])
        hits = retriever.search(rng.choice(WORDS), filter=flt, weights=weights)
        searches += 1
        check = MetadataFilter.parse(flt)
        assert check is not None
        violations += sum(not check.matches(h.metadata) for h in hits)
        seen.append([started, [h.id for h in hits]])
    out.update(searches=searches, violations=violations, seen=seen[-2000:])


def converge(store: HybridStore, col: object, timeout: float) -> dict:
    """After the writers stop: check until the index equals Chroma (or time runs out)."""
    start = time.monotonic()
    truth = ""
    while time.monotonic() - start < timeout:
        time.sleep(STALENESS)
        store.sync()
        store.wait_for_repairs(timeout)
        res = col.get(include=["documents", "metadatas"])  # type: ignore[attr-defined]
        truth = content_fingerprint(res["ids"], res["documents"], res["metadatas"])
        if store.lexical.fingerprint == truth:
            break
    return {
        "converged_after": time.monotonic() - start,
        "lexical": store.lexical.fingerprint,
        "truth": truth,
        "stats": store.mirror.stats,
    }


def main() -> None:
    role, port, name, out_path, seed, duration = sys.argv[1:7]
    rng = random.Random(int(seed))
    client = chromadb.HttpClient(host="127.0.0.1", port=int(port))
    out: dict = {"role": role}
    if role == "foreign":
        col = client.get_collection(name)
        log: list = []
        foreign(col, rng, float(duration), log)
        out["log"] = log
    else:
        store = HybridStore(
            HashEncoder(),
            client=client,
            collection_name=name,
            max_staleness=STALENESS,
            verify_interval=float(os.environ.get("MP_VERIFY_INTERVAL", "300")),
            intent_timeout=float(os.environ.get("MP_INTENT_TIMEOUT", "30")),
        )
        if role == "writer":
            log = []
            writer(store, rng, float(duration), log)
            out["log"] = log
        elif role == "bulk":
            bulk(store, rng)
        elif role == "reader":
            stop = Path(sys.argv[7])
            reader(store, rng, stop, out)
            out.update(converge(store, store.collection, timeout=float(duration)))
    Path(out_path).write_text(json.dumps(out))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
