"""EnsembleRetriever.from_vectorstore: hybrid search over a langchain_chroma.Chroma as it is.

The store is built the way langchain-chroma's docs build one (``Chroma(collection_name,
embedding_function, persist_directory)`` then ``add_documents(documents, ids=...)``),
with the real offline MiniLM; ours opens the same collection without re-embedding.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from langchain_manifold import EnsembleRetriever, Qwen3Embeddings
from manifold_core.store import HybridStore

langchain_chroma = pytest.importorskip("langchain_chroma")
Chroma = langchain_chroma.Chroma

SCORE_KEYS = {"fused_score", "dense_score", "dense_rank", "lexical_score", "lexical_rank"}

CARS = [
    ("The 2022 BMW X1 sDrive28i starts at 38,600 dollars.", "price-list", "BMW", 2022),
    ("The BMW X1 cabin stays quiet at motorway speed.", "review", "BMW", 2023),
    ("BMW's iX1 is the electric X1 with 440 km of range.", "review", "BMW", 2023),
    ("Mercedes-Benz GLA 250 pricing begins near 43,000 dollars.", "price-list", "Mercedes", 2023),
    ("The GLA rides firmly over broken tarmac.", "review", "Mercedes", 2022),
    ("Audi Q3 prices rose by four percent this year.", "news", "Audi", 2023),
    ("The Audi Q3 Sportback trades headroom for looks.", "review", "Audi", 2022),
    ("Tesla cut Model Y prices again in China.", "news", "Tesla", 2023),
]


class CountingEmbeddings(Embeddings):
    """A LangChain Embeddings that counts what it embeds (to prove nothing is re-embedded)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.documents = 0
        self.queries = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def minilm_embeddings() -> Embeddings:
    return Qwen3Embeddings("pkg:all-MiniLM-L6-v2", device="cpu")


@pytest.fixture
def vectorstore(tmp_path: Path, minilm_embeddings: Embeddings) -> Any:
    embeddings = CountingEmbeddings(minilm_embeddings)
    vs = Chroma(
        collection_name=f"cars-{uuid.uuid4().hex[:8]}",
        embedding_function=embeddings,
        persist_directory=str(tmp_path / "chroma_langchain_db"),
    )
    docs = [
        Document(page_content=t, metadata={"source": s, "brand": b, "year": y})
        for t, s, b, y in CARS
    ]
    vs.add_documents(documents=docs, ids=[f"car-{i}" for i in range(len(docs))])
    return vs


def _without_scores(doc: Document) -> tuple[str | None, str, dict[str, Any]]:
    assert doc.metadata.keys() >= SCORE_KEYS
    meta = {k: v for k, v in doc.metadata.items() if k not in SCORE_KEYS}
    return doc.id, doc.page_content, meta


