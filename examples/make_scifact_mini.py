"""Cut ``examples/scifact-mini`` out of the BEIR SciFact test split (deterministic).

The first ``--queries`` test queries (qrels order) with every document judged relevant
to them, plus distractors up to ``--docs`` documents: for each query its best-ranked
non-relevant documents under BM25 (``--hard``) and under all-MiniLM-L6-v2 (``--dense-hard``),
so the set is not trivially easy and favours neither side, then documents drawn at random
with a fixed seed. Document order is the order of the full corpus. Run from the
repository root (the corpus embeddings are cached in ``.bench_cache/``):

    HF_HUB_OFFLINE=1 python examples/make_scifact_mini.py --source ../shared/data/scifact
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from manifold_core.evaluation import load_beir  # noqa: E402
from manifold_core.lexical import LexicalIndex  # noqa: E402


def _dense_rankings(data: Any, n: int) -> dict[str, list[str]]:
    """Each query's ``n`` nearest documents under all-MiniLM-L6-v2 (exact cosine)."""
    from benchmarks.scifact_data import cached_embeddings
    from manifold_core.encoders import resolve_encoder

    encoder = resolve_encoder("pkg:all-MiniLM-L6-v2")
    ids = sorted(data.corpus)
    docs = cached_embeddings(
        "all-MiniLM-L6-v2", [data.corpus[i] for i in ids], encoder.encode_documents
    )
    qids = list(data.queries)
    sims = encoder.encode_queries([data.queries[q] for q in qids]) @ docs.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :n]
    return {q: [ids[j] for j in row] for q, row in zip(qids, order, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(HERE.parent.parent / "shared/data/scifact"))
    parser.add_argument("--out", default=str(HERE / "scifact-mini"))
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--hard", type=int, default=2, help="BM25 distractors per query")
    parser.add_argument("--dense-hard", type=int, default=2, help="dense distractors per query")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    source = Path(args.source)
    data = load_beir(source, "test", max_queries=args.queries)
    keep: dict[str, None] = {}
    for rel in data.qrels.values():
        keep.update(dict.fromkeys(d for d in rel if d in data.corpus))
    index = LexicalIndex()
    index.add(list(data.corpus), list(data.corpus.values()))
    for qid, query in data.queries.items():
        hard = [d for d, _ in index.search(query, 50) if d not in data.qrels[qid]]
        keep.update(dict.fromkeys(hard[: args.hard]))
    if args.dense_hard:
        for qid, ranked in _dense_rankings(data, 50).items():
            hard = [d for d in ranked if d not in data.qrels[qid]]
            keep.update(dict.fromkeys(hard[: args.dense_hard]))
    rest = sorted(set(data.corpus) - set(keep))
    random.Random(args.seed).shuffle(rest)
    keep.update(dict.fromkeys(rest[: max(0, args.docs - len(keep))]))

    out = Path(args.out)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with gzip.open(source / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    kept_rows = [r for r in rows if str(r["_id"]) in keep]
    # mtime=0: the same input gives byte-identical files
    with (
        open(out / "corpus.jsonl.gz", "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
    ):
        for r in kept_rows:
            row = {"_id": str(r["_id"]), "title": r.get("title", ""), "text": r["text"]}
            gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    with open(out / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in data.queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, rel in data.qrels.items():
            for doc, score in rel.items():
                fh.write(f"{qid}\t{doc}\t{score}\n")
    print(f"{out}: {len(kept_rows)} documents, {len(data.queries)} queries")


if __name__ == "__main__":
    main()
