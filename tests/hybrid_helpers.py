"""Test helpers for the hybrid-retrieval tests (importable: `from hybrid_helpers import ...`)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np

from manifold_core.encoders import normalize_rows

_WORD = re.compile(r"[\u4e00-\u9fff]|\w+")


class HashEncoder:
    """Bag of hashed words: deterministic, instant, and similar texts get similar vectors."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.full((len(texts), self.dim), 1e-3, dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[row, h % self.dim] += 1.0
        return normalize_rows(out) if len(texts) else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts: Any) -> np.ndarray:
        return self._encode(list(texts))

    def encode_queries(self, texts: Any) -> np.ndarray:
        return self._encode(list(texts))


def writer_and_lazy_reader() -> tuple[Any, Any]:
    """Two stores on one new collection holding ``quokka note``; the reader checks Chroma
    for the writer's changes at most once an hour (``max_staleness=3600``)."""
    import uuid

    import chromadb

    from manifold_core.store import HybridStore

    client = chromadb.EphemeralClient()
    name = f"stale-{uuid.uuid4().hex[:8]}"
    writer = HybridStore(HashEncoder(), client=client, collection_name=name)
    reader = HybridStore(HashEncoder(), client=client, collection_name=name, max_staleness=3600)
    writer.add(["quokka note"], [{"g": 1}], ids=["q"])
    return writer, reader
