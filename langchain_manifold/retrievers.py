"""LangChain ``EnsembleRetriever``: hybrid Chroma + BM25 search, or fusion of any retrievers.

Two modes, one class:

- **Hybrid** (``store=`` a :class:`manifold_core.HybridStore`, :meth:`from_documents`,
  or :meth:`from_vectorstore` over the ``langchain_chroma.Chroma`` you already have):
  dense and BM25 candidates under one metadata filter, fused by the core
  :class:`~manifold_core.retrieval.HybridRetriever`.
- **Drop-in for LangChain's** ``EnsembleRetriever(retrievers=[...], weights=[...])``: the
  results of arbitrary retrievers are fused by the core
  (:func:`~manifold_core.retriever_fusion.fuse_results`, any fusion method), de-duplicated
  by ``metadata[id_key]`` when ``id_key`` is set, else ``Document.id``, else
  ``page_content``, as LangChain does.

Every returned ``Document`` carries its scores in ``metadata``: ``fused_score``, and
``dense_score``/``dense_rank``/``lexical_score``/``lexical_rank`` (hybrid mode) or
``retriever_scores``/``retriever_ranks`` (one entry per retriever, ``None`` where absent).
This module converts types only; the algorithms live in ``manifold_core``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, model_validator

from manifold_core.filters import MetadataFilter, from_langchain
from manifold_core.fusion import FusedItem, default_fusion
from manifold_core.lexical import DEFAULT_LANGUAGE
from manifold_core.retrieval import Hit, HybridRetriever
from manifold_core.retriever_fusion import (
    check_ensemble,
    ensemble_weights,
    fuse_results,
    fused_metadata,
    refuse_filter,
)
from manifold_core.store import HybridStore

__all__ = ["EnsembleRetriever"]

_HYBRID_DEFAULT_K = 4


class EnsembleRetriever(BaseRetriever):
    """Hybrid dense + BM25 retrieval with metadata filters, or weighted fusion of retrievers.

    Example:
        .. code-block:: python

            retriever = EnsembleRetriever.from_documents(docs, embedding=embeddings, k=3)
            retriever.invoke("22年宝马X1价格", filter={"brand": "BMW"})

            # drop-in for langchain's EnsembleRetriever
            EnsembleRetriever(retrievers=[bm25, vector_retriever], weights=[0.4, 0.6])

    Attributes:
        store: the :class:`HybridStore` searched in hybrid mode.
        retrievers: the retrievers fused in drop-in mode (give ``store`` or this).
        weights: hybrid mode: ``[dense, lexical]``; drop-in mode: one per retriever.
            Default all equal.
        k: results returned; default 4 in hybrid mode and every fused result in drop-in
            mode (as LangChain does). Overridable per call: ``invoke(q, k=3)``.
        fetch_k: candidates per side before fusion (hybrid mode).
        fusion: ``"dbsf"``, ``"rrf"``, ``"relative_score"`` or ``"weighted"``; ``None``
            (default): ``"dbsf"`` for hybrid search, ``"rrf"`` for fused retrievers.
            The score-based methods read each retriever's score from ``metadata[score_key]``
            in drop-in mode.
        c: the reciprocal-rank constant.
        max_staleness: seconds a search may run on a lexical index that has not checked
            Chroma for other writers' changes (hybrid mode); ``None``: the store's own
            setting (default 1 s), ``0``: check before every search.
        filter: a Chroma-style ``where`` dict applied to every call (hybrid mode), AND-ed
            with a per-call ``filter``.
        id_key: metadata key identifying a document (drop-in mode), as in LangChain.
        score_key: metadata key holding a retriever's own score (drop-in mode).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: HybridStore | None = None
    retrievers: list[Any] | None = None
    weights: list[float] | None = None
    k: int | None = Field(default=None, gt=0)
    fetch_k: int = Field(default=50, gt=0)
    fusion: str | None = None
    c: int = Field(default=60, ge=0)
    max_staleness: float | None = Field(default=None, ge=0)
    filter: dict[str, Any] | None = None
    id_key: str | None = None
    score_key: str = "score"

    @model_validator(mode="before")
    @classmethod
    def _adopt_vectorstore(cls, data: Any) -> Any:
        """``store=`` a ``langchain_chroma.Chroma``: open its collection as a hybrid store."""
        if isinstance(data, dict):
            store = data.get("store")
            if store is not None and not isinstance(store, HybridStore):
                data = {**data, "store": _store_from_vectorstore(store)}
        return data

    @model_validator(mode="after")
    def _check(self) -> EnsembleRetriever:
        hybrid, _ = check_ensemble(self.store, self.retrievers, self.fusion)
        n = 2 if hybrid else len(self.retrievers or [])
        ensemble_weights(self.weights, n, hybrid=hybrid)
        from_langchain(self.filter)  # validate now, not at the first query
        return self

    # ------------------------------------------------------------ construction

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document],
        embedding: Any = None,
        *,
        persist_directory: str | os.PathLike[str] | None = None,
        client: Any = None,
        collection_name: str | None = None,
        lexical_variant: str = "lucene",
        stemming: str | None = DEFAULT_LANGUAGE,
        stopwords: Sequence[str] | str | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
        **kwargs: Any,
    ) -> EnsembleRetriever:
        """Build a :class:`HybridStore` from documents and a retriever over it.

        Args:
            documents: the documents; ``Document.id`` is kept as the id when set.
            embedding: a LangChain ``Embeddings`` (or anything ``resolve_encoder`` takes).
            persist_directory: a directory for an embedded persistent Chroma; default
                in-memory (``EphemeralClient``).
            client: a ready Chroma client (e.g. ``HttpClient``), instead of the above.
            collection_name: default ``"manifold"`` when persisted, a fresh unique name
                in memory (so two in-memory retrievers never share a collection).
            lexical_variant: ``"lucene"`` or ``"okapi"`` BM25.
            stemming: the BM25 stemmer (a PyStemmer language; default English, measured
                best in docs/benchmarks.md) or ``None``; saved with a persisted index.
            stopwords: BM25 stop words: a list, or ``"language"`` for the stemmer
                language's list; default none.
            tokenizer: a custom ``text -> list[str]`` for BM25 instead of the two above.
            **kwargs: fields of the retriever (``k``, ``fetch_k``, ``fusion``, ...).
        """
        store = HybridStore.for_documents(
            embedding,
            path=persist_directory,
            client=client,
            collection_name=collection_name,
            lexical_variant=lexical_variant,  # type: ignore[arg-type]
            stemming=stemming,
            stopwords=stopwords,
            tokenizer=tokenizer,
        )
        retriever = cls(store=store, **kwargs)
        retriever.add_documents(documents)
        return retriever

    @classmethod
    def from_vectorstore(
        cls,
        vectorstore: Any,
        embedding: Any = None,
        *,
        read_only: bool = False,
        lexical_variant: str = "lucene",
        store_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> EnsembleRetriever:
        """Hybrid search over the collection of an existing ``langchain_chroma.Chroma``.

        Nothing is re-embedded and nothing about how the rest of your app writes changes:
        the dense side is Chroma's own index, queried with the vector store's embedding
        function; the BM25 side is built from the collection's texts and follows writes
        made through ``vectorstore.add_documents`` / ``delete`` (and any other tool) by
        itself. Documents come back with the ids, ``page_content`` and metadata
        ``vectorstore.similarity_search`` returns, plus the score keys.

        Args:
            vectorstore: a ``langchain_chroma.Chroma``.
            embedding: the model the documents were embedded with; default the vector
                store's ``embeddings`` (required when it has none).
            read_only: write nothing at all (no journal collection, no lexical snapshot
                folder; the BM25 index lives in memory and is built on open); writes
                through this retriever then raise ``PermissionError``.
            lexical_variant: ``"lucene"`` or ``"okapi"`` BM25.
            store_kwargs: other :class:`~manifold_core.store.HybridStore` options
                (``max_staleness``, ``lexical_dir``, ...).
            **kwargs: fields of the retriever (``k``, ``fetch_k``, ``fusion``, ``filter``...).
        """
        store = _store_from_vectorstore(
            vectorstore,
            embedding,
            read_only=read_only,
            lexical_variant=lexical_variant,
            **(store_kwargs or {}),
        )
        return cls(store=store, **kwargs)

    @classmethod
    def from_manifold_index(
        cls, index_dir: str | os.PathLike[str], *, model: str | None = None, **kwargs: Any
    ) -> EnsembleRetriever:
        """Hybrid search over an index made by ``manifold ingest``, with its model.

        The fusion setting ``manifold tune`` saved in the index (method, weights,
        candidate depth, RRF constant) is used unless ``kwargs`` set those fields.

        Args:
            index_dir: the index directory.
            model: only to confirm the index's embedding model (another is refused).
            **kwargs: fields of the retriever (``k``, ``filter``, ``fusion``, ...).
        """
        from manifold_core.ingest import open_index

        store, manifest = open_index(index_dir, model=model)
        options: dict[str, Any] = manifest.retriever_kwargs()
        if "weights" in options:
            options["weights"] = list(options["weights"])
        return cls(store=store, **{**options, **kwargs})

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str],
        embedding: Any = None,
        metadatas: Sequence[dict[str, Any]] | None = None,
        ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> EnsembleRetriever:
        """:meth:`from_documents` for plain texts."""
        metas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        id_list = list(ids) if ids is not None else [None] * len(texts)
        docs = [
            Document(page_content=t, metadata=m, id=i)
            for t, m, i in zip(texts, metas, id_list, strict=True)
        ]
        return cls.from_documents(docs, embedding, **kwargs)

    def add_documents(self, documents: Sequence[Document]) -> list[str]:
        """Upsert documents into the store (hybrid mode); returns their ids."""
        if self.store is None:
            raise ValueError("add_documents needs a store (hybrid mode)")
        docs = list(documents)
        if not docs:
            return []
        ids = [d.id for d in docs]
        return self.store.upsert(
            [d.page_content for d in docs],
            [d.metadata for d in docs],
            ids=None if any(i is None for i in ids) else ids,  # type: ignore[arg-type]
        )

    # ------------------------------------------------------------ retrieval

    def _hybrid(self) -> HybridRetriever:
        assert self.store is not None
        return HybridRetriever(
            self.store,
            k=self.k or _HYBRID_DEFAULT_K,
            fetch_k=self.fetch_k,
            fusion=self.fusion or default_fusion(hybrid=True),
            weights=tuple(self.weights) if self.weights is not None else (1.0, 1.0),
            c=self.c,
            max_staleness=self.max_staleness,
        )

    def _filter(self, filter: dict[str, Any] | None) -> MetadataFilter | None:
        return MetadataFilter.all_of([from_langchain(self.filter), from_langchain(filter)])

    def _search_options(
        self,
        k: int | None,
        filter: dict[str, Any] | None,
        fetch_k: int | None,
        weights: Sequence[float] | None,
        fusion: str | None,
    ) -> dict[str, Any]:
        """The per-call options of a hybrid search, the filter AND-ed with the field's."""
        return {
            "k": k,
            "filter": self._filter(filter),
            "fetch_k": fetch_k,
            "weights": weights,
            "fusion": fusion,
        }

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: dict[str, Any] | None = None,
        fetch_k: int | None = None,
        weights: Sequence[float] | None = None,
        fusion: str | None = None,
    ) -> list[Document]:
        if self.store is not None:
            options = self._search_options(k, filter, fetch_k, weights, fusion)
            return [_hit_to_document(h) for h in self._hybrid().search(query, **options)]
        refuse_filter(filter)
        lists = [
            r.invoke(query, {"callbacks": run_manager.get_child(tag=f"retriever_{i + 1}")})
            for i, r in enumerate(self.retrievers or [])
        ]
        return self._fuse_lists(lists, k, weights, fusion)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: dict[str, Any] | None = None,
        fetch_k: int | None = None,
        weights: Sequence[float] | None = None,
        fusion: str | None = None,
    ) -> list[Document]:
        if self.store is not None:
            options = self._search_options(k, filter, fetch_k, weights, fusion)
            return [_hit_to_document(h) for h in await self._hybrid().asearch(query, **options)]
        refuse_filter(filter)
        lists = await asyncio.gather(
            *(
                r.ainvoke(query, {"callbacks": run_manager.get_child(tag=f"retriever_{i + 1}")})
                for i, r in enumerate(self.retrievers or [])
            )
        )
        return self._fuse_lists(list(lists), k, weights, fusion)

    def _key(self, doc: Document) -> str:
        if self.id_key is not None:
            return str(doc.metadata[self.id_key])
        if doc.id is not None:
            return str(doc.id)
        return doc.page_content

    def _fuse_lists(
        self,
        lists: list[list[Any]],
        k: int | None,
        weights: Sequence[float] | None,
        fusion: str | None,
    ) -> list[Document]:
        docs = [[Document(page_content=d) if isinstance(d, str) else d for d in ds] for ds in lists]
        fused = fuse_results(
            docs,
            key=self._key,
            score=lambda doc: doc.metadata.get(self.score_key),
            fusion=fusion or self.fusion or default_fusion(hybrid=False),
            weights=weights if weights is not None else self.weights,
            c=self.c,
            k=k if k is not None else self.k,
        )
        return [_fused_to_document(doc, item) for doc, item in fused]


