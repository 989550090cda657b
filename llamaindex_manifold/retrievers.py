"""LlamaIndex ``EnsembleRetriever``: hybrid Chroma + BM25 search, or fusion of any retrievers.

Two modes, one class:

- **Hybrid** (``store=`` a :class:`manifold_core.HybridStore`, :meth:`from_nodes`, or the
  Chroma store you already have: :meth:`from_vector_store` for a ``ChromaVectorStore``,
  :meth:`from_index` for a ``VectorStoreIndex`` over one): dense and BM25 candidates under
  one metadata filter (LlamaIndex ``MetadataFilters`` at construction and per query),
  fused by the core :class:`~manifold_core.retrieval.HybridRetriever`.

Records are kept in LlamaIndex's own Chroma layout (``node_to_metadata_dict``: the node
as JSON in ``_node_content``, plus ``_node_type``, ``doc_id``, ``document_id``,
``ref_doc_id``), so a collection written by ``ChromaVectorStore`` and one written by
:meth:`from_nodes` read alike: nodes come back as LlamaIndex restores them (text,
metadata, relationships, ``ref_doc_id``, node type). Those storage keys are opened as the
store's ``hidden_keys``: never BM25-indexed, refused in filters, and never node metadata
(so never in the LLM prompt or the embedding text).
- **Fusion of arbitrary retrievers** (``retrievers=[...]``): their results are fused by
  the core (:func:`~manifold_core.retriever_fusion.fuse_results`), de-duplicated by node id. Unlike
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
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from manifold_core.filters import MetadataFilter, from_llamaindex
from manifold_core.fusion import FusedItem
from manifold_core.lexical import DEFAULT_LANGUAGE
from manifold_core.retrieval import HIT_SCORE_KEYS, Hit, HybridRetriever
from manifold_core.retriever_fusion import (
    FUSED_SCORE_KEYS,
    check_ensemble,
    ensemble_weights,
    fuse_results,
    fused_metadata,
    refuse_filter,
)
from manifold_core.store import HybridStore
from manifold_core.validation import optional_positive_int

__all__ = ["STORAGE_KEYS", "EnsembleRetriever"]

# What LlamaIndex's node_to_metadata_dict adds beside a node's own metadata in a vector store.
STORAGE_KEYS = ("_node_content", "_node_type", "doc_id", "document_id", "ref_doc_id")

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
        fusion: ``"dbsf"``, ``"rrf"``, ``"relative_score"`` or ``"weighted"``; ``None``
            (default): ``"dbsf"`` for hybrid search, ``"rrf"`` for fused retrievers.
        weights: hybrid mode ``[dense, lexical]``; otherwise one per retriever.
        c: the reciprocal-rank constant.
        max_staleness: seconds a search may run on a lexical index that has not checked
            Chroma for other writers' changes; ``None``: the store's own setting (default
            1 s), ``0``: check before every search.
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
        fusion: str | None = None,
        weights: Sequence[float] | None = None,
        c: int = 60,
        max_staleness: float | None = None,
        filters: Any = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        retrievers = list(retrievers) if retrievers is not None else None
        hybrid, fusion = check_ensemble(store, retrievers, fusion)
        if store is not None and not isinstance(store, HybridStore):
            raise TypeError(
                f"store must be a manifold_core HybridStore, got {type(store).__name__}; for "
                "a ChromaVectorStore use EnsembleRetriever.from_vector_store(vector_store, "
                "embed_model=...), for a VectorStoreIndex EnsembleRetriever.from_index(index)"
            )
        optional_positive_int(similarity_top_k, "similarity_top_k")
        n = 2 if hybrid else len(retrievers or [])
        ensemble_weights(weights, n, hybrid=hybrid)
        self.store = store
        self.retrievers = retrievers
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
                max_staleness=max_staleness,
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
        store = HybridStore.for_documents(
            embed_model,
            path=persist_dir,
            client=client,
            collection_name=collection_name,
            lexical_variant=lexical_variant,  # type: ignore[arg-type]
            stemming=stemming,
            stopwords=stopwords,
            tokenizer=tokenizer,
            hidden_keys=STORAGE_KEYS,
        )
        retriever = cls(store, **kwargs)
        retriever.add_nodes(nodes)
        return retriever

    @classmethod
    def from_vector_store(
        cls,
        vector_store: Any,
        embed_model: Any = None,
        *,
        read_only: bool = False,
        lexical_variant: str = "lucene",
        store_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> EnsembleRetriever:
        """Hybrid search over the collection of an existing ``ChromaVectorStore``.

        Nothing is re-embedded and nothing about how the rest of your app writes changes:
        the dense side is Chroma's own index; the BM25 side is built from the collection's
        texts and follows writes made through the vector store or an index over it
        (``index.insert``, ``delete_ref_doc``) by itself.

        Args:
            vector_store: a ``llama_index.vector_stores.chroma.ChromaVectorStore``.
            embed_model: the model the nodes were embedded with (a LlamaIndex
                ``BaseEmbedding``, or anything ``resolve_encoder`` accepts); required,
                since a vector store does not know its model.
            read_only: write nothing at all (no journal collection, no snapshot folder;
                the BM25 index lives in memory); :meth:`add_nodes` then raises
                ``PermissionError``.
            lexical_variant: ``"lucene"`` or ``"okapi"`` BM25.
            store_kwargs: other :class:`~manifold_core.store.HybridStore` options.
            **kwargs: the constructor's other arguments (``similarity_top_k``, ...).
        """
        collection = getattr(vector_store, "client", None)  # ChromaVectorStore's collection
        if collection is None or not hasattr(collection, "get") or not hasattr(collection, "name"):
            raise TypeError(
                "from_vector_store takes a ChromaVectorStore (llama-index-vector-stores-chroma)"
                f", got {type(vector_store).__name__}; for another vector store, fuse its "
                "retriever: EnsembleRetriever(retrievers=[...])"
            )
        if embed_model is None:
            raise ValueError(
                f"pass embed_model= (the model the nodes of collection {collection.name!r} "
                "were embedded with); a ChromaVectorStore does not record it"
            )
        store = HybridStore.from_collection(
            collection,
            embed_model,
            read_only=read_only,
            lexical_variant=lexical_variant,
            hidden_keys=STORAGE_KEYS,
            **(store_kwargs or {}),
        )
        return cls(store, **kwargs)

    @classmethod
    def from_index(cls, index: Any, embed_model: Any = None, **kwargs: Any) -> EnsembleRetriever:
        """Hybrid search over a ``VectorStoreIndex`` whose vector store is a ``ChromaVectorStore``.

        The index's own embedding model is used (``VectorStoreIndex`` keeps it in
        ``_embed_model``, which has no public accessor; pinned by a test), unless
        ``embed_model`` is given. Other arguments as :meth:`from_vector_store`.
        """
        vector_store = getattr(index, "vector_store", None)
        if vector_store is None:
            raise TypeError(f"from_index takes a VectorStoreIndex, got {type(index).__name__}")
        if embed_model is None:
            embed_model = getattr(index, "_embed_model", None)
        return cls.from_vector_store(vector_store, embed_model, **kwargs)

    @classmethod
    def from_manifold_index(
        cls, index_dir: str | os.PathLike[str], *, model: str | None = None, **kwargs: Any
    ) -> EnsembleRetriever:
        """Hybrid search over an index made by ``manifold ingest``, with its model.

        The fusion setting ``manifold tune`` saved in the index (method, weights,
        candidate depth, RRF constant) is used unless ``kwargs`` set those arguments.

        Args:
            index_dir: the index directory.
            model: only to confirm the index's embedding model (another is refused).
            **kwargs: the constructor's other arguments (``similarity_top_k``, ...).
        """
        from manifold_core.ingest import open_index

        store, manifest = open_index(index_dir, model=model)
        return cls(store, **{**manifest.retriever_kwargs(), **kwargs})

    @classmethod
    def from_defaults(
        cls,
        nodes: Sequence[BaseNode] | None = None,
        embed_model: Any = None,
        store: HybridStore | None = None,
        retrievers: Sequence[BaseRetriever] | None = None,
        *,
        index: Any = None,
        vector_store: Any = None,
        **kwargs: Any,
    ) -> EnsembleRetriever:
        """One entry point: from ``nodes`` (+ ``embed_model``), an ``index``, a
        ``vector_store`` (+ ``embed_model``), a ``store``, or ``retrievers``."""
        if nodes is not None:
            return cls.from_nodes(nodes, embed_model, **kwargs)
        if index is not None:
            return cls.from_index(index, embed_model, **kwargs)
        if vector_store is not None:
            return cls.from_vector_store(vector_store, embed_model, **kwargs)
        return cls(store, retrievers=retrievers, **kwargs)

    def add_nodes(self, nodes: Sequence[BaseNode]) -> list[str]:
        """Upsert nodes into the store (hybrid mode), in LlamaIndex's layout; returns their ids.

        Relationships, ``ref_doc_id``, the node type and the metadata exclusions are kept
        (in ``_node_content``), as ``ChromaVectorStore`` keeps them.
        """
        if self.store is None:
            raise ValueError("add_nodes needs a store (hybrid mode)")
        items = list(nodes)
        if not items:
            return []
        return self.store.upsert(
            [n.get_content(metadata_mode=MetadataMode.NONE) for n in items],
            [node_to_metadata_dict(n, remove_text=True, flat_metadata=False) for n in items],
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

    def _hidden(self) -> frozenset[str]:
        return self.store.hidden_keys if self.store is not None else frozenset()

    def _options(self) -> tuple[MetadataFilter | None, int | None, Any]:
        opts = _CALL_OPTIONS.get() or {}
        call_filters = opts.get("filters")
        flt = MetadataFilter.all_of([self._filter, from_llamaindex(call_filters)])
        return flt, opts.get("k"), call_filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        flt, k, call_filters = self._options()
        if self._hybrid is not None:
            hits = self._hybrid.search(query_bundle.query_str, k=k, filter=flt)
            return [_hit_to_node(h, self._hidden()) for h in hits]
        refuse_filter(call_filters, "filters")
        lists = [r.retrieve(query_bundle) for r in self.retrievers or []]
        return self._fuse_lists(lists, k)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        flt, k, call_filters = self._options()
        if self._hybrid is not None:
            hits = await self._hybrid.asearch(query_bundle.query_str, k=k, filter=flt)
            return [_hit_to_node(h, self._hidden()) for h in hits]
        refuse_filter(call_filters, "filters")
        lists = await asyncio.gather(*(r.aretrieve(query_bundle) for r in self.retrievers or []))
        return self._fuse_lists(list(lists), k)

    def _fuse_lists(self, lists: list[list[NodeWithScore]], k: int | None) -> list[NodeWithScore]:
        fused = fuse_results(
            lists,
            key=lambda nws: nws.node.node_id,
            score=lambda nws: nws.score,
            fusion=self.fusion,
            weights=self.weights,
            c=self.c,
            k=k if k is not None else self.similarity_top_k,
        )
        return [_fused_to_node(nws.node, item) for nws, item in fused]


def _hit_to_node(hit: Hit, hidden: frozenset[str] = frozenset()) -> NodeWithScore:
    """The node as LlamaIndex stored it (its layout), else a TextNode without the
    store's ``hidden`` keys; scores added (hidden from the LLM and embedding text)."""
    node: BaseNode
    if "_node_content" in hit.metadata:
        node = metadata_dict_to_node(hit.metadata, text=hit.text)
        node.id_ = hit.id
    else:
        own = {k: v for k, v in hit.metadata.items() if k not in hidden}
        node = TextNode(id_=hit.id, text=hit.text, metadata=own)
    node.metadata.update(hit.score_metadata())
    _hide(node, HIT_SCORE_KEYS)
    return NodeWithScore(node=node, score=hit.score)


def _fused_to_node(node: BaseNode, item: FusedItem) -> NodeWithScore:
    copy = node.model_copy(deep=True)
    copy.metadata.update(fused_metadata(item))
    _hide(copy, FUSED_SCORE_KEYS)
    return NodeWithScore(node=copy, score=item.score)


def _hide(node: BaseNode, keys: Sequence[str]) -> None:
    """Keep the score ``keys`` out of the LLM prompt and the embedding text."""
    for excluded in (node.excluded_llm_metadata_keys, node.excluded_embed_metadata_keys):
        excluded.extend(k for k in keys if k not in excluded)
