"""How an ingest splits documents: :class:`ChunkerSettings`, recorded in the index manifest.

Later ingests reuse the settings an index was built with (:meth:`ChunkerSettings.merged`),
and a change of settings makes every file be chunked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from manifold_core.chunking import BREAKPOINT_RULES, DEFAULT_MAX_TOKENS, SemanticChunker
from manifold_core.encoders import CallableEncoder, tokenizer_for
from manifold_core.windows import FixedTokenChunker

__all__ = ["CHUNKER_KINDS", "ChunkerSettings", "model_token_limit"]

CHUNKER_KINDS = ("semantic", "fixed", "none")


def model_token_limit(encoder: Any) -> int:
    """The tokens the encoder reads per text (``max_seq_length``, else the chunker default)."""
    return int(getattr(encoder, "max_seq_length", None) or DEFAULT_MAX_TOKENS)


@dataclass(frozen=True)
class ChunkerSettings:
    """How documents are split; recorded in the manifest and reused by later ingests.

    ``kind="semantic"`` cuts where the meaning shifts
    (:class:`~manifold_core.chunking.SemanticChunker`); ``kind="fixed"`` cuts windows of
    ``max_tokens`` tokens sharing ``overlap`` tokens
    (:class:`~manifold_core.windows.FixedTokenChunker`: no embedding to decide cuts, the
    fast choice); ``kind="none"`` keeps every document whole (one chunk each; a document
    longer than the model reads is refused, or cut with ``truncate`` in
    :func:`~manifold_core.ingest.run.run_ingest`). ``threshold=None`` and
    ``max_tokens=None`` and ``overlap=None`` mean the chunker's defaults (the rule's
    default threshold; 300 tokens with 150 carried over for the ``size`` rule, the model's
    input limit without overlap for the others; fixed windows: the model's limit, no
    overlap). ``overlap`` is the fixed windows' ``overlap`` or the semantic chunker's
    ``overlap_tokens``.
    """

    kind: str = "semantic"
    breakpoint_rule: str = "size"
    threshold: float | None = None
    buffer_size: int = 0
    min_tokens: int = 0
    max_tokens: int | None = None
    overlap: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in CHUNKER_KINDS:
            raise ValueError(
                f"chunker must be one of {', '.join(CHUNKER_KINDS)}, got {self.kind!r}"
            )
        if self.breakpoint_rule not in BREAKPOINT_RULES:
            raise ValueError(
                f"breakpoint rule must be one of {', '.join(BREAKPOINT_RULES)}; "
                f"got {self.breakpoint_rule!r}"
            )

    @classmethod
    def merged(cls, previous: Mapping[str, Any] | None, **given: Any) -> ChunkerSettings:
        """Settings ``given`` (``None`` values skipped) over ``previous`` over defaults.

        Changing the rule drops what the previous rule resolved (its threshold, chunk size
        and overlap) unless they are given too.
        """
        base = {k: v for k, v in (previous or {}).items() if k in cls.__dataclass_fields__}
        chosen = {k: v for k, v in given.items() if v is not None}
        unknown = set(chosen) - set(cls.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown chunker settings: {sorted(unknown)}")
        rule = chosen.get("breakpoint_rule")
        if rule is not None and rule != base.get("breakpoint_rule"):
            for resolved in ("threshold", "max_tokens", "overlap"):
                if resolved not in chosen:
                    base.pop(resolved, None)
        return cls(**{**base, **chosen})

    def validate(self) -> None:
        """Check the values now, before a model is loaded (``ValueError`` naming the bad one).

        The chunker's own checks run against a stand-in encoder; the model's input limit
        is checked again when :meth:`build` gets the real one.
        """
        if self.kind == "none":
            return
        stub = CallableEncoder(lambda texts: np.zeros((len(texts), 1), dtype=np.float32))
        floor = max(self.min_tokens, (self.overlap or 0) + 1, 1)
        limit = self.max_tokens if self.max_tokens is not None else floor
        replace(self, max_tokens=limit).build(stub)

    def build(self, encoder: Any, batch_size: int = 1024) -> Any:
        """The chunker (``None`` for ``kind="none"``); raises ``ValueError`` on bad values.

        Both chunkers have ``split_texts(texts) -> list[list[Chunk]]`` and ``max_tokens``.
        """
        if self.kind == "none":
            return None
        if self.kind == "fixed":
            limit = self.max_tokens or model_token_limit(encoder)
            return FixedTokenChunker(tokenizer_for(encoder), limit, self.overlap or 0)
        return SemanticChunker(
            encoder,
            breakpoint_rule=self.breakpoint_rule,  # type: ignore[arg-type]
            threshold=self.threshold,
            buffer_size=self.buffer_size,
            min_tokens=self.min_tokens,
            max_tokens=self.max_tokens,
            overlap_tokens=self.overlap,
            batch_size=batch_size,
        )

    def effective(self, chunker: Any) -> ChunkerSettings:
        """These settings with the defaults the chunker resolved filled in."""
        if chunker is None:
            return ChunkerSettings(kind="none")
        if self.kind == "fixed":
            return ChunkerSettings(
                "fixed", max_tokens=chunker.max_tokens, overlap=self.overlap or 0
            )
        return ChunkerSettings(
            "semantic",
            chunker.breakpoint_rule,
            chunker.threshold,
            chunker.buffer_size,
            chunker.min_tokens,
            chunker.max_tokens,
            chunker.overlap_tokens,
        )

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any] | None) -> ChunkerSettings | None:
        """The settings a manifest recorded (``None`` if it has none or they are invalid)."""
        if not data:
            return None
        try:
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (TypeError, ValueError):
            return None
