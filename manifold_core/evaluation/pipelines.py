"""Running the pipelines: index a BEIR corpus once, search, rerank, score and time.

* ``bm25``: the lexical side alone (``HybridRetriever`` weights ``(0, 1)``),
* ``dense``: the embedding side alone (weights ``(1, 0)``),
* ``hybrid``: both, fused (:data:`~manifold_core.fusion.HYBRID_FUSION` by default),
* ``hybrid+rerank``: the hybrid ranking with its top ``rerank_depth`` reordered by a
  reranker (the rest keeps its hybrid order, so Recall@100 stays comparable),
* ``hybrid-tuned``: both sides fused with the setting (method, weights, depth) chosen on
  the judgements by k-fold cross-validation over queries (:mod:`.tuning`).

A run of ``bm25`` alone needs no embedding model and no Chroma: it searches a
:class:`~manifold_core.lexical.LexicalIndex` built the same way the store builds its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from manifold_core.encoders import Encoder, model_label, resolve_encoder
from manifold_core.evaluation.beir import BeirDataset
from manifold_core.evaluation.metrics import latency_ms, score_run
from manifold_core.evaluation.progress import ProgressCallback, notify
from manifold_core.evaluation.report import EvaluationReport, PipelineResult
from manifold_core.evaluation.tuning import tuned_pipeline
from manifold_core.fusion import HYBRID_FUSION, validate_fusion
from manifold_core.ingest import embed_texts
from manifold_core.lexical import LexicalIndex
from manifold_core.retrieval import HybridRetriever
from manifold_core.store import HybridStore
from manifold_core.validation import positive_int

__all__ = ["PIPELINES", "build_store", "evaluate", "parse_pipelines"]

PIPELINES: tuple[str, ...] = ("bm25", "dense", "hybrid", "hybrid-tuned", "hybrid+rerank")
"""The pipelines :func:`evaluate` knows, in the order they are reported."""

_DENSE_PIPELINES = frozenset({"dense", "hybrid", "hybrid-tuned", "hybrid+rerank"})
_WEIGHTS = {"bm25": (0.0, 1.0), "dense": (1.0, 0.0), "hybrid": (1.0, 1.0)}


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
        dataset: from :func:`~manifold_core.evaluation.load_beir`.
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
        progress: ``progress(task, done, total)`` callback (see
            :data:`~manifold_core.evaluation.ProgressCallback`).
        embedding_model, reranker_model: labels for the report (default: derived from
            the objects).
        folds, seed, grid: the cross-validation of ``hybrid-tuned`` (folds over queries,
            their shuffle seed, the :class:`~manifold_core.fusion_tuning.FusionSetting`
            list; default :func:`~manifold_core.fusion_tuning.setting_grid`).

    Returns:
        An :class:`~manifold_core.evaluation.EvaluationReport` with the pipelines in the
        order given.

    Raises:
        ValueError: unknown pipeline or fusion, a bad depth, ``hybrid+rerank`` without a
            reranker, embeddings of the wrong shape, or an encoder that returns the wrong
            shape or non-finite values.
    """
    names = parse_pipelines(pipelines)
    fusion = validate_fusion(fusion)
    depth = positive_int(depth, "depth")
    fetch = max(depth, positive_int(fetch_k, "fetch_k") if fetch_k is not None else depth)
    rerank_depth = positive_int(rerank_depth, "rerank_depth")
    batch_size = positive_int(batch_size, "batch_size")
    wants_rerank = "hybrid+rerank" in names
    if wants_rerank and reranker is None:
        raise ValueError("the 'hybrid+rerank' pipeline needs a reranker")

    ids = list(dataset.corpus)
    texts = [dataset.corpus[i] for i in ids]
    start = time.perf_counter()
    store: HybridStore | None = None
    lexical: LexicalIndex | None = None
    if any(n in _DENSE_PIPELINES for n in names):
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
            if not np.isfinite(vectors).all():
                raise ValueError("embeddings hold NaN or infinite values")
        store = build_store(enc, ids, texts, vectors, progress)
    else:
        lexical = _build_lexical(ids, texts, progress)
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


