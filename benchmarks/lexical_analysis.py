"""BM25 nDCG@10 with each lexical analysis: no stemming, English stemming, stop words, both.

The tokenizer is :class:`manifold_core.lexical.LexicalTokenizer` (jieba for Chinese, words
elsewhere) with PyStemmer's English Snowball stemmer and/or Lucene's 33 English stop words.
BM25 is the lucene variant of :class:`~manifold_core.lexical.LexicalIndex`; the metric is
ir-measures' nDCG@10. SciFact (English) and CMRC 2018 (Chinese, where only the Latin words
of the paragraphs are stemmed) are read from ``$MANIFOLD_SHARED_DIR/data``. Tune on the
dev/train split, report test. Run:

    python benchmarks/lexical_analysis.py --split test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scifact_data import load_beir, mean_ndcg

from manifold_core.lexical import LexicalIndex, LexicalTokenizer

VARIANTS = {
    "none (before)": {},
    "stop words": {"stopwords": "language", "language": None},
    "stemming": {"language": "english"},
    "stemming + stop words": {"stopwords": "language", "language": "english"},
}


def tokenizer(options: dict[str, object]) -> LexicalTokenizer:
    if options.get("stopwords") == "language" and options.get("language") is None:
        from manifold_core.lexical import ENGLISH_STOPWORDS

        return LexicalTokenizer(ENGLISH_STOPWORDS)
    return LexicalTokenizer(**options)  # type: ignore[arg-type]


def evaluate(dataset: str, split: str, options: dict[str, object]) -> tuple[float, float]:
    corpus, queries, qrels = load_beir(dataset, split)
    t0 = time.perf_counter()
    index = LexicalIndex(tokenizer=tokenizer(options))
    ids = list(corpus)
    index.add(ids, [corpus[i] for i in ids])
    run = {q: [d for d, _ in index.search(queries[q], 10)] for q in qrels if q in queries}
    return mean_ndcg(run, qrels), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", help="test, or train/dev to tune")
    parser.add_argument("--datasets", nargs="+", default=["scifact", "cmrc2018"])
    args = parser.parse_args()
    splits = {"scifact": args.split, "cmrc2018": "dev" if args.split == "train" else args.split}
    print(f"BM25 (lucene) nDCG@10, split {args.split}")
    print("| analysis | " + " | ".join(f"{d} ({splits[d]})" for d in args.datasets) + " |")
    print("|---|" + "---:|" * len(args.datasets))
    base: dict[str, float] = {}
    for name, options in VARIANTS.items():
        cells = []
        for d in args.datasets:
            score, _ = evaluate(d, splits[d], options)
            base.setdefault(d, score)
            cells.append(f"{score:.4f} ({score / base[d]:.3f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
