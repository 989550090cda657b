"""LangChain ``TextSplitter`` over :class:`manifold_core.chunking.SemanticChunker`."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from manifold_core.chunking import BreakpointRule, Chunk, SemanticChunker
from manifold_core.encoders import Tokenizer
from manifold_core.sentences import SentenceSplitter

__all__ = ["SemanticTextSplitter"]


class SemanticTextSplitter(TextSplitter):
    """Split where the meaning shifts (adjacent-sentence similarity), under ``max_tokens``.

    A drop-in for ``langchain_experimental``'s ``SemanticChunker`` that also handles
    Chinese, never exceeds a token limit, and reports true character offsets.

    Args:
        embeddings: a LangChain ``Embeddings``, a model name or folder for
            sentence-transformers, a manifold ``Encoder``, or ``None`` for
            ``Qwen/Qwen3-Embedding-0.6B``.
        breakpoint_rule, threshold, buffer_size, min_tokens, max_tokens, overlap_tokens,
            tokenizer, sentence_splitter, batch_size: see
            :class:`manifold_core.chunking.SemanticChunker` (default: the ``size`` rule,
            300-token chunks each carrying 150 tokens of the one before).
        add_start_index: put the chunk's character offset in ``metadata["start_index"]``.
        add_chunk_metadata: also put ``end_index``, ``token_count`` and
            ``boundary_similarity`` in the metadata.
        chunker: an already-built core chunker (the other chunking arguments are ignored).
    """

    def __init__(
        self,
        embeddings: Any = None,
        *,
        breakpoint_rule: BreakpointRule = "size",
        threshold: float | None = None,
        buffer_size: int = 0,
        min_tokens: int = 0,
        max_tokens: int | None = None,
        overlap_tokens: int | None = None,
        tokenizer: Tokenizer | None = None,
        sentence_splitter: SentenceSplitter | None = None,
        batch_size: int = 1024,
        add_start_index: bool = False,
        add_chunk_metadata: bool = False,
        chunker: SemanticChunker | None = None,
    ) -> None:
        self.chunker = chunker or SemanticChunker(
            embeddings,
            breakpoint_rule=breakpoint_rule,
            threshold=threshold,
            buffer_size=buffer_size,
            min_tokens=min_tokens,
            max_tokens=max_tokens,
            overlap_tokens=overlap_tokens,
            tokenizer=tokenizer,
            sentence_splitter=sentence_splitter,
            batch_size=batch_size,
        )
        super().__init__(
            chunk_size=self.chunker.max_tokens,
            chunk_overlap=self.chunker.overlap_tokens,
            length_function=lambda text: self.chunker.tokenizer.count([text])[0],
            add_start_index=add_start_index,
        )
        self.add_chunk_metadata = add_chunk_metadata

    def split_text(self, text: str) -> list[str]:
        """Split one text into chunk strings."""
        return [chunk.text for chunk in self.chunker.split_text(text)]

    def create_documents(
        self, texts: list[str], metadatas: list[dict[Any, Any]] | None = None
    ) -> list[Document]:
        """One ``Document`` per chunk, each with a copy of its text's metadata."""
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(
                f"got {len(metadatas)} metadatas for {len(texts)} texts; pass one per text"
            )
        metadatas_ = metadatas or [{} for _ in texts]
        documents = []
        for chunks, metadata in zip(self.chunker.split_texts(texts), metadatas_, strict=True):
            for chunk in chunks:
                documents.append(
                    Document(page_content=chunk.text, metadata=self._metadata(metadata, chunk))
                )
        return documents

    def _metadata(self, base: dict[Any, Any], chunk: Chunk) -> dict[Any, Any]:
        metadata = copy.deepcopy(base)
        if self._add_start_index:
            metadata["start_index"] = chunk.start
        if self.add_chunk_metadata:
            metadata["end_index"] = chunk.end
            metadata["token_count"] = chunk.token_count
            metadata["boundary_similarity"] = chunk.boundary_similarity
        return metadata

    def split_documents(self, documents: Iterable[Document]) -> list[Document]:
        """Split documents, keeping each one's metadata on its chunks."""
        docs = list(documents)
        return self.create_documents(
            [d.page_content for d in docs], metadatas=[d.metadata for d in docs]
        )

    def transform_documents(self, documents: Sequence[Document], **kwargs: Any) -> list[Document]:
        """``DocumentTransformer`` entry point: same as :meth:`split_documents`."""
        return self.split_documents(documents)
