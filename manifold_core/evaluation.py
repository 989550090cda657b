"""Evaluate retrieval pipelines on a BEIR-format dataset: loader, metrics, comparison.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``), either possibly gzipped, and ``qrels/<split>.tsv`` (a header, then
``query-id  corpus-id  score``). :func:`load_beir` reads one split; :func:`evaluate` builds
a :class:`~manifold_core.store.HybridStore` from the corpus and runs the pipelines

* ``bm25``: the lexical side alone (``HybridRetriever`` weights ``(0, 1)``),
* ``dense``: the embedding side alone (weights ``(1, 0)``),
* ``hybrid``: both, fused (``rrf`` by default),
* ``hybrid+rerank``: the hybrid ranking with its top ``rerank_depth`` reordered by a
  reranker (the rest keeps its hybrid order, so Recall@100 stays comparable),
* ``hybrid-tuned``: both sides fused with the setting (method, weights, depth) chosen on
  the judgements by k-fold cross-validation over queries
  (:mod:`manifold_core.fusion_tuning`): each query is ranked with the setting tuned on
  the other folds, so its score is an honest estimate,

scoring each with nDCG@10, Recall@100 and MRR@10 computed by ``ir-measures`` (the
``trec_eval`` implementations, so figures match published BEIR numbers), and timing every
query. A run of ``bm25`` alone needs no embedding model and no Chroma: it searches a
:class:`~manifold_core.lexical.LexicalIndex` built the same way the store builds its own.

Nothing here imports rich or a framework: progress goes through a plain callback.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from manifold_core.fusion import HYBRID_FUSION

if TYPE_CHECKING:
    from manifold_core.retrieval import HybridRetriever

__all__ = [
    "METRICS",
    "PIPELINES",
    "BeirDataset",
    "EvaluationReport",
    "PipelineResult",
    "ProgressCallback",
    "collect_candidates",
    "evaluate",
    "load_beir",
    "parse_pipelines",
    "plot_report",
    "score_run",
    "tune_index",
]

PIPELINES: tuple[str, ...] = ("bm25", "dense", "hybrid", "hybrid-tuned", "hybrid+rerank")
"""The pipelines :func:`evaluate` knows, in the order they are reported."""

METRICS: dict[str, str] = {"nDCG@10": "nDCG@10", "Recall@100": "R@100", "MRR@10": "RR@10"}
"""Reported name -> ``ir-measures`` measure. MRR@10 is ``RR@10`` averaged over queries."""

ProgressCallback = Callable[[str, int, int], None]
"""``progress(task, done, total)``: called as work advances (``done == total`` at the end).

