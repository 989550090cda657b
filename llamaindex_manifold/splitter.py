"""LlamaIndex ``NodeParser`` over :class:`manifold_core.chunking.SemanticChunker`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.node_parser import NodeParser
from llama_index.core.node_parser.node_utils import build_nodes_from_splits
from llama_index.core.schema import BaseNode, Document, MetadataMode, TextNode
from llama_index.core.utils import get_tqdm_iterable

from manifold_core.chunking import BreakpointRule, SemanticChunker
from manifold_core.encoders import Tokenizer
from manifold_core.sentences import SentenceSplitter

__all__ = ["SemanticTextSplitter"]


class SemanticTextSplitter(NodeParser):
    """Split where the meaning shifts (adjacent-sentence similarity), under ``max_tokens``.

    A drop-in for ``SemanticSplitterNodeParser`` that also handles Chinese, never exceeds
    a token limit, and sets exact ``start_char_idx`` / ``end_char_idx``. Works inside
    ``IngestionPipeline(transformations=[...])``.

    Build it with :meth:`from_defaults`; ``embed_model`` takes a LlamaIndex
    ``BaseEmbedding``, a model name or folder, a manifold ``Encoder``, or ``None`` for
    ``Qwen/Qwen3-Embedding-0.6B``. The other fields are those of
    :class:`manifold_core.chunking.SemanticChunker` (default: the ``size`` rule, 300-token
    chunks each carrying 150 tokens of the one before).
    """

    breakpoint_rule: str = Field(default="size", description="How gaps become cuts.")
    threshold: float | None = Field(default=None, description="The rule's threshold.")
    buffer_size: int = Field(default=0, ge=0, description="Units on each side of a gap.")
    min_tokens: int = Field(default=0, ge=0, description="Merge chunks smaller than this.")
    max_tokens: int | None = Field(default=None, description="Hard token limit per chunk.")
    overlap_tokens: int | None = Field(
        default=None,
        description="Tokens of whole sentences each chunk carries from the one before "
        "(None: half a chunk for the size rule, else 0).",
    )
    batch_size: int = Field(default=1024, ge=2, description="Windows per embedding call.")
    add_chunk_metadata: bool = Field(
        default=False, description="Add token_count and boundary_similarity to node metadata."
    )

    _chunker: SemanticChunker = PrivateAttr()

    def __init__(
        self,
        embed_model: Any = None,
        *,
        tokenizer: Tokenizer | None = None,
        sentence_splitter: SentenceSplitter | None = None,
        chunker: SemanticChunker | None = None,
        **data: Any,
    ) -> None:
        super().__init__(**data)
        self._chunker = chunker or SemanticChunker(
            embed_model,
            breakpoint_rule=self.breakpoint_rule,  # type: ignore[arg-type]
            threshold=self.threshold,
            buffer_size=self.buffer_size,
            min_tokens=self.min_tokens,
            max_tokens=self.max_tokens,
            overlap_tokens=self.overlap_tokens,
            tokenizer=tokenizer,
            sentence_splitter=sentence_splitter,
            batch_size=self.batch_size,
        )
        self.max_tokens = self._chunker.max_tokens
        self.overlap_tokens = self._chunker.overlap_tokens

    @classmethod
    def from_defaults(
        cls,
        embed_model: Any = None,
        breakpoint_rule: BreakpointRule = "size",
        threshold: float | None = None,
        buffer_size: int = 0,
        min_tokens: int = 0,
        max_tokens: int | None = None,
        overlap_tokens: int | None = None,
        tokenizer: Tokenizer | None = None,
        sentence_splitter: SentenceSplitter | None = None,
        batch_size: int = 1024,
        include_metadata: bool = True,
        include_prev_next_rel: bool = True,
        add_chunk_metadata: bool = False,
        **kwargs: Any,
    ) -> SemanticTextSplitter:
        """Build a splitter the LlamaIndex way."""
        return cls(
            embed_model,
            tokenizer=tokenizer,
            sentence_splitter=sentence_splitter,
            breakpoint_rule=breakpoint_rule,
            threshold=threshold,
            buffer_size=buffer_size,
            min_tokens=min_tokens,
            max_tokens=max_tokens,
            overlap_tokens=overlap_tokens,
            batch_size=batch_size,
            include_metadata=include_metadata,
            include_prev_next_rel=include_prev_next_rel,
            add_chunk_metadata=add_chunk_metadata,
            **kwargs,
        )

    @classmethod
    def class_name(cls) -> str:
        """Name used by LlamaIndex serialisation."""
        return "ManifoldSemanticTextSplitter"

    @property
    def chunker(self) -> SemanticChunker:
        """The core chunker doing the work."""
        return self._chunker

    def split_text(self, text: str) -> list[str]:
        """Split one text into chunk strings."""
        return [chunk.text for chunk in self._chunker.split_text(text)]

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        texts = [node.get_content(metadata_mode=MetadataMode.NONE) for node in nodes]
        all_chunks = self._chunker.split_texts(texts)
        out: list[BaseNode] = []
        items = get_tqdm_iterable(
            list(zip(nodes, all_chunks, strict=True)), show_progress, "Building nodes"
        )
        for node, chunks in items:
            built = build_nodes_from_splits([c.text for c in chunks], node, id_func=self.id_func)
            base = (
                node.start_char_idx
                if isinstance(node, TextNode) and not isinstance(node, Document)
                else None
            )
            offset = base or 0
            for new, chunk in zip(built, chunks, strict=True):
                new.start_char_idx = offset + chunk.start
                new.end_char_idx = offset + chunk.end
                if self.add_chunk_metadata:
                    new.metadata["token_count"] = chunk.token_count
                    new.metadata["boundary_similarity"] = chunk.boundary_similarity
            out.extend(built)
        return out

    async def _aparse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        return await asyncio.to_thread(self._parse_nodes, nodes, show_progress, **kwargs)

    def _postprocess_parsed_nodes(
        self, nodes: list[BaseNode], parent_doc_map: dict[str, Document]
    ) -> list[BaseNode]:
        # The base class re-locates each chunk with str.find, which can land on an earlier
        # repeat of the same text; keep the offsets the chunker computed.
        offsets = {
            id(n): (n.start_char_idx, n.end_char_idx) for n in nodes if isinstance(n, TextNode)
        }
        nodes = super()._postprocess_parsed_nodes(nodes, parent_doc_map)
        for n in nodes:
            if isinstance(n, TextNode) and id(n) in offsets:
                n.start_char_idx, n.end_char_idx = offsets[id(n)]
        return nodes
