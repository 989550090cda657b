"""LangChain document compressors over the core rerankers (type conversion only).

Use them alone (``compress_documents(documents, query)``) or around any retriever with
``langchain_classic.retrievers.ContextualCompressionRetriever``. Each returned
``Document`` keeps its id and metadata and gains ``metadata["relevance_score"]`` (and
``metadata["blended_score"]`` when ``blend`` is set).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, model_validator

from manifold_core.reranker_setup import build_reranker, check_pipeline_reranker
from manifold_core.reranking import DEFAULT_CROSS_ENCODER_MODEL, DEFAULT_RERANKER_MODEL

__all__ = ["CrossEncoderReranker", "Qwen3Reranker", "RerankerCompressor"]


class RerankerCompressor(BaseDocumentCompressor):
    """Any core :class:`~manifold_core.reranking.Reranker` as a LangChain compressor.

    Attributes:
        reranker: the core reranker doing the work.
        top_n: documents kept (``None``: all). Default 3, as LangChain's own.
        threshold: drop documents whose relevance is below this, in ``[0, 1]``.
        blend: weight of the reranker's order in a reciprocal-rank fusion with the
            retrieval order (``None``: the reranker's order alone).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    reranker: Any = Field(exclude=True)
    top_n: int | None = 3
    threshold: float | None = None
    blend: float | None = None

    @model_validator(mode="after")
    def _check(self) -> RerankerCompressor:
        check_pipeline_reranker(self.reranker, self.top_n, self.threshold, self.blend)
        return self

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The best ``top_n`` documents (above ``threshold``), best first, with scores."""
        docs = list(documents)
        ranked = self.reranker.rerank(
            query,
            docs,
            top_n=self.top_n,
            threshold=self.threshold,
            blend=self.blend,
            texts=[d.page_content for d in docs],
        )
        out: list[Document] = []
        for r in ranked:
            doc: Document = r.item
            metadata = {**doc.metadata, "relevance_score": r.score}
            if r.blended_score is not None:
                metadata["blended_score"] = r.blended_score
            out.append(doc.model_copy(update={"metadata": metadata}))
        return out


class Qwen3Reranker(RerankerCompressor):
    """Qwen3-Reranker (scored as its authors do: ``P("yes")``) as a LangChain compressor.

    Args:
        model: Hub name (default ``Qwen/Qwen3-Reranker-0.6B``), local folder, or a loaded
            causal LM; or a ready core ``Qwen3Reranker`` (then ``tokenizer`` and the
            model options are ignored).
        tokenizer: needed with a loaded model.
        top_n, threshold, blend: see :class:`RerankerCompressor`.
        **options: passed to :class:`manifold_core.reranking.Qwen3Reranker`
            (``instruction``, ``max_length``, ``max_tokens_per_batch``, ``device``,
            ``dtype``, ``trust_remote_code``...).
    """

    def __init__(
        self,
        model: Any = DEFAULT_RERANKER_MODEL,
        tokenizer: Any = None,
        *,
        top_n: int | None = 3,
        threshold: float | None = None,
        blend: float | None = None,
        reranker: Any = None,
        **options: Any,
    ) -> None:
        if reranker is None:
            reranker = build_reranker(
                "qwen3", model, tokenizer, top_n=top_n, threshold=threshold, blend=blend, **options
            )
        super().__init__(reranker=reranker, top_n=top_n, threshold=threshold, blend=blend)


class CrossEncoderReranker(RerankerCompressor):
    """A sentence-transformers cross-encoder (bge-reranker, ms-marco...) as a compressor.

    Args:
        model: Hub name (default ``BAAI/bge-reranker-base``), local folder, a built
            ``sentence_transformers.CrossEncoder``, or a ready core
            ``CrossEncoderReranker``.
        top_n, threshold, blend: see :class:`RerankerCompressor`.
        **options: passed to :class:`manifold_core.reranking.CrossEncoderReranker`
            (``max_length``, ``max_tokens_per_batch``, ``device``...).
    """

    def __init__(
        self,
        model: Any = DEFAULT_CROSS_ENCODER_MODEL,
        *,
        top_n: int | None = 3,
        threshold: float | None = None,
        blend: float | None = None,
        reranker: Any = None,
        **options: Any,
    ) -> None:
        if reranker is None:
            reranker = build_reranker(
                "cross-encoder", model, top_n=top_n, threshold=threshold, blend=blend, **options
            )
        super().__init__(reranker=reranker, top_n=top_n, threshold=threshold, blend=blend)