Tasks: ``"embedding corpus"``, ``"indexing"``, then one per pipeline (``"bm25"`` ...,
with ``"hybrid+rerank"`` advancing together with ``"hybrid"``).
"""

_DENSE_PIPELINES = frozenset({"dense", "hybrid", "hybrid-tuned", "hybrid+rerank"})


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class BeirDataset:
    """One split of a BEIR dataset, ready to index and query.

    Attributes:
        name: the folder name (``scifact``).
        path: the folder.
        split: the qrels split read (``test``).
        corpus: document id -> indexed text: ``title + "\\n" + text`` (just the text when
            the title is empty). A newline is whitespace to BM25 and to wordpiece models,
            so this indexes what BEIR's ``title + " " + text`` does while keeping the
            title on its own line.
        queries: query id -> text, only queries with at least one relevant document
            and some text (CMRC 2018 has a blank one), after ``max_queries``, in qrels
            order.
        qrels: query id -> {document id -> graded relevance > 0}, same keys as ``queries``.
    """

    name: str
    path: Path
    split: str
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _find(root: Path, stem: str) -> Path:
    for candidate in (root / f"{stem}.jsonl", root / f"{stem}.jsonl.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{root} has no {stem}.jsonl or {stem}.jsonl.gz (a BEIR folder)")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict) or "_id" not in row:
                    raise ValueError(f"{path}:{lineno}: expected an object with an '_id'")
                yield lineno, row
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None


def _document_text(title: Any, text: Any) -> str:
    title_ = str(title or "").strip()
    text_ = str(text or "")
    return f"{title_}\n{text_}" if title_ else text_


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise ValueError(
                    f"{path}:{lineno}: expected 'query-id corpus-id score', got {line.strip()!r}"
                )
            try:
                score = int(float(parts[2]))
            except ValueError:
                if lineno == 1:  # the header
                    continue
                raise ValueError(f"{path}:{lineno}: score {parts[2]!r} is not a number") from None
            if score > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = score
    return qrels


def load_beir(
    path: str | Path, split: str = "test", *, max_queries: int | None = None
) -> BeirDataset:
    """Read one split of a BEIR-format folder.

    Args:
        path: the folder holding ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]`` and
            ``qrels/<split>.tsv``.
        split: which qrels file to read.
        max_queries: keep only the first ``n`` judged queries (qrels order), for a
            quicker run; ``None`` keeps all.

    Raises:
        FileNotFoundError: the folder, the corpus, the queries or ``qrels/`` is missing.
        ValueError: no qrels for ``split`` (the message lists the splits present), a
            malformed line (named by file and line), an empty corpus, no query with a
            relevant document, or ``max_queries`` not a positive int.
    """
    if max_queries is not None and (
        isinstance(max_queries, bool) or not isinstance(max_queries, int) or max_queries <= 0
    ):
        raise ValueError(f"max_queries must be a positive int or None, got {max_queries!r}")
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist (or is not a folder)")
    corpus_path = _find(root, "corpus")
    queries_path = _find(root, "queries")
    qrels_dir = root / "qrels"
    if not qrels_dir.is_dir():
        raise FileNotFoundError(f"{root} has no qrels/ folder (qrels/<split>.tsv)")
    qrels_path = qrels_dir / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in qrels_dir.glob("*.tsv"))
        raise ValueError(
            f"no qrels for split {split!r}: {qrels_path} does not exist; "
            f"splits present: {', '.join(splits) or 'none'}"
        )

    corpus: dict[str, str] = {}
    for _, row in _read_jsonl(corpus_path):
        corpus[str(row["_id"])] = _document_text(row.get("title"), row.get("text"))
    if not corpus:
        raise ValueError(f"the corpus {corpus_path} holds no documents")

    qrels = _read_qrels(qrels_path)
    all_queries: dict[str, str] = {}
    for _, row in _read_jsonl(queries_path):
        qid = str(row["_id"])
        text = str(row.get("text") or "")
        if qid in qrels and text.strip():  # a blank query cannot be searched: skipped
            all_queries[qid] = text
    judged = [q for q in qrels if q in all_queries]
    if not judged:
        raise ValueError(
            f"no query of {queries_path} has a relevant document in {qrels_path} "
            f"({len(qrels)} judged query ids, {len(all_queries)} of them found)"
        )
    if max_queries is not None:
        judged = judged[:max_queries]
    return BeirDataset(
        name=root.resolve().name,
        path=root,
        split=split,
        corpus=corpus,
        queries={q: all_queries[q] for q in judged},
        qrels={q: qrels[q] for q in judged},
    )


# --------------------------------------------------------------------------- metrics


def score_run(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Sequence[str]],
    metrics: Mapping[str, str] = METRICS,
) -> dict[str, float]:
    """Mean of each metric over every query of ``qrels``, computed with ``ir-measures``.

    Args:
        qrels: query id -> {document id -> relevance}.
        run: query id -> document ids, best first. A judged query missing from ``run``
            (or with no results) scores 0, as ``trec_eval -c`` counts it; queries
            without judgements are ignored.
        metrics: reported name -> ``ir-measures`` measure string (default
            :data:`METRICS`).

    Returns:
        reported name -> mean value, in the order of ``metrics``.
    """
    import ir_measures

    if not qrels:
        raise ValueError("qrels is empty: nothing to score")
    measures = {name: ir_measures.parse_measure(m) for name, m in metrics.items()}
    # trec_eval orders by score and breaks ties by document id: give strictly
    # decreasing scores so the given order is the order evaluated.
    scored = {
        q: {doc: float(len(ranked) - i) for i, doc in enumerate(dict.fromkeys(ranked))}
        for q, ranked in run.items()
        if q in qrels and ranked
    }
    sums = dict.fromkeys(measures, 0.0)
    if scored:
        by_measure = {m: name for name, m in measures.items()}
        qrels_used = {q: dict(qrels[q]) for q in scored}
        for metric in ir_measures.iter_calc(list(measures.values()), qrels_used, scored):
            sums[by_measure[metric.measure]] += float(metric.value)
    return {name: sums[name] / len(qrels) for name in measures}


# --------------------------------------------------------------------------- report


@dataclass
class PipelineResult:
    """Quality and speed of one pipeline.

    Attributes:
        name: the pipeline (``bm25``, ``dense``, ``hybrid``, ``hybrid+rerank``).
        metrics: reported metric name -> mean over the queries.
        latency_ms_mean: mean wall time per query, in milliseconds (query embedding,
            search, fusion, reading the hits, reranking: what a user waits for), after
            one untimed warm-up query.
        latency_ms_p95: the 95th percentile of the same.
        run: query id -> ranked document ids (not written by :meth:`EvaluationReport.to_dict`
            unless asked).
    """

    name: str
    metrics: dict[str, float]
    latency_ms_mean: float
    latency_ms_p95: float
    run: dict[str, list[str]] = field(default_factory=dict, repr=False)


@dataclass
class EvaluationReport:
    """What :func:`evaluate` measured, ready for a table, JSON or a chart.

    ``tuned`` (with ``hybrid-tuned``): the setting tuned on all queries (``setting``),
    its cross-validated nDCG@10 (``cv_ndcg@10``), ``folds`` and each fold's setting.
    """

    dataset: str
    split: str
    n_queries: int
    n_documents: int
    embedding_model: str | None
    reranker_model: str | None
    fusion: str
    depth: int
    rerank_depth: int
    pipelines: dict[str, PipelineResult]
    index_seconds: float = 0.0
    tuned: dict[str, Any] | None = None
    metric_definitions: dict[str, str] = field(default_factory=lambda: dict(METRICS))

    def to_dict(self, include_runs: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; ``include_runs`` adds every query's ranked ids."""
        data = asdict(self)
        for name, result in data["pipelines"].items():
            if not include_runs:
                result.pop("run")
            result.pop("name")
            data["pipelines"][name] = result
        return data

    def write_json(self, path: str | Path, include_runs: bool = False) -> Path:
        """Write :meth:`to_dict` as indented JSON (parent folders created); return the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(self.to_dict(include_runs), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        return out


# --------------------------------------------------------------------------- evaluation


def parse_pipelines(pipelines: str | Iterable[str]) -> list[str]:
    """Validate pipeline names (a list, or one comma-separated string), keep their order.

    Raises:
        ValueError: an unknown or repeated name, or none at all.
    """
    names = pipelines.split(",") if isinstance(pipelines, str) else list(pipelines)
    names = [str(n).strip().lower() for n in names if str(n).strip()]
    if not names:
        raise ValueError(f"no pipeline given; choose from {', '.join(PIPELINES)}")
    unknown = [n for n in names if n not in PIPELINES]
    if unknown:
        raise ValueError(f"unknown pipeline {unknown[0]!r}; choose from {', '.join(PIPELINES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"pipeline listed twice in {names!r}")
    return names


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _report(progress: ProgressCallback | None, task: str, done: int, total: int) -> None:
    if progress is not None:
        progress(task, done, total)


def _embed_corpus(
    encoder: Any,
    texts: Sequence[str],
    batch_size: int,
    progress: ProgressCallback | None,
) -> np.ndarray:
    total = len(texts)
    _report(progress, "embedding corpus", 0, total)
    parts = []
    for start in range(0, total, batch_size):
        batch = list(texts[start : start + batch_size])
        parts.append(np.asarray(encoder.encode_documents(batch), dtype=np.float32))
        _report(progress, "embedding corpus", start + len(batch), total)
    return np.concatenate(parts, axis=0)


def _latency(times: Sequence[float]) -> tuple[float, float]:
    ms = np.asarray(times, dtype=np.float64) * 1000.0
    return float(ms.mean()), float(np.percentile(ms, 95))


def evaluate(
    dataset: BeirDataset,
    pipelines: str | Iterable[str] = PIPELINES,
    *,
    encoder: Any = None,
    reranker: Any = None,
    fusion: str = HYBRID_FUSION,
    depth: int = 100,
    fetch_k: int | None = None,
    rerank_depth: int = 30,
    embeddings: np.ndarray | None = None,
    batch_size: int = 64,
    progress: ProgressCallback | None = None,
    embedding_model: str | None = None,
    reranker_model: str | None = None,
    folds: int = 5,
    seed: int = 0,
    grid: Sequence[Any] | None = None,
) -> EvaluationReport:
    """Index ``dataset``'s corpus, run every pipeline on its queries, score and time them.

    Args:
        dataset: from :func:`load_beir`.
        pipelines: names from :data:`PIPELINES` (or one comma-separated string).
        encoder: the embedding model (anything
            :func:`~manifold_core.encoders.resolve_encoder` takes); only used, and only
            resolved, when a dense pipeline is asked for. ``None`` means the default
            Qwen3 model then.
        reranker: an object with ``rerank(query, items, texts=...)`` (a
            :class:`~manifold_core.reranking.Qwen3Reranker` or
            :class:`~manifold_core.reranking.CrossEncoderReranker`); required for
            ``hybrid+rerank``, ignored otherwise.
        fusion: the hybrid fusion (``rrf``, ``relative_score``, ``dbsf``, ``weighted``).
        depth: hits kept per query (100, so Recall@100 is measured).
        fetch_k: candidates per side before fusion (default: ``depth``).
        rerank_depth: hybrid hits the reranker reorders; the others follow in hybrid order.
        embeddings: precomputed corpus vectors, one row per document in
            ``dataset.corpus`` order (e.g. from a cache), instead of embedding here.
        batch_size: documents per ``encode_documents`` call.
        progress: ``progress(task, done, total)`` callback (see :data:`ProgressCallback`).
        embedding_model, reranker_model: labels for the report (default: derived from
            the objects).
        folds, seed, grid: the cross-validation of ``hybrid-tuned`` (folds over queries,
            their shuffle seed, the :class:`~manifold_core.fusion_tuning.FusionSetting`
            list; default :func:`~manifold_core.fusion_tuning.setting_grid`).

    Returns:
        An :class:`EvaluationReport` with the pipelines in the order given.

    Raises:
        ValueError: unknown pipeline or fusion, a bad depth, ``hybrid+rerank`` without a
            reranker, or embeddings of the wrong shape.
    """
    from manifold_core.encoders import model_label
    from manifold_core.fusion import validate_fusion

    names = parse_pipelines(pipelines)
    fusion = validate_fusion(fusion)
    depth = _positive(depth, "depth")
    fetch = max(depth, _positive(fetch_k, "fetch_k") if fetch_k is not None else depth)
    rerank_depth = _positive(rerank_depth, "rerank_depth")
    batch_size = _positive(batch_size, "batch_size")
    wants_rerank = "hybrid+rerank" in names
    if wants_rerank and reranker is None:
        raise ValueError("the 'hybrid+rerank' pipeline needs a reranker")
    needs_dense = any(n in _DENSE_PIPELINES for n in names)

    ids = list(dataset.corpus)
    texts = [dataset.corpus[i] for i in ids]
    start = time.perf_counter()
    store = None
    lexical = None
    if needs_dense:
        from manifold_core.encoders import resolve_encoder

        enc = resolve_encoder(encoder)
        if embedding_model is None:
            embedding_model = model_label(encoder) if encoder is not None else model_label(enc)
        if embeddings is None:
            vectors = _embed_corpus(enc, texts, batch_size, progress)
        else:
            vectors = np.asarray(embeddings, dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[0] != len(ids):
                raise ValueError(
                    f"embeddings must have one row per document ({len(ids)}), "
                    f"got shape {vectors.shape}"
                )
        store = _build_store(enc, ids, texts, vectors, progress)
    else:
        from manifold_core.lexical import LexicalIndex

        lexical = LexicalIndex()
        _report(progress, "indexing", 0, len(ids))
        for begin in range(0, len(ids), 5000):
            lexical.add(ids[begin : begin + 5000], texts[begin : begin + 5000])
            _report(progress, "indexing", min(begin + 5000, len(ids)), len(ids))
        embedding_model = None
    index_seconds = time.perf_counter() - start

    try:
        tuning: dict[str, Any] = {"folds": folds, "seed": seed, "grid": grid}
        results = _run_pipelines(
            dataset,
            names,
            store,
            lexical,
            reranker,
            fusion,
            depth,
            fetch,
            rerank_depth,
            progress,
            tuning,
        )
    finally:
        if store is not None:
            store.client.delete_collection(store.collection_name)

    if wants_rerank and reranker_model is None:
        inner = getattr(reranker, "model", None)
        reranker_model = getattr(reranker, "model_name", None) or (
            model_label(inner) if inner is not None else type(reranker).__name__
        )
    return EvaluationReport(
        dataset=dataset.name,
        split=dataset.split,
        n_queries=len(dataset.queries),
        n_documents=len(ids),
        embedding_model=embedding_model,
        reranker_model=reranker_model if wants_rerank else None,
        fusion=fusion,
        depth=depth,
        rerank_depth=rerank_depth,
        pipelines={n: results[n] for n in names},
        index_seconds=index_seconds,
        tuned=tuning.get("result"),
    )


def _build_store(
    encoder: Any,
    ids: list[str],
    texts: list[str],
    vectors: np.ndarray,
    progress: ProgressCallback | None,
) -> Any:
    """A HybridStore in an in-memory Chroma collection of its own, holding the corpus."""
    import chromadb

    from manifold_core.store import HybridStore

    store = HybridStore(
        encoder,
        client=chromadb.EphemeralClient(),
        collection_name=f"manifold-eval-{uuid.uuid4().hex[:12]}",
        autosave=False,
    )
    step = 2000
    _report(progress, "indexing", 0, len(ids))
    try:
        for begin in range(0, len(ids), step):
            end = begin + step
            store.add(texts[begin:end], ids=ids[begin:end], embeddings=vectors[begin:end])
            _report(progress, "indexing", min(end, len(ids)), len(ids))
    except BaseException:
        store.client.delete_collection(store.collection_name)
        raise
    return store


def _run_pipelines(
    dataset: BeirDataset,
    names: list[str],
    store: Any,
    lexical: Any,
    reranker: Any,
    fusion: str,
    depth: int,
    fetch: int,
    rerank_depth: int,
    progress: ProgressCallback | None,
    tuning: dict[str, Any],
) -> dict[str, PipelineResult]:
    from manifold_core.retrieval import HybridRetriever

    retriever: HybridRetriever | None = None
    if store is not None:
        retriever = HybridRetriever(store, k=depth, fetch_k=fetch, fusion=fusion)
    weights = {"bm25": (0.0, 1.0), "dense": (1.0, 0.0), "hybrid": (1.0, 1.0)}
    queries = dataset.queries
    total = len(queries)
    results: dict[str, PipelineResult] = {}

    # hybrid+rerank reorders the hybrid hits: one search serves both pipelines.
    searched = [n for n in names if n not in ("hybrid+rerank", "hybrid-tuned")]
    if "hybrid+rerank" in names and "hybrid" not in names:
        searched.append("hybrid")
    for name in searched:
        run: dict[str, list[str]] = {}
        times: list[float] = []
        rerank_run: dict[str, list[str]] = {}
        rerank_times: list[float] = []
        with_rerank = name == "hybrid" and "hybrid+rerank" in names
        _report(progress, name, 0, total)
        if with_rerank:
            _report(progress, "hybrid+rerank", 0, total)
        # one untimed query first: lazy initialisation (model graphs, Chroma's index
        # load, allocator growth) would otherwise land in the first query's latency
        warm = next(iter(queries.values()))
        if retriever is None:
            lexical.search(warm, depth)
        else:
            hits = retriever.search(warm, k=depth, weights=weights[name])
            if with_rerank:
                reranker.rerank(warm, hits[:2], texts=[h.text for h in hits[:2]])
        for done, (qid, query) in enumerate(queries.items(), 1):
            t0 = time.perf_counter()
            if retriever is None:
                run[qid] = [doc for doc, _ in lexical.search(query, depth)]
                times.append(time.perf_counter() - t0)
            else:
                hits = retriever.search(query, k=depth, weights=weights[name])
                elapsed = time.perf_counter() - t0
                times.append(elapsed)
                run[qid] = [h.id for h in hits]
                if with_rerank:
                    top = hits[:rerank_depth]
                    t1 = time.perf_counter()
                    ranked = reranker.rerank(query, top, texts=[h.text for h in top])
                    rerank_times.append(elapsed + time.perf_counter() - t1)
                    order = [r.item.id for r in ranked]
                    rerank_run[qid] = order + [h.id for h in hits[len(top) :]]
            _report(progress, name, done, total)
            if with_rerank:
                _report(progress, "hybrid+rerank", done, total)
        if name in names:
            results[name] = PipelineResult(
                name, score_run(dataset.qrels, run), *_latency(times), run=run
            )
        if with_rerank:
            results["hybrid+rerank"] = PipelineResult(
                "hybrid+rerank",
                score_run(dataset.qrels, rerank_run),
                *_latency(rerank_times),
                run=rerank_run,
            )
    if "hybrid-tuned" in names:
        results["hybrid-tuned"] = _tuned_pipeline(dataset, store, depth, tuning, progress)
    return results


def collect_candidates(
    store: Any,
    queries: Mapping[str, str],
    depth: int,
    progress: ProgressCallback | None = None,
    task: str = "candidates",
) -> tuple[dict[str, Any], list[float]]:
    """Each query's dense and lexical candidates (``depth`` per side), as a store gives them.

    Returns ``query id -> Candidates`` and the seconds each query's two searches took.
    The same lists :class:`~manifold_core.retrieval.HybridRetriever` fuses, so any
    setting of at most ``depth`` candidates can be replayed on them without searching.
    """
    from manifold_core.fusion_tuning import Candidates

    out: dict[str, Candidates] = {}
    times: list[float] = []
    total = len(queries)
    _report(progress, task, 0, total)
    for done, (qid, query) in enumerate(queries.items(), 1):
        t0 = time.perf_counter()
        vector = np.asarray(store.encoder.encode_queries([query]), dtype=np.float32)[0]
        dense = store.dense_search(vector, depth)
        lexical = store.lexical_search(query, depth)
        times.append(time.perf_counter() - t0)
        out[qid] = Candidates(dense=dense, lexical=lexical)
        _report(progress, task, done, total)
    return out, times


def tune_index(
    store: Any,
    dataset: BeirDataset,
    *,
    folds: int = 5,
    seed: int = 0,
    grid: Sequence[Any] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Any, int]:
    """Cross-validate fusion settings on an ingested index against ``dataset``'s judgements.

    The index holds chunks; a chunk counts as the document its ``doc_id`` metadata names
    (the ``_id`` of a JSONL record, as ``manifold ingest`` sets it), else as its own id.
    Only queries with a judged document in the index are used, and judgements of
    documents the index lacks are ignored (no setting could find them).

    Returns:
        the :class:`~manifold_core.fusion_tuning.CrossValidation` and the number of
        queries it used.

    Raises:
        ValueError: no judged document of ``dataset`` is in the index.
    """
    from manifold_core.fusion_tuning import DEFAULT_DEPTHS, tune_candidates

    judged = sorted({d for rels in dataset.qrels.values() for d in rels})
    present: set[str] = set()
    for begin in range(0, len(judged), 500):
        batch = judged[begin : begin + 500]
        for where in ({"doc_id": {"$in": batch}}, None):
            found = store.get(ids=batch) if where is None else store.get(where=where, limit=10**6)
            present.update(str(r.metadata.get("doc_id", r.id)) for r in found)
    qrels = {
        q: {d: g for d, g in rels.items() if d in present} for q, rels in dataset.qrels.items()
    }
    qrels = {q: rels for q, rels in qrels.items() if rels}
    if not qrels:
        raise ValueError(
            f"no judged document of {dataset.name} ({dataset.split}) is in the index: its "
            "chunks' doc_id (a JSONL record's _id) or ids must be the qrels' corpus ids; "
            "ingest the dataset's corpus.jsonl"
        )
    queries = {q: dataset.queries[q] for q in qrels}
    deepest = max((s.depth for s in grid) if grid else DEFAULT_DEPTHS)
    cands, _ = collect_candidates(store, queries, deepest, progress, "tuning")
    ids = sorted({i for c in cands.values() for i, _ in [*c.dense, *c.lexical]})
    doc_of: dict[str, str] = {}
    for begin in range(0, len(ids), 500):
        for r in store.get(ids=ids[begin : begin + 500]):
            doc_of[r.id] = str(r.metadata.get("doc_id", r.id))
    cv = tune_candidates(cands, qrels, grid, folds=folds, seed=seed, doc_of=doc_of)
    return cv, len(qrels)


def _tuned_pipeline(
    dataset: BeirDataset,
    store: Any,
    depth: int,
    tuning: dict[str, Any],
    progress: ProgressCallback | None,
) -> PipelineResult:
    """``hybrid-tuned``: cross-validated fusion setting, each query ranked by its fold's."""
    from manifold_core.fusion_tuning import DEFAULT_DEPTHS, fused_ranking, tune_candidates

    grid = tuning.get("grid")
    deepest = max((s.depth for s in grid) if grid else DEFAULT_DEPTHS)
    cands, times = collect_candidates(
        store, dataset.queries, max(deepest, depth), progress, "hybrid-tuned"
    )
    cv = tune_candidates(
        cands, dataset.qrels, grid, folds=tuning.get("folds", 5), seed=tuning.get("seed", 0)
    )
    chosen = cv.held_out_setting()
    run: dict[str, list[str]] = {}
    for i, (qid, cand) in enumerate(cands.items()):
        t0 = time.perf_counter()
        run[qid] = fused_ranking(cand, chosen[qid], k=depth)
        times[i] += time.perf_counter() - t0
    result = PipelineResult(
        "hybrid-tuned", score_run(dataset.qrels, run), *_latency(times), run=run
    )
    tuning["result"] = {
        "setting": cv.setting.to_dict(),
        "cv_ndcg@10": cv.score,
        "folds": len(cv.folds),
        "fold_settings": [s.to_dict() for s in cv.fold_settings],
    }
    return result


