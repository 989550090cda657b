"""What an encoder is: the :class:`Encoder` protocol and the checks on its input and output.

Every encoder (sentence-transformers, packaged engines, framework wrappers, callables)
takes a list of texts, checked by :func:`check_texts`, and returns unit-length float32
rows, made by :func:`normalize_rows`, so a dot product is the cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Encoder", "check_texts", "normalize_rows"]


def normalize_rows(vectors: Any) -> np.ndarray:
    """Return ``vectors`` as a 2-D float32 array with unit-length rows (zero rows stay zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1) if array.size else array.reshape(0, 0)
    if array.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n_texts, dim); got shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(array / norms, dtype=np.float32)


def check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    """``texts`` as a list, refusing a bare ``str`` and non-``str`` items (``TypeError``)."""
    if isinstance(texts, str):
        raise TypeError(f"{what} must be a sequence of str, not a single str; wrap it in a list")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] must be str, got {type(text).__name__}")
    return out


@runtime_checkable
class Encoder(Protocol):
    """What the core needs from an embedding model.

    Both methods take a list of texts and return a float32 array of shape
    ``(len(texts), dim)`` whose rows have unit length, so a dot product is the cosine.
    """

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages (no instruction)."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (with the model's query instruction, if it has one)."""
        ...
