"""Getting a reranker: for a model name (:func:`resolve_reranker`), or for an adapter.

:func:`prepare_reranker` is what the framework wrappers call: it checks the ordering
options first (before any model loads), then takes a ready reranker or builds one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from manifold_core.packaged import is_packaged
from manifold_core.reranking.cross_encoder import CrossEncoderReranker
from manifold_core.reranking.ordering import validate_rerank_args
from manifold_core.reranking.protocol import BaseReranker, check_reranker
from manifold_core.reranking.qwen3 import Qwen3Reranker

__all__ = ["prepare_reranker", "resolve_reranker"]

R = TypeVar("R", bound=BaseReranker)


def resolve_reranker(model: Any) -> BaseReranker:
    """Turn a reranker name into the right reranker, as :func:`resolve_encoder` does for encoders.

    A built reranker is returned as it is. A name containing ``Qwen3-Reranker``, or a
    folder whose ``config.json`` names ``Qwen3ForCausalLM``, gets :class:`Qwen3Reranker`
    (yes/no logits); anything else (a Hub name, a folder, a ``pkg:`` name) a
    :class:`CrossEncoderReranker`.
    """
    if isinstance(model, BaseReranker):
        return model
    name = str(model)
    if not is_packaged(name):
        config = Path(name) / "config.json"
        if "qwen3-reranker" in name.lower() or (
            config.is_file() and "Qwen3ForCausalLM" in config.read_text(encoding="utf-8")
        ):
            return Qwen3Reranker(name)
    return CrossEncoderReranker(name)


def prepare_reranker(
    kind: type[R],
    model: Any,
    *args: Any,
    reranker: Any = None,
    top_n: int | None = None,
    threshold: float | None = None,
    blend: float | None = None,
    **options: Any,
) -> Any:
    """The core reranker a framework wrapper holds, its options checked before any load.

    ``top_n``, ``threshold`` and ``blend`` are checked first (``ValueError`` naming the
    bad one), so a bad value fails before a model is loaded. Then ``reranker`` when given
    (it must implement :class:`~manifold_core.reranking.Reranker`, see
    :func:`~manifold_core.reranking.check_reranker`), else ``model`` when it already is
    a ``kind``, else ``kind(model, *args, **options)`` (whose constructor checks its own
    options before loading).
    """
    validate_rerank_args(top_n=top_n, threshold=threshold, blend=blend, check_query=False)
    if reranker is not None:
        return check_reranker(reranker)
    if isinstance(model, kind):
        return model
    build: Callable[..., R] = kind
    return build(model, *args, **options)
