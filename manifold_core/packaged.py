"""Models that ship inside PyPI packages, named ``pkg:NAME``, and clear model-load errors.

The old import path, kept for users: the registry (names, packages, folders, load errors)
lives in :mod:`manifold_core.model_registry`, the encoders built from the packages in
:mod:`manifold_core.packaged_encoders`, the error type in :mod:`manifold_core.errors`.
Nothing inside the package imports this module, so it sits above all three.

Everything that takes a model name (encoders, rerankers, the CLI, both adapters) accepts
these names. A name that cannot be loaded raises :class:`ModelLoadError` with one line
saying what to install or pass, instead of a Hub traceback.
"""

from __future__ import annotations

from manifold_core.errors import ModelLoadError
from manifold_core.model_registry import (
    PACKAGED_MODELS,
    PREFIX,
    PackagedModel,
    cache_dir,
    check_model_name,
    is_packaged,
    load_error,
    packaged_folder,
    packaged_model,
)
from manifold_core.packaged_encoders import (
    E5Encoder,
    E5Tokenizer,
    UniversalSentenceEncoder,
    packaged_encoder,
)

__all__ = [
    "PACKAGED_MODELS",
    "PREFIX",
    "E5Encoder",
    "E5Tokenizer",
    "ModelLoadError",
    "PackagedModel",
    "UniversalSentenceEncoder",
    "cache_dir",
    "check_model_name",
    "is_packaged",
    "load_error",
    "packaged_encoder",
    "packaged_folder",
    "packaged_model",
]
