"""Plots of Chinese files render their glyphs (Noto Sans CJK from mplfonts), no warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from topics import ZH_TOPICS, joined

from manifold_core.chunking import SemanticChunker
from manifold_core.encoders import CallableEncoder
from manifold_core.plotting import _draw, chunking_profile, font_families, plot_chunking


def _profile() -> object:
    def embed(texts: object) -> np.ndarray:
        rng = np.random.default_rng(0)
        return rng.normal(size=(len(texts), 8)).astype(np.float32)  # type: ignore[arg-type]

    text, _ = joined(ZH_TOPICS)
    return chunking_profile(SemanticChunker(CallableEncoder(embed), max_tokens=200), text)


def _warnings_while(draw: object) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()  # type: ignore[operator]
    return [str(w.message) for w in caught]


def test_a_chinese_title_plots_without_missing_glyphs(tmp_path: Path) -> None:
    assert font_families() == ["DejaVu Sans", "Noto Sans CJK SC"]
    profile = _profile()
    out = tmp_path / "熊猫.png"
    messages = _warnings_while(
        lambda: plot_chunking(profile, out, title="熊猫.txt：分块的位置")  # type: ignore[arg-type]
    )
    assert messages == []
    assert out.stat().st_size > 10_000


def test_without_the_cjk_font_the_same_plot_warns(tmp_path: Path) -> None:
    """The check above can fail: DejaVu Sans alone lacks the glyphs and says so."""
    from matplotlib import rc_context

    profile = _profile()
    with rc_context({"font.family": ["DejaVu Sans"]}):
        messages = _warnings_while(
            lambda: _draw(profile, tmp_path / "boxes.png", title="熊猫", dpi=60)  # type: ignore[arg-type]
        )
    if not messages:
        pytest.skip("this matplotlib does not report missing glyphs as warnings")
    assert any("missing from font" in m for m in messages)
