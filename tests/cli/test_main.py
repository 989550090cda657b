"""The ``manifold`` entry points and the ``models`` command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO_ROOT
from typer.testing import CliRunner

from manifold_core.cli import app

BIN = Path(sys.executable).parent


def test_console_script_and_module_list_the_commands() -> None:
    env = {**os.environ, "COLUMNS": "120"}
    for argv in (
        [str(BIN / "manifold"), "--help"],
        [sys.executable, "-m", "manifold_core", "--help"],
    ):
        out = subprocess.run(
            argv, capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=True
        )
        for command in ("ingest", "query", "eval", "chunks", "models"):
            assert command in out.stdout, (argv, command)


def test_help_of_every_command_imports_no_heavy_library() -> None:
    """``--help`` must stay instant: torch, chromadb and friends load inside the commands."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from manifold_core.cli import app\n"
        "for argv in (['--help'], *([c, '--help'] for c in "
        "('ingest', 'query', 'eval', 'chunks', 'models'))):\n"
        "    r = CliRunner().invoke(app, argv)\n"
        "    assert r.exit_code == 0 and 'Usage' in r.output, (argv, r.output)\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'chromadb', 'matplotlib',\n"
        "         'numpy', 'ir_measures', 'jieba')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert out.stdout.strip() == ""


def test_models_lists_the_packaged_models_as_installed() -> None:
    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for name in (
        "pkg:all-MiniLM-L6-v2",
        "pkg:multilingual-use",
        "pkg:multilingual-e5-small",
        "pkg:ms-marco-MiniLM-L-12-v2",
    ):
        assert name in result.output
    assert " no " not in result.output  # every package of the [dev] extra is installed


def test_unknown_command_fails() -> None:
    result = CliRunner().invoke(app, ["frobnicate"])
    assert result.exit_code != 0


def _hub_reachable() -> bool:
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(_hub_reachable(), reason="needs a machine without Hub access")
def test_hub_name_without_hub_fails_fast_with_one_line(tmp_path: Path) -> None:
    """Without HF_HUB_OFFLINE, an unreachable Hub gives one line, not 90 s of retries."""
    text = tmp_path / "a.txt"
    text.write_text("One sentence here. Another one there.", encoding="utf-8")
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    started = time.monotonic()
    out = subprocess.run(
        [str(BIN / "manifold"), "chunks", str(text), "--model", "Qwen/Qwen3-Embedding-0.6B"],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "400"},
        timeout=120,
    )
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "could not load model 'Qwen/Qwen3-Embedding-0.6B'" in lines[0]
    assert time.monotonic() - started < 60