def _until(check: Callable[[], bool], seconds: float = 15.0) -> float:
    """Seconds until ``check()`` holds (fails the test after ``seconds``)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not reflected within {seconds} s")
        time.sleep(0.2)
    return time.monotonic() - start


def test_the_collection_accessor_we_rely_on_exists(vectorstore: Any) -> None:
    """langchain-chroma has no public collection accessor: pin ``_collection``."""
    import chromadb

    assert isinstance(vectorstore._collection, chromadb.Collection)
    assert vectorstore.embeddings is not None


def test_documents_read_back_as_similarity_search_returns_them(vectorstore: Any) -> None:
    embeddings = vectorstore.embeddings
    retriever = EnsembleRetriever.from_vectorstore(vectorstore, k=len(CARS), weights=[1.0, 0.0])
    embedded = embeddings.documents
    query = "how much does a small BMW SUV cost"
    theirs = vectorstore.similarity_search(query, k=len(CARS))
    ours = retriever.invoke(query)
    assert [_without_scores(d) for d in ours] == [
        (d.id, d.page_content, d.metadata) for d in theirs
    ]
    assert embeddings.documents == embedded  # nothing re-embedded
    assert embeddings.queries >= 2  # the vector store's embedding function embeds queries


def test_hybrid_search_with_one_filter_on_both_sides(vectorstore: Any) -> None:
    retriever = EnsembleRetriever.from_vectorstore(vectorstore, k=3)
    docs = retriever.invoke("sDrive28i price", filter={"brand": "BMW"})
    assert docs and all(d.metadata["brand"] == "BMW" for d in docs)
    assert docs[0].id == "car-0" and docs[0].metadata["lexical_rank"] == 1
    reviews = retriever.invoke("price", filter={"$and": [{"source": "review"}, {"year": 2022}]})
    assert {d.id for d in reviews} == {"car-4", "car-6"}


async def test_async_matches_sync(vectorstore: Any) -> None:
    retriever = EnsembleRetriever.from_vectorstore(vectorstore, k=3)
    flt = {"source": "review"}
    sync = retriever.invoke("quiet cabin", filter=flt)
    got = await retriever.ainvoke("quiet cabin", filter=flt)
    assert [d.id for d in got] == [d.id for d in sync] and all(
        d.metadata["source"] == "review" for d in got
    )


def test_store_equals_vectorstore_is_adopted_too(vectorstore: Any) -> None:
    retriever = EnsembleRetriever(store=vectorstore, k=2)
    assert isinstance(retriever.store, HybridStore)
    assert retriever.invoke("Tesla Model Y")[0].id == "car-7"


def test_adds_and_deletes_through_the_vectorstore_are_picked_up(vectorstore: Any) -> None:
    retriever = EnsembleRetriever.from_vectorstore(vectorstore, k=3)
    new = Document(
        page_content="The Volvo EX30 Cross Country gets a raised ride height.",
        metadata={"source": "news", "brand": "Volvo", "year": 2024},
    )
    vectorstore.add_documents([new], ids=["car-new"])

    def found() -> bool:
        docs = retriever.invoke("EX30 Cross Country")
        return bool(docs) and docs[0].id == "car-new" and docs[0].metadata["lexical_rank"] == 1

    seconds = _until(found)
    print(f"an add through the vector store was found after {seconds:.1f} s")
    # a delete never makes results silently short, not even before it is noticed
    vectorstore.delete(ids=["car-0", "car-1"])
    docs = retriever.invoke("BMW X1 price", filter={"year": {"$gte": 2022}})
    assert len(docs) == 3 and not {"car-0", "car-1"} & {d.id for d in docs}
    lexical = retriever.store
    _until(lambda: "car-0" not in lexical.lexical and "car-1" not in lexical.lexical)


def test_read_only_writes_nothing(vectorstore: Any, tmp_path: Path) -> None:
    folder = tmp_path / "chroma_langchain_db"
    client = vectorstore._client
    before_files = _manifold_files(folder)
    before_collections = sorted(c.name for c in client.list_collections())
    before_meta = vectorstore._collection.metadata
    retriever = EnsembleRetriever.from_vectorstore(vectorstore, read_only=True, k=2)
    assert retriever.invoke("Audi Q3 prices")[0].id == "car-5"
    with pytest.raises(PermissionError):
        retriever.add_documents([Document(page_content="x", id="x")])
    assert sorted(c.name for c in client.list_collections()) == before_collections
    assert client.get_collection(vectorstore._collection.name).metadata == before_meta
    added = _manifold_files(folder) - before_files
    assert not {p for p in added if p.parts[0] == "manifold_lexical"}, added


def test_read_only_leaves_no_lock_file(vectorstore: Any, tmp_path: Path) -> None:
    folder = tmp_path / "chroma_langchain_db"
    before = _manifold_files(folder)
    EnsembleRetriever.from_vectorstore(vectorstore, read_only=True).invoke("Audi")
    assert _manifold_files(folder) == before


def _manifold_files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if "manifold" in str(p)}


def test_remove_manifold_data_leaves_the_collection_as_it_was(vectorstore: Any) -> None:
    client = vectorstore._client
    name = vectorstore._collection.name
    before = vectorstore.get(include=["documents", "metadatas", "embeddings"])
    before_collections = {c.name for c in client.list_collections()}
    retriever = EnsembleRetriever.from_vectorstore(vectorstore)
    retriever.add_documents([Document(page_content="Kia EV3 review", id="kia", metadata={})])
    retriever.store.delete(ids=["kia"])
    retriever.store.remove_manifold_data()
    assert {c.name for c in client.list_collections()} == before_collections
    after = vectorstore.get(include=["documents", "metadatas", "embeddings"])
    assert after["ids"] == before["ids"] and after["metadatas"] == before["metadatas"]
    assert (after["embeddings"] == before["embeddings"]).all()
    assert "manifold" not in str(client.get_collection(name).metadata or {})
    folder = Path(client.get_settings().persist_directory)
    assert not {p for p in _manifold_files(folder) if p.parts[0] == "manifold_lexical"}


def test_remove_manifold_data_leaves_no_file(vectorstore: Any, tmp_path: Path) -> None:
    folder = tmp_path / "chroma_langchain_db"
    before = _manifold_files(folder)
    retriever = EnsembleRetriever.from_vectorstore(vectorstore)
    retriever.invoke("Audi")
    retriever.store.remove_manifold_data()
    assert _manifold_files(folder) == before


def test_errors_name_the_fix(tmp_path: Path) -> None:
    bare = Chroma(collection_name="no-embedding", persist_directory=str(tmp_path / "db"))
    with pytest.raises(ValueError, match="embedding="):
        EnsembleRetriever.from_vectorstore(bare)
    with pytest.raises(TypeError, match=r"HybridStore or a langchain_chroma\.Chroma"):
        EnsembleRetriever.from_vectorstore(object())
