"""manifold_core: the framework-free core of manifold-rag.

Splitting, lexical scoring, metadata filtering, fusion and reranking live here once;
the LangChain and LlamaIndex adapters only convert types. Heavy libraries (torch,
sentence-transformers, chromadb) are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # sentences / encoders / chunking (foundation)
    "split_sentences": "manifold_core.sentences",
    "SentenceSpan": "manifold_core.sentences",
    "Encoder": "manifold_core.encoders",
    "Tokenizer": "manifold_core.encoders",
    "SentenceTransformerEncoder": "manifold_core.encoders",
    "CallableEncoder": "manifold_core.encoders",
    "resolve_encoder": "manifold_core.encoders",
    "SemanticChunker": "manifold_core.chunking",
    "Chunk": "manifold_core.chunking",
    # hybrid retrieval
    "LexicalIndex": "manifold_core.lexical",
    "MetadataFilter": "manifold_core.filters",
    "HybridStore": "manifold_core.store",
    "HybridRetriever": "manifold_core.retrieval",
    "Hit": "manifold_core.retrieval",
    "fuse": "manifold_core.fusion",
    # reranking
    "Reranker": "manifold_core.reranking",
    "Qwen3Reranker": "manifold_core.reranking",
    "CrossEncoderReranker": "manifold_core.reranking",
    # models that ship in pip packages
    "ModelLoadError": "manifold_core.packaged",
    # evaluation
    "load_beir": "manifold_core.evaluation",
    "evaluate": "manifold_core.evaluation",
    "EvaluationReport": "manifold_core.evaluation",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'manifold_core' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
