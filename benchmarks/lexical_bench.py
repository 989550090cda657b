"""Lexical index vs rank-bm25 on synthetic Zipf corpora: query latency, top-10 parity, build time.

Prints one markdown table. Both sides get the same pre-tokenized documents and queries
(tokenization is excluded: it is the same jieba/word code for any BM25 built on it).

* query p50: ``LexicalIndex.search(tokens, 10)`` (scoring *and* top-10 selection) against
  ``BM25Okapi.get_scores(tokens)`` (scores only; its top-10 would cost an extra argsort).
* top-10 parity: our okapi top 10 equals rank-bm25's top 10 ordered by score, then id.
* build: ``LexicalIndex.add_tokenized`` (vocabulary, postings, metadata digest) against
  ``BM25Okapi(corpus)``.

Usage::

    .venv/bin/python benchmarks/lexical_bench.py                  # 100k and 1M docs, ~4 min
    .venv/bin/python benchmarks/lexical_bench.py --docs 20000 --big-docs 0   # quick
    .venv/bin/python benchmarks/lexical_bench.py --no-big-reference  # extrapolate rank-bm25 at 1M
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from manifold_core.lexical import LexicalIndex


@dataclass
class Corpus:
    """Pre-tokenized synthetic documents with a Zipf-distributed vocabulary."""

    ids: list[str]
    tokens: list[list[str]]
    years: np.ndarray


def make_corpus(
    n_docs: int,
    *,
    vocab_size: int = 200_000,
    mean_len: int = 48,
    zipf_s: float = 1.07,
    seed: int = 0,
) -> Corpus:
    """``n_docs`` documents of ~``mean_len`` tokens drawn from a Zipf law over ``vocab_size``.

    Word ranks follow p(r) ~ 1/r**s (s slightly above 1, as in natural text), so the most
    frequent terms appear in most documents and long postings lists exist.
    """
    rng = np.random.default_rng(seed)
    names = [f"w{r}" for r in range(vocab_size)]
    p = 1.0 / np.arange(1, vocab_size + 1) ** zipf_s
    cdf = np.cumsum(p / p.sum())
    lengths = np.clip(rng.poisson(mean_len, size=n_docs), 1, None)
    ranks = np.searchsorted(cdf, rng.random(int(lengths.sum())), side="right")
    ranks = np.minimum(ranks, vocab_size - 1)
    flat = [names[r] for r in ranks.tolist()]
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    tokens = [flat[bounds[i] : bounds[i + 1]] for i in range(n_docs)]
    ids = [f"doc{i:07d}" for i in range(n_docs)]
    years = rng.integers(2015, 2025, size=n_docs)
    return Corpus(ids, tokens, years)


def make_queries(corpus: Corpus, n: int, *, seed: int = 1) -> list[list[str]]:
    """Queries of 3-6 distinct terms taken from random documents (so they match something)."""
    rng = np.random.default_rng(seed)
    out: list[list[str]] = []
    while len(out) < n:
        doc = corpus.tokens[int(rng.integers(len(corpus.tokens)))]
        terms = list(dict.fromkeys(doc))
        if len(terms) < 3:
            continue
        k = int(rng.integers(3, min(6, len(terms)) + 1))
        out.append([terms[i] for i in rng.choice(len(terms), size=k, replace=False)])
    return out


def p50_ms(fn: Callable[[list[str]], object], queries: Sequence[list[str]]) -> float:
    """Median wall time of ``fn(query)`` in milliseconds (after one warm-up call)."""
    fn(queries[0])
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def reference_top10(scores: np.ndarray, ids: list[str]) -> list[str]:
    idx = np.flatnonzero(scores > 0)
    order = sorted(idx.tolist(), key=lambda i: (-scores[i], ids[i]))[:10]
    return [ids[i] for i in order]


def build_ours(corpus: Corpus, variant: str, with_metadata: bool) -> tuple[LexicalIndex, float]:
    index = LexicalIndex(variant)  # type: ignore[arg-type]
    metas = [{"year": int(y)} for y in corpus.years.tolist()] if with_metadata else None
    gc.collect()
    t0 = time.perf_counter()
    index.add_tokenized(corpus.ids, corpus.tokens, metas)
    return index, time.perf_counter() - t0


def build_reference(corpus: Corpus) -> tuple[object, float]:
    from rank_bm25 import BM25Okapi

    gc.collect()
    t0 = time.perf_counter()
    ref = BM25Okapi(corpus.tokens)
    return ref, time.perf_counter() - t0


def _ratio(reference: float, ours: float) -> str:
    r = reference / ours
    return f"{r:.2f}x faster" if r >= 1 else f"{1 / r:.2f}x slower"


def _fmt_ms(x: float) -> str:
    return f"{x:.2f} ms" if x < 100 else f"{x:,.0f} ms"


def run(
    docs: int = 100_000,
    big_docs: int = 1_000_000,
    queries: int = 50,
    big_queries: int = 5,
    big_reference: bool = True,
    log: Callable[[str], None] = print,
) -> list[tuple[str, str, str, str]]:
    """Measure and return table rows (what, ours, rank-bm25, ratio)."""
    rows: list[tuple[str, str, str, str]] = []
    where = {"year": {"$gte": 2020}}

    warm = LexicalIndex()  # one-time imports (scipy.sparse) are not build time
    warm.add_tokenized(["a"], [["b"]], [{"c": 1}])
    log(f"building a {docs:,}-document corpus ...")
    corpus = make_corpus(docs)
    qs = make_queries(corpus, queries)
    okapi, t_ours = build_ours(corpus, "okapi", with_metadata=False)
    lucene, t_meta = build_ours(corpus, "lucene", with_metadata=True)
    ref, t_ref = build_reference(corpus)
    ours_p50 = p50_ms(lambda q: okapi.search(q, 10), qs)
    lucene_p50 = p50_ms(lambda q: lucene.search(q, 10), qs)
    filtered_p50 = p50_ms(lambda q: lucene.search(q, 10, where), qs)
    ref_p50 = p50_ms(lambda q: ref.get_scores(q), qs[: min(len(qs), 20)])  # type: ignore[attr-defined]
    same = sum(
        [i for i, _ in okapi.search(q, 10)] == reference_top10(ref.get_scores(q), corpus.ids)  # type: ignore[attr-defined]
        for q in qs
    )
    max_diff = max(
        float(np.abs(okapi.get_scores(q) - ref.get_scores(q)).max())  # type: ignore[attr-defined]
        for q in qs[:10]
    )
    n = f"{docs // 1000}k"
    rows += [
        (
            f"{n} docs: query p50, okapi",
            _fmt_ms(ours_p50),
            _fmt_ms(ref_p50),
            f"**{ref_p50 / ours_p50:,.0f}x** faster",
        ),
        (f"{n} docs: query p50, lucene (default)", _fmt_ms(lucene_p50), "", ""),
        (f"{n} docs: query p50, lucene + filter (half the docs)", _fmt_ms(filtered_p50), "", ""),
        (
            f"{n} docs: okapi top-10 identical to rank-bm25",
            f"{same}/{len(qs)} queries",
            f"max score diff {max_diff:.1e}",
            "",
        ),
        (f"{n} docs: build", f"{t_ours:.1f} s", f"{t_ref:.1f} s", _ratio(t_ref, t_ours)),
        (f"{n} docs: build with a metadata field (rank-bm25 has none)", f"{t_meta:.1f} s", "", ""),
    ]
    log(f"{n}: ours {ours_p50:.2f} ms, rank-bm25 {ref_p50:.1f} ms, top-10 same {same}/{len(qs)}")
    del ref, okapi, lucene, corpus
    gc.collect()

    if big_docs:
        log(f"building a {big_docs:,}-document corpus ...")
        corpus = make_corpus(big_docs)
        qs = make_queries(corpus, queries)
        lucene, t_meta = build_ours(corpus, "lucene", with_metadata=True)
        lucene_p50 = p50_ms(lambda q: lucene.search(q, 10), qs)
        filtered_p50 = p50_ms(lambda q: lucene.search(q, 10, where), qs)
        del lucene
        gc.collect()
        okapi, t_ours = build_ours(corpus, "okapi", with_metadata=False)
        ours_p50 = p50_ms(lambda q: okapi.search(q, 10), qs)
        m = f"{big_docs / 1e6:g}M"
        if big_reference:
            ref, t_ref = build_reference(corpus)
            big_qs = qs[:big_queries]
            ref_p50 = p50_ms(lambda q: ref.get_scores(q), big_qs)  # type: ignore[attr-defined]
            same = sum(
                [i for i, _ in okapi.search(q, 10)]
                == reference_top10(ref.get_scores(q), corpus.ids)  # type: ignore[attr-defined]
                for q in big_qs
            )
            ref_cell, build_cell = _fmt_ms(ref_p50), f"{t_ref:.1f} s"
            rows += [
                (
                    f"{m} docs: query p50, okapi",
                    _fmt_ms(ours_p50),
                    ref_cell,
                    f"**{ref_p50 / ours_p50:,.0f}x** faster",
                ),
                (
                    f"{m} docs: okapi top-10 identical to rank-bm25",
                    f"{same}/{len(big_qs)} queries",
                    "",
                    "",
                ),
            ]
            del ref
        else:
            factor = big_docs / docs
            est = ref_p50 * factor
            build_cell = f"~{t_ref * factor:.0f} s (extrapolated x{factor:g} from {n})"
            t_ref = t_ref * factor
            rows.append(
                (
                    f"{m} docs: query p50, okapi",
                    _fmt_ms(ours_p50),
                    f"~{_fmt_ms(est)} (extrapolated x{factor:g} from {n})",
                    f"~{est / ours_p50:,.0f}x faster",
                )
            )
        rows += [
            (f"{m} docs: query p50, lucene (default)", _fmt_ms(lucene_p50), "", ""),
            (
                f"{m} docs: query p50, lucene + filter (half the docs)",
                _fmt_ms(filtered_p50),
                "",
                "",
            ),
            (f"{m} docs: build", f"{t_ours:.1f} s", build_cell, _ratio(t_ref, t_ours)),
            (
                f"{m} docs: build with a metadata field (rank-bm25 has none)",
                f"{t_meta:.1f} s",
                "",
                "",
            ),
        ]
        log(f"{m}: ours {ours_p50:.2f} ms, build {t_ours:.1f} s")
    return rows


def format_table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    lines = ["| measure | ours | rank-bm25 `BM25Okapi` | ratio |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000, help="small corpus (default 100k)")
    parser.add_argument(
        "--big-docs", type=int, default=1_000_000, help="large corpus, 0 to skip (default 1M)"
    )
    parser.add_argument("--queries", type=int, default=50, help="queries per corpus")
    parser.add_argument(
        "--big-queries",
        type=int,
        default=5,
        help="rank-bm25 queries at the large size (1.5 s+ each)",
    )
    parser.add_argument(
        "--no-big-reference",
        action="store_true",
        help="do not build rank-bm25 at the large size; extrapolate linearly",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    t0 = time.perf_counter()
    rows = run(
        args.docs,
        args.big_docs,
        args.queries,
        args.big_queries,
        not args.no_big_reference,
        log=lambda s: print(s, file=sys.stderr),
    )
    print(format_table(rows))
    print(f"\n(total {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
