"""langchain-tests' standard retriever suite against the hybrid EnsembleRetriever."""

from __future__ import annotations

import functools
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_manifold import EnsembleRetriever
from manifold_core.store import HybridStore

TEXTS = [
    "Paris is the capital of France",
    "Berlin is the capital of Germany",
    "Rome is the capital of Italy",
    "Madrid is the capital of Spain",
    "The Seine flows through Paris",
]


@functools.lru_cache(maxsize=1)
def _store() -> HybridStore:
    import chromadb

    store = HybridStore(
        DeterministicFakeEmbedding(size=32),
        client=chromadb.EphemeralClient(),
        collection_name="lc-standard",
    )
    store.upsert(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))])
    return store


class TestEnsembleRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[EnsembleRetriever]:
        return EnsembleRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": _store()}

    @property
    def retriever_query_example(self) -> str:
        return "capital of France"


def test_standard_store_returns_documents_with_ids() -> None:
    docs = EnsembleRetriever(store=_store(), k=2).invoke("capital of France")
    assert all(isinstance(d, Document) and d.id for d in docs)
