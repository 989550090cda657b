"""llamaindex_manifold: manifold-rag components as LlamaIndex drop-ins.

Thin adapters over `manifold_core`: they convert LlamaIndex types and nothing else.
Names are imported lazily so that `import llamaindex_manifold` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SemanticTextSplitter": "llamaindex_manifold.splitter",
    "EnsembleRetriever": "llamaindex_manifold.retrievers",
    "Qwen3Reranker": "llamaindex_manifold.rerankers",
    "CrossEncoderReranker": "llamaindex_manifold.rerankers",
    "Qwen3Embedding": "llamaindex_manifold.embeddings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llamaindex_manifold' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
