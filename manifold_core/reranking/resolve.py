"""Getting a reranker for a model name (:func:`resolve_reranker`).

What the framework wrappers call is :mod:`manifold_core.reranker_setup`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from manifold_core.packaged import is_packaged
from manifold_core.reranking.cross_encoder import CrossEncoderReranker
from manifold_core.reranking.protocol import BaseReranker
from manifold_core.reranking.qwen3 import Qwen3Reranker

__all__ = ["resolve_reranker"]

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