def _embed_corpus(
    encoder: Encoder, texts: Sequence[str], batch_size: int, progress: ProgressCallback | None
) -> np.ndarray:
    """The corpus vectors (:func:`~manifold_core.ingest.embed_texts`: shape and NaN checked)."""
    total = len(texts)
    done = 0
    notify(progress, "embedding corpus", 0, total)

    def advanced(n: int) -> None:
        nonlocal done
        done += n
        notify(progress, "embedding corpus", done, total)

    return embed_texts(encoder, texts, batch_size=batch_size, on_progress=advanced)


def _build_lexical(
    ids: list[str], texts: list[str], progress: ProgressCallback | None
) -> LexicalIndex:
    """A :class:`~manifold_core.lexical.LexicalIndex` of the corpus (``bm25`` alone)."""
    lexical = LexicalIndex()
    step = 5000
    notify(progress, "indexing", 0, len(ids))
    for begin in range(0, len(ids), step):
        lexical.add(ids[begin : begin + step], texts[begin : begin + step])
        notify(progress, "indexing", min(begin + step, len(ids)), len(ids))
    return lexical


def build_store(
    encoder: Any,
    ids: list[str],
    texts: list[str],
    vectors: np.ndarray,
    progress: ProgressCallback | None,
) -> HybridStore:
    """A HybridStore in an in-memory Chroma collection of its own, holding the corpus.

    ``vectors`` holds one row per id. The caller deletes the collection when done
    (``store.client.delete_collection(store.collection_name)``); it is deleted here when
    adding fails.
    """
    import chromadb

    store = HybridStore(
        encoder,
        client=chromadb.EphemeralClient(),
        collection_name=f"manifold-eval-{uuid.uuid4().hex[:12]}",
        autosave=False,
    )
    step = 2000
    notify(progress, "indexing", 0, len(ids))
    try:
        for begin in range(0, len(ids), step):
            end = begin + step
            store.add(texts[begin:end], ids=ids[begin:end], embeddings=vectors[begin:end])
            notify(progress, "indexing", min(end, len(ids)), len(ids))
    except BaseException:
        store.client.delete_collection(store.collection_name)
        raise
    return store


def _run_pipelines(
    dataset: BeirDataset,
    names: list[str],
    store: HybridStore | None,
    lexical: LexicalIndex | None,
    reranker: Any,
    fusion: str,
    depth: int,
    fetch: int,
    rerank_depth: int,
    progress: ProgressCallback | None,
    tuning: dict[str, Any],
) -> dict[str, PipelineResult]:
    retriever: HybridRetriever | None = None
    if store is not None:
        retriever = HybridRetriever(store, k=depth, fetch_k=fetch, fusion=fusion)
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
        notify(progress, name, 0, total)
        if with_rerank:
            notify(progress, "hybrid+rerank", 0, total)
        # one untimed query first: lazy initialisation (model graphs, Chroma's index
        # load, allocator growth) would otherwise land in the first query's latency
        warm = next(iter(queries.values()))
        if retriever is None:
            assert lexical is not None
            lexical.search(warm, depth)
        else:
            hits = retriever.search(warm, k=depth, weights=_WEIGHTS[name])
            if with_rerank:
                reranker.rerank(warm, hits[:2], texts=[h.text for h in hits[:2]])
        for done, (qid, query) in enumerate(queries.items(), 1):
            t0 = time.perf_counter()
            if retriever is None:
                assert lexical is not None
                run[qid] = [doc for doc, _ in lexical.search(query, depth)]
                times.append(time.perf_counter() - t0)
            else:
                hits = retriever.search(query, k=depth, weights=_WEIGHTS[name])
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
            notify(progress, name, done, total)
            if with_rerank:
                notify(progress, "hybrid+rerank", done, total)
        if name in names:
            results[name] = PipelineResult(
                name, score_run(dataset.qrels, run), *latency_ms(times), run=run
            )
        if with_rerank:
            results["hybrid+rerank"] = PipelineResult(
                "hybrid+rerank",
                score_run(dataset.qrels, rerank_run),
                *latency_ms(rerank_times),
                run=rerank_run,
            )
    if "hybrid-tuned" in names:
        results["hybrid-tuned"] = tuned_pipeline(dataset, store, depth, tuning, progress)
    return results
