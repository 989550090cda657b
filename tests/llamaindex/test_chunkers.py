"""The framework's splitters as `manifold eval-chunks` chunkers: spans of the document."""

from __future__ import annotations

from typing import Any

import pytest

from manifold_core.chunk_benchmark import build_chunker
from manifold_core.encoders import RegexTokenizer

TEXT = (
    "Rooftop solar panels turn sunlight into direct current. An inverter converts it for "
    "the house. Sourdough bread rises slowly with a starter. Bake the loaf for forty "
    "minutes in a hot oven. Giant pandas eat bamboo in the mountain forests."
)


@pytest.mark.parametrize("spec", ["li-semantic", "li-sentence:chunk_size=12"])
def test_chunks_are_located_in_the_document(spec: str, minilm_encoder: Any) -> None:
    chunk = build_chunker(spec, minilm_encoder, RegexTokenizer())
    [spans] = chunk([TEXT])
    assert spans and all(0 <= a < b <= len(TEXT) for a, b in spans)
    covered = " ".join(TEXT[a:b] for a, b in spans).split()
    assert covered == TEXT.split()  # no overlap asked: every word once, in order
