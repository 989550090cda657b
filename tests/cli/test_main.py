"""The ``manifold`` entry points and the ``models`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_models_lists_the_packaged_models_as_installed() -> None:
    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for name in ("pkg:all-MiniLM-L6-v2", "pkg:multilingual-use", "pkg:ms-marco-MiniLM-L-12-v2"):
        assert name in result.output
    assert " no " not in result.output  # every package of the [dev] extra is installed


def test_unknown_command_fails() -> None:
    result = CliRunner().invoke(app, ["frobnicate"])
    assert result.exit_code != 0
