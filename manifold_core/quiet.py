"""Keep the libraries' own chatter out of our output: progress bars, warnings, log lines.

Loading a model prints transformers' "Loading weights" bar, jieba its "Building prefix
dict" lines, pypdf its font warnings; under our own progress bars (or in a script's
output) that is noise. :func:`quiet_libraries` silences them for a block and restores
the previous settings afterwards; our own warnings are left alone.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["NOISY_LIBRARIES", "quiet_libraries"]

NOISY_LIBRARIES = (
    "transformers",
    "sentence_transformers",
    "huggingface_hub",
    "torch",
    "chromadb",
    "jieba",
    "pypdf",
    "fontTools",
    "matplotlib",
    "onnxruntime",
)
_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


@contextmanager
def quiet_libraries(enabled: bool = True) -> Iterator[None]:
    """Silence the bars, warnings and log lines of :data:`NOISY_LIBRARIES` in the block.

    Libraries imported inside the block read the environment set here (transformers
    keeps its bars off for the process); those already imported are switched through
    their own APIs and switched back afterwards. ``enabled=False`` changes nothing
    (what ``--verbose`` does).
    """
    if not enabled:
        yield
        return
    saved_env = {k: os.environ.get(k) for k in _ENV}
    for key, value in _ENV.items():
        os.environ.setdefault(key, value)
    loggers = [logging.getLogger(name) for name in NOISY_LIBRARIES]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    undo = []
    if "transformers" in sys.modules:
        try:
            from transformers.utils import logging as tf_logging

            verbosity = tf_logging.get_verbosity()
            bars = tf_logging.is_progress_bar_enabled()
            tf_logging.set_verbosity_error()
            tf_logging.disable_progress_bar()

            def restore_tf() -> None:
                tf_logging.set_verbosity(verbosity)
                if bars:
                    tf_logging.enable_progress_bar()

            undo.append(restore_tf)
        except Exception:  # an unexpected transformers version: stay as it was
            pass
    if "huggingface_hub" in sys.modules:
        try:
            from huggingface_hub.utils import (
                are_progress_bars_disabled,
                disable_progress_bars,
                enable_progress_bars,
            )

            hub_off = are_progress_bars_disabled()
            disable_progress_bars()
            if not hub_off:
                undo.append(enable_progress_bars)
        except Exception:
            pass
    try:
        with warnings.catch_warnings():
            pattern = "|".join(NOISY_LIBRARIES)
            warnings.filterwarnings("ignore", module=rf"({pattern})(\..*)?$")
            yield
    finally:
        for fn in reversed(undo):
            fn()
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        for key, old in saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
