"""LlamaIndex's node parsers as chunkers of ``manifold eval-chunks`` (text in, spans out).

Factories named in :data:`manifold_core.chunk_benchmark.FRAMEWORK_CHUNKERS`: each takes
``(spec, params, encoder, tokenizer)`` and returns a function from documents to each
document's chunk spans, found back in the document by
:func:`~manifold_core.chunk_benchmark.locate_chunks` (LlamaIndex's own offsets are wrong on
repeated text).
"""

from __future__ import annotations

from typing import Any

from llamaindex_manifold.embeddings import Qwen3Embedding
from manifold_core.chunk_benchmark import ChunkFn, locate_chunks, reject_unknown_settings

__all__ = ["semantic_chunker", "sentence_chunker"]


def sentence_chunker(spec: str, params: dict[str, Any], encoder: Any, tokenizer: Any) -> ChunkFn:
    """``SentenceSplitter`` counting ``tokenizer``'s tokens."""
    from llama_index.core.node_parser import SentenceSplitter

    sent = SentenceSplitter(
        chunk_size=int(params.pop("chunk_size", 200)),
        chunk_overlap=int(params.pop("chunk_overlap", 0)),
        tokenizer=lambda t: tokenizer.spans(t),
    )
    reject_unknown_settings(spec, params)
    return lambda docs: [locate_chunks(d, sent.split_text(d)) for d in docs]


def semantic_chunker(spec: str, params: dict[str, Any], encoder: Any, tokenizer: Any) -> ChunkFn:
    """``SemanticSplitterNodeParser`` over ``encoder``."""
    from llama_index.core import Document
    from llama_index.core.node_parser import SemanticSplitterNodeParser

    parser = SemanticSplitterNodeParser.from_defaults(
        embed_model=Qwen3Embedding(encoder, embed_batch_size=64), **params
    )
    return lambda docs: [
        locate_chunks(
            d, [n.get_content() for n in parser.get_nodes_from_documents([Document(text=d)])]
        )
        for d in docs
    ]
