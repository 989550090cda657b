"""Setting up a reranker for a framework pipeline (the adapters' compressors and postprocessors).

The wrappers take a model (or a ready core reranker) and the pipeline options ``top_n``,
``threshold`` and ``blend``. Two rules, once: the options are checked when the wrapper is
set up, by the same rule :meth:`~manifold_core.reranking.BaseReranker.rerank` applies, and
before any model loads; a ready reranker is used as it is, anything else builds the core
reranker of the wrapper's kind.
"""

from __future__ import annotations

from typing import Any, Literal

from manifold_core.reranking import (
    BaseReranker,
    CrossEncoderReranker,
    Qwen3Reranker,
    check_reranker,
    validate_rerank_args,
)

__all__ = ["RerankerKind", "build_reranker", "check_pipeline_reranker"]

RerankerKind = Literal["qwen3", "cross-encoder"]

_KINDS: dict[str, type[Qwen3Reranker] | type[CrossEncoderReranker]] = {
    "qwen3": Qwen3Reranker,
    "cross-encoder": CrossEncoderReranker,
}


def check_pipeline_reranker(
    reranker: Any, top_n: int | None, threshold: float | None, blend: float | None
) -> Any:
    """``reranker`` if it and the pipeline options are usable, else ``ValueError``/``TypeError``.

    The options are checked as ``rerank()`` checks them (the query comes later); the
    reranker must implement the :class:`~manifold_core.reranking.Reranker` protocol as the
    pipelines call it (:func:`~manifold_core.reranking.check_reranker`).
    """
    validate_rerank_args(top_n=top_n, threshold=threshold, blend=blend, check_query=False)
    return check_reranker(reranker)


def build_reranker(
    kind: RerankerKind,
    model: Any,
    *args: Any,
    top_n: int | None,
    threshold: float | None,
    blend: float | None,
    **options: Any,
) -> BaseReranker:
    """The core reranker a wrapper of ``kind`` wraps.

    The pipeline options are checked first, so a bad one fails before a model loads.
    ``model`` is returned as it is when it already is a reranker of ``kind``; otherwise
    ``Qwen3Reranker(model, *args, **options)`` or ``CrossEncoderReranker(model, *args,
    **options)`` is built.
    """
    validate_rerank_args(top_n=top_n, threshold=threshold, blend=blend, check_query=False)
    cls = _KINDS[kind]
    if isinstance(model, cls):
        return model
    return cls(model, *args, **options)
