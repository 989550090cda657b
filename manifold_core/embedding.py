"""The one batched-embedding loop: texts in, one checked float32 matrix out.

Every path that embeds many documents (the ingest, the evaluation) goes through
:func:`embed_texts`, so a wrong shape or a NaN from an encoder is caught in one place,
before anything reaches a store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from manifold_core.encoders import Encoder
from manifold_core.validation import positive_int

__all__ = ["embed_texts"]


def embed_texts(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    batch_size: int = 256,
    on_progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Document embeddings of ``texts`` as one float32 array, ``batch_size`` texts per call.

    ``on_progress`` is told the number of texts of each batch done.

    Raises:
        ValueError: ``batch_size`` is not a positive int, or the encoder returns the wrong
            shape or non-finite values (so nothing bad reaches the store).
    """
    batch_size = positive_int(batch_size, "batch_size")
    parts = []
    for i in range(0, len(texts), batch_size):
        batch = list(texts[i : i + batch_size])
        vectors = np.asarray(encoder.encode_documents(batch), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise ValueError(f"the encoder gave shape {vectors.shape} for {len(batch)} texts")
        parts.append(vectors)
        if on_progress is not None:
            on_progress(len(batch))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    out = np.concatenate(parts)
    if not np.isfinite(out).all():
        raise ValueError("the encoder returned NaN or infinite values")
    return out
