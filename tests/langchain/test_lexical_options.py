"""EnsembleRetriever.from_documents: BM25 stems English by default; stemming and stop
words can be chosen, or a custom tokenizer given."""

from __future__ import annotations

import numpy as np
from langchain_core.documents import Document

from langchain_manifold import EnsembleRetriever
from manifold_core.encoders import CallableEncoder

DOCS = [
    Document(page_content="Wind and tyre noise stay low at speed.", id="car"),
    Document(page_content="Bake the loaf in a Dutch oven.", id="bread"),
]


def encoder() -> CallableEncoder:
    return CallableEncoder(lambda texts: np.ones((len(texts), 4), dtype=np.float32))


def lexical_ids(retriever: EnsembleRetriever, query: str) -> list[str]:
    assert retriever.store is not None
    return [i for i, _ in retriever.store.lexical_search(query, 5)]


def test_stemming_is_the_default_and_can_be_turned_off() -> None:
    assert lexical_ids(EnsembleRetriever.from_documents(DOCS, encoder()), "tyres") == ["car"]
    plain = EnsembleRetriever.from_documents(DOCS, encoder(), stemming=None)
    assert lexical_ids(plain, "tyres") == []
    stop = EnsembleRetriever.from_documents(DOCS, encoder(), stopwords="language")
    assert lexical_ids(stop, "the") == []
    custom = EnsembleRetriever.from_documents(DOCS, encoder(), tokenizer=lambda t: t.split()[:1])
    assert lexical_ids(custom, "Bake") == ["bread"]
