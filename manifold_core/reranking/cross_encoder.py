"""Ordinary cross-encoders (bge-reranker, ms-marco, ...) through sentence-transformers.

Scores are sigmoids of the raw logits (softmax's second column for a two-label head);
sentence-transformers and torch are imported when a model loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from manifold_core.defaults import DEFAULT_CROSS_ENCODER_MODEL
from manifold_core.packaged import check_model_name, is_packaged, load_error, packaged_folder
from manifold_core.reranking.batching import check_batching, default_budget, token_budget_batches
from manifold_core.reranking.ordering import validate_rerank_args
from manifold_core.reranking.protocol import BaseReranker
from manifold_core.validation import optional_positive_int

__all__ = ["DEFAULT_CROSS_ENCODER_MODEL", "CrossEncoderReranker"]


class CrossEncoderReranker(BaseReranker):
    """An ordinary cross-encoder (bge-reranker, ms-marco, ...) via sentence-transformers.

    Args:
        model: a Hub name (default ``BAAI/bge-reranker-base``, Chinese and English), a
            local folder, or a built ``sentence_transformers.CrossEncoder``.
        max_length: longest pair in tokens (default: the model's own limit).
        max_tokens_per_batch: the padded-token budget of one forward pass (default 4096
            on CPU, 32768 on a GPU).
        max_batch_size: an optional cap on pairs per forward pass.
        device: default: sentence-transformers' choice (CUDA, MPS, CPU).
        trust_remote_code: passed to ``CrossEncoder``; off by default.
        rrf_c: the RRF constant used by ``blend``.

    Scores are the sigmoid of a one-logit head (softmax's second column for a two-class
    head), computed here from the raw logits whatever activation the model config names.
    """

    def __init__(
        self,
        model: Any = DEFAULT_CROSS_ENCODER_MODEL,
        *,
        max_length: int | None = None,
        max_tokens_per_batch: int | None = None,
        max_batch_size: int | None = None,
        device: str | None = None,
        trust_remote_code: bool = False,
        rrf_c: int = 60,
    ) -> None:
        optional_positive_int(max_length, "max_length")
        check_batching(max_tokens_per_batch, max_batch_size)
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from sentence_transformers import CrossEncoder

            self.model_name = str(model)
            check_model_name(self.model_name)
            path = (
                packaged_folder(self.model_name, "reranker")
                if is_packaged(self.model_name)
                else self.model_name
            )
            try:
                model = CrossEncoder(
                    path, max_length=max_length, device=device, trust_remote_code=trust_remote_code
                )
            except (OSError, ValueError) as exc:
                raise load_error(self.model_name, exc) from exc
        else:
            if not hasattr(model, "predict"):
                raise TypeError(
                    f"expected a model name, folder or sentence_transformers.CrossEncoder, "
                    f"got {type(model).__name__}"
                )
            config = getattr(model, "config", None)
            self.model_name = str(getattr(config, "_name_or_path", "") or type(model).__name__)
            if device is not None:
                model.to(device)
        self.model = model
        if max_length is not None:
            model.max_seq_length = max_length
        self.max_length = int(getattr(model, "max_seq_length", None) or 512)
        num_labels = int(getattr(model, "num_labels", 1))
        if num_labels not in (1, 2):
            raise ValueError(f"expected a 1- or 2-label cross-encoder, got {num_labels} labels")
        self.num_labels = num_labels
        self.device = str(getattr(model, "device", "cpu"))
        self.max_tokens_per_batch = max_tokens_per_batch or default_budget(
            self.device.split(":")[0]
        )
        self.max_batch_size = max_batch_size
        self.rrf_c = rrf_c

    def pair_lengths(self, query: str, texts: Sequence[str]) -> list[int]:
        """Token count of each (query, text) pair after truncation to ``max_length``."""
        tokenizer = self.model.tokenizer
        enc = tokenizer(
            [query] * len(texts),
            list(texts),
            truncation=True,
            max_length=self.max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [len(ids) for ids in enc["input_ids"]]

    def _logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        import torch

        raw = self.model.predict(
            pairs,
            batch_size=len(pairs),
            activation_fn=torch.nn.Identity(),
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(raw, dtype=np.float64).reshape(len(pairs), -1)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Relevance in ``[0, 1]`` for each text, input order."""
        validate_rerank_args(query)
        docs = [str(t) for t in texts]
        if not docs:
            return np.zeros(0, dtype=np.float64)
        # A 1 MB text is cut by characters first: its tail would be truncated anyway.
        cap = self.max_length * 32
        docs = [d[:cap] for d in docs]
        lengths = self.pair_lengths(query, docs)
        scores = np.zeros(len(docs), dtype=np.float64)
        for batch in token_budget_batches(lengths, self.max_tokens_per_batch, self.max_batch_size):
            logits = self._logits([(query, docs[i]) for i in batch])
            if self.num_labels == 1:
                values = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            else:
                shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
                values = shifted[:, 1] / shifted.sum(axis=1)
            scores[batch] = values
        return scores
