"""Token-budget batching: pairs packed so that ``batch size x longest pair`` stays bounded.

Pairs are sorted by token length and packed so that ``batch_size x longest_in_batch``
stays under ``max_tokens_per_batch``. Peak memory is then bounded by the budget (not by
the longest document times a fixed batch size) and short pairs are not padded to the
length of long ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from manifold_core.validation import optional_positive_int, positive_int

__all__ = ["check_batching", "default_budget", "token_budget_batches"]


def token_budget_batches(
    lengths: Sequence[int], max_tokens: int, max_batch_size: int | None = None
) -> list[list[int]]:
    """Group indices into batches whose padded size ``len(batch) * max_len`` <= ``max_tokens``.

    Indices are sorted by length, longest first (so a batch that does not fit in memory
    fails at once, not at the end), ties in input order. An item longer than the budget
    gets a batch of its own.
    """
    max_tokens = positive_int(max_tokens, "max_tokens")
    max_batch_size = optional_positive_int(max_batch_size, "max_batch_size")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        length = max(int(lengths[i]), 1)
        full = max_batch_size is not None and len(current) >= max_batch_size
        if current and (full or max(longest, length) * (len(current) + 1) > max_tokens):
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, length)
    if current:
        batches.append(current)
    return batches


def default_budget(device: str) -> int:
    """The padded-token budget of one forward pass: 4096 on a CPU, 32768 on an accelerator."""
    return 4096 if device == "cpu" else 32768


def check_batching(max_tokens_per_batch: int | None, max_batch_size: int | None) -> None:
    """A reranker's batching options, checked before any model loads (``None``: default)."""
    optional_positive_int(max_tokens_per_batch, "max_tokens_per_batch")
    optional_positive_int(max_batch_size, "max_batch_size")
