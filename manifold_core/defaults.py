"""Every model name the package defaults to or suggests, written once.

The core's constructors, both adapters and the CLI take their defaults from here, so a
new default model is a one-line change. ``PKG_*`` are the models that ship inside pip
packages (the ``offline`` extra, see :mod:`manifold_core.packaged`); they are the
suggestions for machines without Hugging Face Hub access.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_CROSS_ENCODER_MODEL",
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_RERANKER_MODEL",
    "PKG_MINILM",
    "PKG_MS_MARCO",
    "PKG_MULTILINGUAL_E5",
    "PKG_MULTILINGUAL_USE",
    "PKG_PREFIX",
]

# Hugging Face Hub models: the defaults on a connected machine.
DEFAULT_EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
DEFAULT_RERANKER_MODEL = "Qwen/Qwen3-Reranker-0.6B"
DEFAULT_CROSS_ENCODER_MODEL = "BAAI/bge-reranker-base"

# Models that ship inside pip packages, named ``pkg:NAME``.
PKG_PREFIX = "pkg:"
PKG_MINILM = PKG_PREFIX + "all-MiniLM-L6-v2"
PKG_MULTILINGUAL_USE = PKG_PREFIX + "multilingual-use"
PKG_MULTILINGUAL_E5 = PKG_PREFIX + "multilingual-e5-small"
PKG_MS_MARCO = PKG_PREFIX + "ms-marco-MiniLM-L-12-v2"