# --------------------------------------------------------------------------- plot


def plot_report(report: EvaluationReport, path: str | Path) -> Path:
    """Write a PNG: grouped bars of each metric per pipeline, and mean/p95 latency.

    Uses matplotlib's Agg canvas directly (no ``pyplot``, no global backend switch), so
    it works without a display and does not disturb a notebook's backend.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(report.pipelines)
    if not names:
        raise ValueError("the report has no pipelines to plot")
    metrics = list(next(iter(report.pipelines.values())).metrics)
    fig = Figure(figsize=(11, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    quality, speed = fig.subplots(1, 2, width_ratios=[2, 1])
    width = 0.8 / len(names)
    x = np.arange(len(metrics))
    for i, name in enumerate(names):
        values = [report.pipelines[name].metrics[m] for m in metrics]
        bars = quality.bar(x + (i - (len(names) - 1) / 2) * width, values, width, label=name)
        quality.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    quality.set_xticks(x, metrics)
    quality.set_ylim(0, 1.16)
    quality.set_ylabel("score")
    quality.legend(loc="upper center", ncols=len(names), fontsize=8, frameon=False)
    quality.set_title(
        f"{report.dataset} ({report.split}): {report.n_queries} queries, "
        f"{report.n_documents} documents",
        fontsize=10,
    )
    means = [report.pipelines[n].latency_ms_mean for n in names]
    p95 = [report.pipelines[n].latency_ms_p95 for n in names]
    colors = [f"C{i}" for i in range(len(names))]
    pos = np.arange(len(names))
    speed.bar(pos, means, 0.6, color=colors)
    speed.scatter(pos, p95, marker="_", s=400, color="black", zorder=3)
    speed.set_xticks(pos, names, rotation=20, fontsize=8)
    speed.set_ylabel("ms per query")
    if max(p95) > 0 and max(p95) / max(min(means), 1e-3) > 50:
        speed.set_yscale("log")
    speed.set_title("latency: mean (bar), p95 (line)", fontsize=10)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
