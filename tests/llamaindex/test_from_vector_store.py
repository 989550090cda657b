"""EnsembleRetriever.from_vector_store / from_index over the Chroma store LlamaIndex wrote.

The store is built the way LlamaIndex's Chroma docs build one (a ``PersistentClient``
collection, ``ChromaVectorStore(chroma_collection=...)``, ``StorageContext``,
``VectorStoreIndex.from_documents``), several nodes per document, with the real offline
MiniLM; ours opens the same collection without re-embedding.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import chromadb
import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import BaseNode, MetadataMode, NodeRelationship
from llama_index.core.vector_stores import MetadataFilter, MetadataFilters

from llamaindex_manifold import EnsembleRetriever, Qwen3Embedding
from llamaindex_manifold.retrievers import STORAGE_KEYS

ChromaVectorStore = pytest.importorskip("llama_index.vector_stores.chroma").ChromaVectorStore

SCORE_KEYS = {"fused_score", "dense_score", "dense_rank", "lexical_score", "lexical_rank"}

ARTICLES = [
    (
        "bmw-x1",
        "BMW",
        2023,
        "The BMW X1 sDrive28i starts at 38,600 dollars. Its cabin stays quiet at motorway "
        "speed. The boot holds 540 litres with the rear seats up. Adaptive dampers cost extra.",
    ),
    (
        "mercedes-gla",
        "Mercedes",
        2023,
        "The Mercedes-Benz GLA 250 costs about 43,000 dollars. It rides firmly over broken "
        "tarmac. The MBUX touchscreen answers quickly. Rear headroom is tight for adults.",
    ),
    (
        "audi-q3",
        "Audi",
        2022,
        "Audi Q3 prices rose by four percent this year. The Sportback trades headroom for "
        "looks. Its quattro drive grips well on snow. The infotainment feels dated.",
    ),
]


def _until(check: Callable[[], bool], seconds: float = 15.0) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not reflected within {seconds} s")
        time.sleep(0.2)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def embed_model() -> Qwen3Embedding:
    return Qwen3Embedding("pkg:all-MiniLM-L6-v2", device="cpu")


@pytest.fixture
def index(tmp_path: Path, embed_model: Qwen3Embedding) -> VectorStoreIndex:
    db = chromadb.PersistentClient(path=str(tmp_path / "chroma_db"))
    collection = db.get_or_create_collection(f"quickstart-{uuid.uuid4().hex[:8]}")
    vector_store = ChromaVectorStore(chroma_collection=collection)
    storage_context = StorageContext.from_defaults(vector_store=vector_store)
    documents = [
        Document(text=text, id_=doc_id, metadata={"brand": brand, "year": year})
        for doc_id, brand, year, text in ARTICLES
    ]
    return VectorStoreIndex.from_documents(
        documents,
        storage_context=storage_context,
        embed_model=embed_model,
        transformations=[SentenceSplitter(chunk_size=40, chunk_overlap=0)],
    )


def _as_llamaindex_has_it(node: BaseNode) -> tuple[Any, ...]:
    return (
        node.node_id,
        node.get_content(metadata_mode=MetadataMode.NONE),
        {k: v for k, v in node.metadata.items() if k not in SCORE_KEYS},
        node.ref_doc_id,
        {k: v.node_id for k, v in node.relationships.items()},  # type: ignore[union-attr]
        node.class_name(),
        node.get_content(metadata_mode=MetadataMode.LLM),
    )


def test_the_accessors_we_rely_on_exist(index: VectorStoreIndex) -> None:
    """``ChromaVectorStore.client`` is public; ``VectorStoreIndex._embed_model`` is pinned."""
    assert isinstance(index.vector_store.client, chromadb.Collection)
    assert index._embed_model is not None


def test_nodes_come_back_as_llamaindex_restores_them(index: VectorStoreIndex) -> None:
    assert index.vector_store.client.count() >= 2 * len(ARTICLES)  # several nodes per document
    n = 6
    ours = EnsembleRetriever.from_index(index, similarity_top_k=n, weights=[1.0, 0.0])
    query = "how much does the BMW cost"
    theirs = index.as_retriever(similarity_top_k=n).retrieve(query)
    got = ours.retrieve(query)
    assert [_as_llamaindex_has_it(h.node) for h in got] == [
        _as_llamaindex_has_it(h.node) for h in theirs
    ]
    for hit in got:
        assert hit.node.ref_doc_id in {a[0] for a in ARTICLES}
        assert NodeRelationship.SOURCE in hit.node.relationships
        assert not set(STORAGE_KEYS) & hit.node.metadata.keys()


def test_hybrid_search_with_filters_and_storage_keys_refused(
    index: VectorStoreIndex, embed_model: Qwen3Embedding
) -> None:
    retriever = EnsembleRetriever.from_vector_store(
        index.vector_store, embed_model=embed_model, similarity_top_k=3
    )
    bmw = MetadataFilters(filters=[MetadataFilter(key="brand", value="BMW")])
    hits = retriever.retrieve("sDrive28i price", filters=bmw)
    assert hits and all(h.node.metadata["brand"] == "BMW" for h in hits)
    assert "sDrive28i" in hits[0].node.get_content() and hits[0].node.metadata["lexical_rank"] == 1
    assert not set(STORAGE_KEYS) & retriever.store.metadata_keys()  # never indexed
    assert {"brand", "year"} <= retriever.store.metadata_keys()
    for key in ("_node_content", "doc_id", "ref_doc_id"):
        flt = MetadataFilters(filters=[MetadataFilter(key=key, value="bmw-x1")])
        with pytest.raises(ValueError, match=key):
            retriever.retrieve("price", filters=flt)


def test_the_llm_prompt_has_node_text_and_no_storage_keys(index: VectorStoreIndex) -> None:
    retriever = EnsembleRetriever.from_defaults(index=index, similarity_top_k=3)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    prompt = str(engine.query("What does the GLA 250 cost?"))  # MockLLM echoes its prompt
    assert "GLA 250 costs about 43,000 dollars" in prompt
    assert "brand: Mercedes" in prompt
    for key in (*STORAGE_KEYS, *SCORE_KEYS, "relationships", "TextNode"):
        assert key not in prompt, key


def test_writes_through_the_index_are_picked_up(index: VectorStoreIndex) -> None:
    retriever = EnsembleRetriever.from_defaults(
        vector_store=index.vector_store, embed_model=index._embed_model, similarity_top_k=3
    )
    index.insert(
        Document(
            text="The Volvo EX30 Cross Country gets a raised ride height.",
            id_="volvo-ex30",
            metadata={"brand": "Volvo", "year": 2024},
        )
    )

    def found() -> bool:
        hits = retriever.retrieve("EX30 Cross Country")
        return (
            bool(hits)
            and hits[0].node.ref_doc_id == "volvo-ex30"
            and (hits[0].node.metadata["lexical_rank"] == 1)
        )

    seconds = _until(found)
    print(f"an insert through the index was found after {seconds:.1f} s")
    index.delete_ref_doc("bmw-x1")
    hits = retriever.retrieve("BMW X1 price boot dampers")
    assert len(hits) == 3 and all(h.node.ref_doc_id != "bmw-x1" for h in hits)


def test_from_nodes_keeps_relationships_in_llamaindex_s_layout(
    embed_model: Qwen3Embedding,
) -> None:
    documents = [Document(text=t, id_=d, metadata={"brand": b}) for d, b, _, t in ARTICLES]
    nodes = SentenceSplitter(chunk_size=40, chunk_overlap=0).get_nodes_from_documents(documents)
    ours = EnsembleRetriever.from_nodes(nodes, embed_model=embed_model, similarity_top_k=3)
    by_id = {n.node_id: n for n in nodes}
    hits = ours.retrieve("quattro drive on snow")
    assert hits
    for hit in hits:
        original = by_id[hit.node.node_id]
        assert hit.node.ref_doc_id == original.ref_doc_id is not None
        assert {k: v.node_id for k, v in hit.node.relationships.items()} == {  # type: ignore[union-attr]
            k: v.node_id  # type: ignore[union-attr]
            for k, v in original.relationships.items()
        }
        assert not set(STORAGE_KEYS) & hit.node.metadata.keys()
    # LlamaIndex's own ChromaVectorStore reads what from_nodes wrote
    theirs = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=ours.store.collection), embed_model=embed_model
    ).as_retriever(similarity_top_k=3)
    for hit in theirs.retrieve("quattro drive on snow"):
        assert hit.node.ref_doc_id == by_id[hit.node.node_id].ref_doc_id


def test_errors_name_the_fix(index: VectorStoreIndex) -> None:
    with pytest.raises(ValueError, match="embed_model="):
        EnsembleRetriever.from_vector_store(index.vector_store)
    with pytest.raises(TypeError, match="ChromaVectorStore"):
        EnsembleRetriever.from_vector_store(object(), embed_model=index._embed_model)
    with pytest.raises(TypeError, match=r"from_vector_store\(vector_store, embed_model"):
        EnsembleRetriever(index.vector_store)
