"""langchain_manifold: manifold-rag components as LangChain drop-ins.

Thin adapters over `manifold_core`: they convert LangChain types and nothing else.
Names are imported lazily so that `import langchain_manifold` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SemanticTextSplitter": "langchain_manifold.splitter",
    "EnsembleRetriever": "langchain_manifold.retrievers",
    "Qwen3Reranker": "langchain_manifold.rerankers",
    "CrossEncoderReranker": "langchain_manifold.rerankers",
    "Qwen3Embeddings": "langchain_manifold.embeddings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_manifold' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
