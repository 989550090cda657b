"""LlamaIndex node postprocessors over the core rerankers (type conversion only).

Use them as ``node_postprocessors`` of a query engine, or call ``postprocess_nodes``.
``NodeWithScore.score`` becomes the reranker's relevance (in ``[0, 1]``); the score the
node came with is kept in ``node.metadata["retrieval_score"]`` (hidden from the LLM and
the embedder). The nodes are copies: the stored nodes are not modified.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from manifold_core.reranker_setup import build_reranker, check_pipeline_reranker
from manifold_core.reranking import DEFAULT_CROSS_ENCODER_MODEL, DEFAULT_RERANKER_MODEL

__all__ = ["CrossEncoderReranker", "Qwen3Reranker", "RerankerPostprocessor"]


class RerankerPostprocessor(BaseNodePostprocessor):
    """Any core :class:`~manifold_core.reranking.Reranker` as a LlamaIndex postprocessor.

    Attributes:
        top_n: nodes kept (``None``: all). Default 3.
        threshold: drop nodes whose relevance is below this, in ``[0, 1]``.
        blend: weight of the reranker's order in a reciprocal-rank fusion with the
            incoming order (``None``: the reranker's order alone).
        metadata_mode: what the reranker reads of each node: ``MetadataMode.NONE``
            (default: the content alone) or ``EMBED``/``LLM``/``ALL`` to include metadata.
    """

    top_n: int | None = Field(default=3)
    threshold: float | None = Field(default=None)
    blend: float | None = Field(default=None)
    metadata_mode: MetadataMode = Field(default=MetadataMode.NONE)
    _reranker: Any = PrivateAttr()

    def __init__(self, reranker: Any, **data: Any) -> None:
        super().__init__(**data)
        self._reranker = check_pipeline_reranker(reranker, self.top_n, self.threshold, self.blend)

    @property
    def reranker(self) -> Any:
        """The core reranker doing the work."""
        return self._reranker

    @classmethod
    def class_name(cls) -> str:
        return "ManifoldRerankerPostprocessor"

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("a reranker needs the query: pass query_bundle or query_str")
        ranked = self._reranker.rerank(
            query_bundle.query_str,
            nodes,
            top_n=self.top_n,
            threshold=self.threshold,
            blend=self.blend,
            texts=[n.node.get_content(metadata_mode=self.metadata_mode) for n in nodes],
            retrieval_scores=[n.score for n in nodes],
        )
        out: list[NodeWithScore] = []
        for r in ranked:
            node = r.item.node
            metadata = {**node.metadata, "retrieval_score": r.retrieval_score}
            hidden = ["retrieval_score"]
            if r.blended_score is not None:
                metadata["blended_score"] = r.blended_score
                hidden.append("blended_score")
            copy = node.model_copy(
                update={
                    "metadata": metadata,
                    "excluded_llm_metadata_keys": [*node.excluded_llm_metadata_keys, *hidden],
                    "excluded_embed_metadata_keys": [
                        *node.excluded_embed_metadata_keys,
                        *hidden,
                    ],
                }
            )
            out.append(NodeWithScore(node=copy, score=r.score))
        return out


class Qwen3Reranker(RerankerPostprocessor):
    """Qwen3-Reranker (scored as its authors do: ``P("yes")``) as a node postprocessor.

    Args:
        model: Hub name (default ``Qwen/Qwen3-Reranker-0.6B``), local folder, a loaded
            causal LM, or a ready core ``Qwen3Reranker``.
        tokenizer: needed with a loaded model.
        top_n, threshold, blend, metadata_mode: see :class:`RerankerPostprocessor`.
        **options: passed to :class:`manifold_core.reranking.Qwen3Reranker`.
    """

    def __init__(
        self,
        model: Any = DEFAULT_RERANKER_MODEL,
        tokenizer: Any = None,
        *,
        top_n: int | None = 3,
        threshold: float | None = None,
        blend: float | None = None,
        metadata_mode: MetadataMode = MetadataMode.NONE,
        **options: Any,
    ) -> None:
        core = build_reranker(
            "qwen3", model, tokenizer, top_n=top_n, threshold=threshold, blend=blend, **options
        )
        super().__init__(
            core, top_n=top_n, threshold=threshold, blend=blend, metadata_mode=metadata_mode
        )

    @classmethod
    def class_name(cls) -> str:
        return "ManifoldQwen3Reranker"


class CrossEncoderReranker(RerankerPostprocessor):
    """A sentence-transformers cross-encoder as a node postprocessor.

    Args:
        model: Hub name (default ``BAAI/bge-reranker-base``), local folder, a built
            ``sentence_transformers.CrossEncoder``, or a ready core
            ``CrossEncoderReranker``.
        top_n, threshold, blend, metadata_mode: see :class:`RerankerPostprocessor`.
        **options: passed to :class:`manifold_core.reranking.CrossEncoderReranker`.
    """

    def __init__(
        self,
        model: Any = DEFAULT_CROSS_ENCODER_MODEL,
        *,
        top_n: int | None = 3,
        threshold: float | None = None,
        blend: float | None = None,
        metadata_mode: MetadataMode = MetadataMode.NONE,
        **options: Any,
    ) -> None:
        core = build_reranker(
            "cross-encoder", model, top_n=top_n, threshold=threshold, blend=blend, **options
        )
        super().__init__(
            core, top_n=top_n, threshold=threshold, blend=blend, metadata_mode=metadata_mode
        )

    @classmethod
    def class_name(cls) -> str:
        return "ManifoldCrossEncoderReranker"
