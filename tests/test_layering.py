"""The house rules that can be checked mechanically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return out.stdout.strip()


def test_core_never_imports_a_framework() -> None:
    modules = sorted(p.stem for p in (ROOT / "manifold_core").glob("*.py") if p.stem != "__main__")
    names = ["manifold_core" if m == "__init__" else f"manifold_core.{m}" for m in modules]
    code = (
        "import importlib, sys\n"
        f"for m in {names!r}: importlib.import_module(m)\n"
        "fw = ('langchain', 'llama_index')\n"
        "found = {n.split('.')[0] for n in sys.modules if n.startswith(fw)}\n"
        "print(','.join(sorted(found)))"
    )
    assert _run(code) == ""


def test_importing_the_adapters_does_not_load_torch_or_chroma() -> None:
    code = (
        "import sys, langchain_manifold, llamaindex_manifold, manifold_core\n"
        "heavy = ('torch', 'sentence_transformers', 'chromadb', 'transformers')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))"
    )
    assert _run(code) == ""


def test_every_exported_name_resolves() -> None:
    import langchain_manifold
    import llamaindex_manifold
    import manifold_core

    for pkg in (manifold_core, langchain_manifold, llamaindex_manifold):
        missing = [n for n in pkg.__all__ if not hasattr(pkg, n)]
        assert not missing, f"{pkg.__name__} lacks {missing}"
