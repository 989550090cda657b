"""LlamaIndex ``EnsembleRetriever``: hybrid Chroma + BM25 search, or fusion of any retrievers.

Two modes, one class:

- **Hybrid** (``store=`` a :class:`manifold_core.HybridStore`, or :meth:`from_nodes`):
  dense and BM25 candidates under one metadata filter (LlamaIndex ``MetadataFilters`` at
  construction and per query), fused by the core
  :class:`~manifold_core.retrieval.HybridRetriever`.
- **Fusion of arbitrary retrievers** (``retrievers=[...]``): their results are fused by
  the core :func:`~manifold_core.fusion.fuse`, de-duplicated by node id. Unlike
  ``QueryFusionRetriever`` it needs no LLM (it generates no extra queries).

``NodeWithScore.score`` is the fused score; the parts are in the node's metadata
(``fused_score``, ``dense_score``/``dense_rank``/``lexical_score``/``lexical_rank``, or
``retriever_scores``/``retriever_ranks``), hidden from the LLM and embedding text.
This module converts types only; the algorithms live in ``manifold_core``.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeWithScore,
    QueryBundle,
    QueryType,
    TextNode,
)

from manifold_core.filters import MetadataFilter, from_llamaindex
from manifold_core.fusion import FusedItem, fuse_retrieved, validate_fusion
from manifold_core.lexical import DEFAULT_LANGUAGE, LexicalTokenizer
from manifold_core.retrieval import Hit, HybridRetriever
from manifold_core.store import HybridStore

__all__ = ["EnsembleRetriever"]

_HYBRID_SCORE_KEYS = ["fused_score", "dense_score", "dense_rank", "lexical_score", "lexical_rank"]
_FUSION_SCORE_KEYS = ["fused_score", "retriever_scores", "retriever_ranks"]

# Per-call options of retrieve()/aretrieve(), visible to _retrieve() in the same thread/task.
_CALL_OPTIONS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "manifold_llamaindex_call_options", default=None
)


class EnsembleRetriever(BaseRetriever):
    """Hybrid dense + BM25 retrieval with metadata filters, or LLM-free fusion of retrievers.

    Args:
        store: the :class:`HybridStore` searched in hybrid mode.
        retrievers: LlamaIndex retrievers to fuse instead (give ``store`` or this).
        similarity_top_k: results returned; default 4 in hybrid mode, every fused result
            when fusing retrievers.
        fetch_k: candidates per side before fusion (hybrid mode).
        fusion: ``"rrf"`` (default), ``"relative_score"``, ``"dbsf"`` or ``"weighted"``.
        weights: hybrid mode ``[dense, lexical]``; otherwise one per retriever.
        c: the reciprocal-rank constant.
        filters: LlamaIndex ``MetadataFilters`` (or a Chroma-style ``where`` dict) applied
            to every query, AND-ed with per-query ``filters``.
        callback_manager, verbose: as for any LlamaIndex retriever.

    Example:
        .. code-block:: python

            retriever = EnsembleRetriever.from_nodes(nodes, embed_model=embed_model)
            retriever.retrieve("22年宝马X1价格", filters=MetadataFilters(filters=[
                MetadataFilter(key="brand", value="BMW")]))
    """

    def __init__(
        self,
        store: HybridStore | None = None,
        *,
        retrievers: Sequence[BaseRetriever] | None = None,
        similarity_top_k: int | None = None,
        fetch_k: int = 50,
        fusion: str = "rrf",
        weights: Sequence[float] | None = None,
        c: int = 60,
        filters: Any = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        if (store is None) == (retrievers is None):
            raise ValueError("give exactly one of store (hybrid search) or retrievers")
        if retrievers is not None and not list(retrievers):
            raise ValueError("retrievers must not be empty")
        if similarity_top_k is not None and similarity_top_k <= 0:
            raise ValueError(f"similarity_top_k must be positive, got {similarity_top_k!r}")
        validate_fusion(fusion)
        n = 2 if store is not None else len(list(retrievers or []))
        if weights is not None and len(list(weights)) != n:
            what = "[dense, lexical]" if store is not None else "one per retriever"
            raise ValueError(f"got {len(list(weights))} weights, expected {n} ({what})")
        if weights is not None and store is None:
            fuse_retrieved([[] for _ in range(n)], method=fusion, weights=list(weights))
        self.store = store
        self.retrievers = list(retrievers) if retrievers is not None else None
        self.similarity_top_k = similarity_top_k
        self.fetch_k = fetch_k
        self.fusion = fusion
        self.weights = list(weights) if weights is not None else None
        self.c = c
        self.filters = filters
        self._filter = from_llamaindex(filters)  # validated now, not at the first query
        self._hybrid = (
            HybridRetriever(
                store,
                k=similarity_top_k or 4,
                fetch_k=fetch_k,
                fusion=fusion,
                weights=tuple(self.weights) if self.weights is not None else (1.0, 1.0),
                c=c,
            )
            if store is not None
            else None
        )
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    # ------------------------------------------------------------ construction

    @classmethod
    def from_nodes(
        cls,
        nodes: Sequence[BaseNode],
        embed_model: Any = None,
        *,
        persist_dir: str | os.PathLike[str] | None = None,
        client: Any = None,
        collection_name: str | None = None,
        lexical_variant: str = "lucene",
        stemming: str | None = DEFAULT_LANGUAGE,
        stopwords: Sequence[str] | str | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
        **kwargs: Any,
    ) -> EnsembleRetriever:
        """Build a :class:`HybridStore` from nodes (kept under their ``node_id``).

        Args:
            nodes: the nodes; their text (without metadata) is embedded and indexed.
            embed_model: a LlamaIndex ``BaseEmbedding`` (or anything
                ``resolve_encoder`` accepts).
            persist_dir: a directory for an embedded persistent Chroma; default in memory.
            client: a ready Chroma client (e.g. ``HttpClient``), instead of the above.
            collection_name: default ``"manifold"`` when persisted, a unique name in memory.
            lexical_variant: ``"lucene"`` or ``"okapi"`` BM25.
            stemming: the BM25 stemmer (a PyStemmer language; default English, measured
                best in docs/benchmarks.md) or ``None``; saved with a persisted index.
            stopwords: BM25 stop words: a list, or ``"language"`` for the stemmer
                language's list; default none.
            tokenizer: a custom ``text -> list[str]`` for BM25 instead of the two above.
            **kwargs: the constructor's other arguments (``similarity_top_k``, ...).
        """
        if client is None and persist_dir is None:
            import chromadb

            client = chromadb.EphemeralClient()
            collection_name = collection_name or f"manifold-{uuid.uuid4().hex[:12]}"
        store = HybridStore(
            embed_model,
            path=persist_dir,
            client=client,
            collection_name=collection_name or "manifold",
            lexical_variant=lexical_variant,  # type: ignore[arg-type]
            tokenizer=tokenizer or LexicalTokenizer(stopwords, language=stemming),
        )
        retriever = cls(store, **kwargs)
        retriever.add_nodes(nodes)
        return retriever

    @classmethod
    def from_defaults(
        cls,
        nodes: Sequence[BaseNode] | None = None,
        embed_model: Any = None,
        store: HybridStore | None = None,
        retrievers: Sequence[BaseRetriever] | None = None,
        **kwargs: Any,
    ) -> EnsembleRetriever:
        """One entry point: from ``nodes`` (+ ``embed_model``), a ``store``, or ``retrievers``."""
        if nodes is not None:
            return cls.from_nodes(nodes, embed_model, **kwargs)
        return cls(store, retrievers=retrievers, **kwargs)

    def add_nodes(self, nodes: Sequence[BaseNode]) -> list[str]:
        """Upsert nodes into the store (hybrid mode); returns their ids."""
        if self.store is None:
            raise ValueError("add_nodes needs a store (hybrid mode)")
        items = list(nodes)
        if not items:
            return []
        return self.store.upsert(
            [n.get_content(metadata_mode=MetadataMode.NONE) for n in items],
            [dict(n.metadata) for n in items],
            ids=[n.node_id for n in items],
        )

    # ------------------------------------------------------------ retrieval

    def retrieve(
        self,
        str_or_query_bundle: QueryType,
        *,
        filters: Any = None,
        similarity_top_k: int | None = None,
    ) -> list[NodeWithScore]:
        """Retrieve nodes; ``filters`` (``MetadataFilters``) and ``similarity_top_k``
        apply to this query only."""
        token = _CALL_OPTIONS.set({"filters": filters, "k": similarity_top_k})
        try:
            return super().retrieve(str_or_query_bundle)
        finally:
            _CALL_OPTIONS.reset(token)

    async def aretrieve(
        self,
        str_or_query_bundle: QueryType,
        *,
        filters: Any = None,
        similarity_top_k: int | None = None,
    ) -> list[NodeWithScore]:
        """Async :meth:`retrieve`."""
        token = _CALL_OPTIONS.set({"filters": filters, "k": similarity_top_k})
        try:
            return await super().aretrieve(str_or_query_bundle)
        finally:
            _CALL_OPTIONS.reset(token)

    def _options(self) -> tuple[MetadataFilter | None, int | None, Any]:
        opts = _CALL_OPTIONS.get() or {}
        call_filters = opts.get("filters")
        flt = MetadataFilter.all_of([self._filter, from_llamaindex(call_filters)])
        return flt, opts.get("k"), call_filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        flt, k, call_filters = self._options()
        if self._hybrid is not None:
            hits = self._hybrid.search(query_bundle.query_str, k=k, filter=flt)
            return [_hit_to_node(h) for h in hits]
        _no_filter(call_filters)
        lists = [r.retrieve(query_bundle) for r in self.retrievers or []]
        return self._fuse_lists(lists, k)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        flt, k, call_filters = self._options()
        if self._hybrid is not None:
            hits = await self._hybrid.asearch(query_bundle.query_str, k=k, filter=flt)
            return [_hit_to_node(h) for h in hits]
        _no_filter(call_filters)
        lists = await asyncio.gather(*(r.aretrieve(query_bundle) for r in self.retrievers or []))
        return self._fuse_lists(list(lists), k)

    def _fuse_lists(self, lists: list[list[NodeWithScore]], k: int | None) -> list[NodeWithScore]:
        first: dict[str, BaseNode] = {}
        ranked: list[list[tuple[str, float | None]]] = []
        for results in lists:
            pairs: list[tuple[str, float | None]] = []
            for nws in results:
                first.setdefault(nws.node.node_id, nws.node)
                pairs.append((nws.node.node_id, nws.score))
            ranked.append(pairs)
        fused = fuse_retrieved(
            ranked,
            method=self.fusion,
            weights=self.weights,
            c=self.c,
            k=k if k is not None else self.similarity_top_k,
        )
        return [_fused_to_node(first[item.id], item) for item in fused]


def _no_filter(filters: Any) -> None:
    if filters:
        raise ValueError(
            "filters apply in hybrid mode (store=) only; fused retrievers take their own "
            f"filters (got filters={filters!r})"
        )


def _hit_to_node(hit: Hit) -> NodeWithScore:
    scores = {
        "fused_score": hit.score,
        "dense_score": hit.dense_score,
        "dense_rank": hit.dense_rank,
        "lexical_score": hit.lexical_score,
        "lexical_rank": hit.lexical_rank,
    }
    node = TextNode(
        id_=hit.id,
        text=hit.text,
        metadata={**hit.metadata, **scores},
        excluded_llm_metadata_keys=list(_HYBRID_SCORE_KEYS),
        excluded_embed_metadata_keys=list(_HYBRID_SCORE_KEYS),
    )
    return NodeWithScore(node=node, score=hit.score)


def _fused_to_node(node: BaseNode, item: FusedItem) -> NodeWithScore:
    copy = node.model_copy(deep=True)
    copy.metadata.update(
        {
            "fused_score": item.score,
            "retriever_scores": list(item.scores),
            "retriever_ranks": list(item.ranks),
        }
    )
    for keys in (copy.excluded_llm_metadata_keys, copy.excluded_embed_metadata_keys):
        keys.extend(k for k in _FUSION_SCORE_KEYS if k not in keys)
    return NodeWithScore(node=copy, score=item.score)