def _store_from_vectorstore(vectorstore: Any, embedding: Any = None, **kwargs: Any) -> HybridStore:
    """A :class:`HybridStore` over a ``langchain_chroma.Chroma``'s collection.

    langchain-chroma (1.1) has no public accessor for its collection; ``Chroma._collection``
    (a property that raises when the collection was deleted) is what we rely on, pinned by
    a test against the installed version, with the public ``Chroma.embeddings``.
    """
    try:
        collection = vectorstore._collection
    except AttributeError:
        collection = None
    if collection is None or not hasattr(collection, "_client"):
        raise TypeError(
            "store= takes a manifold_core HybridStore or a langchain_chroma.Chroma, got "
            f"{type(vectorstore).__name__}; for another vector store, fuse it with "
            "EnsembleRetriever(retrievers=[...])"
        )
    if embedding is None:
        embedding = getattr(vectorstore, "embeddings", None)
    if embedding is None:
        raise ValueError(
            f"the Chroma vector store of collection {collection.name!r} has no "
            "embedding_function; pass embedding= (the model its documents were embedded "
            "with) to EnsembleRetriever.from_vectorstore"
        )
    return HybridStore.from_collection(collection, embedding, **kwargs)


def _hit_to_document(hit: Hit) -> Document:
    metadata = {**hit.metadata, **hit.score_metadata()}
    return Document(page_content=hit.text, metadata=metadata, id=hit.id)


def _fused_to_document(doc: Document, item: FusedItem) -> Document:
    metadata = {**doc.metadata, **fused_metadata(item)}
    return Document(page_content=doc.page_content, metadata=metadata, id=doc.id)
