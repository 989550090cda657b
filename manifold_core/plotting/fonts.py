"""Fonts for every plot: DejaVu Sans, then Noto Sans CJK (from ``mplfonts``) when installed."""

from __future__ import annotations

from pathlib import Path

__all__ = ["font_families"]

# Shipped by the `mplfonts` package (the `cjk` extra): Chinese, Japanese and Korean glyphs.
_CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
_CJK_FAMILY = "Noto Sans CJK SC"
_registered: list[str] = []


def font_families() -> list[str]:
    """Font families for our plots: DejaVu Sans, then Noto Sans CJK when it is installed.

    Matplotlib falls back from one family to the next glyph by glyph, so Latin text keeps
    its usual look and Chinese titles render instead of empty boxes. The font comes from
    the ``mplfonts`` package (``pip install 'manifold-rag[cjk]'``), never from the system.
    """
    if not _registered:
        try:
            import mplfonts
            from matplotlib import font_manager

            font = Path(mplfonts.__file__).parent / "fonts" / _CJK_FONT_FILE
            if font.is_file():
                font_manager.fontManager.addfont(str(font))
                _registered.append(_CJK_FAMILY)
        except ImportError:
            pass
        _registered.insert(0, "DejaVu Sans")
    return list(_registered)
