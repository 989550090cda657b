"""LangChain's splitters as chunkers of ``manifold eval-chunks`` (text in, spans out).

Factories named in :data:`manifold_core.chunk_benchmark.FRAMEWORK_CHUNKERS`: each takes
``(spec, params, encoder, tokenizer)`` and returns a function from documents to each
document's chunk spans, found back in the document by
:func:`~manifold_core.chunk_benchmark.locate_chunks`.
"""

from __future__ import annotations

from typing import Any

from langchain_manifold.embeddings import Qwen3Embeddings
from manifold_core.chunk_benchmark import (
    SENTENCE_REGEX,
    SEPARATORS,
    ChunkFn,
    locate_chunks,
    reject_unknown_settings,
    token_length,
)

__all__ = ["recursive_chunker", "semantic_chunker"]


def recursive_chunker(spec: str, params: dict[str, Any], encoder: Any, tokenizer: Any) -> ChunkFn:
    """``RecursiveCharacterTextSplitter`` measuring length in ``tokenizer``'s tokens."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    rec = RecursiveCharacterTextSplitter(
        chunk_size=int(params.pop("chunk_size", 200)),
        chunk_overlap=int(params.pop("chunk_overlap", 0)),
        length_function=token_length(tokenizer),
        separators=params.pop("separators", SEPARATORS),
        keep_separator="end",
    )
    reject_unknown_settings(spec, params)
    return lambda docs: [locate_chunks(d, rec.split_text(d)) for d in docs]


def semantic_chunker(spec: str, params: dict[str, Any], encoder: Any, tokenizer: Any) -> ChunkFn:
    """langchain-experimental's ``SemanticChunker`` over ``encoder``."""
    from langchain_experimental.text_splitter import SemanticChunker

    params.setdefault("sentence_split_regex", SENTENCE_REGEX)
    lc = SemanticChunker(Qwen3Embeddings(encoder), **params)
    return lambda docs: [locate_chunks(d, lc.split_text(d)) for d in docs]
