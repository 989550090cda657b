"""The README's set-up commands and framework examples are what CI and users run.

The examples name the Qwen3 models on the Hub; offline, they run with stand-ins of the same
kinds: all-MiniLM-L6-v2 for the embedding model and a tiny random Qwen3 reranker with the
real Qwen3 tokenizer (the real scoring path, random weights).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO_ROOT, tiny_qwen3_config
from markdown_runner import prepare_workdir, run_page

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


@pytest.fixture(scope="module")
def tiny_reranker_dir(tmp_path_factory: pytest.TempPathFactory, qwen3_tokenizer: Any) -> Path:
    import torch
    from transformers import Qwen3ForCausalLM

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "tiny-qwen3-reranker"
    Qwen3ForCausalLM(tiny_qwen3_config()).save_pretrained(folder)
    qwen3_tokenizer.save_pretrained(folder)
    return folder


def test_ci_runs_exactly_the_readme_setup_commands() -> None:
    setup = _blocks("bash")[0].strip().splitlines()
    assert len(setup) == 2
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in setup:
        assert command in ci


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["LangChain", "LlamaIndex"])
def test_framework_example_runs(framework: str, minilm_path: str, tiny_reranker_dir: Path) -> None:
    block = next(b for b in _blocks("python") if f"{framework.lower()}_manifold" in b)
    code = block.replace('"Qwen/Qwen3-Embedding-0.6B"', repr(minilm_path)).replace(
        '"Qwen/Qwen3-Reranker-0.6B"', repr(str(tiny_reranker_dir))
    )
    assert code != block
    exec(compile(code, f"README.md ({framework} example)", "exec"), {})


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_main_job_commands_produce_a_table_and_a_png(tmp_path: Path) -> None:
    """The README's ``manifold`` commands run offline, as written, in a fresh folder."""
    main_job = [b for b in _blocks("bash")[1:] if "manifold " in b]
    assert main_job, "the README shows no manifold command"
    commands = [line for b in main_job for line in b.splitlines() if line.startswith("manifold ")]
    assert {c.split()[1] for c in commands} >= {"ingest", "query", "eval"}
    page = tmp_path / "readme-main-job.md"
    page.write_text("".join(f"```bash\n{b}```\n\n" for b in main_job), encoding="utf-8")
    workdir = prepare_workdir(tmp_path / "reader")
    run = run_page(page, workdir)
    assert all("shell: ran" in line for line in run.log if "manifold" in line), run.log
    report = json.loads((workdir / "manifold-eval.json").read_text(encoding="utf-8"))
    assert "hybrid+rerank" in json.dumps(report)
    png = (workdir / "manifold-eval.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert (workdir / "demo-index" / "manifold-index.json").exists()
