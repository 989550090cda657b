"""Embedding prompts by model: one rule, the same through the core, both adapters and the CLI.

The Qwen3 instruction belongs to Qwen3-Embedding only (by name or by the folder's
``config.json``); E5 gets ``query: ``/``passage: ``, BGE its query instruction, other
models nothing; an explicit ``query_prompt`` always wins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rerank_helpers import tiny_qwen3_sentence_transformer
from typer.testing import CliRunner

from manifold_core.encoders import (
    BGE_EN_QUERY_PROMPT,
    BGE_ZH_QUERY_PROMPT,
    DEFAULT_QWEN3_TASK,
    SentenceTransformerEncoder,
    model_prompts,
    qwen3_query_prompt,
    resolve_encoder,
)

MINILM = "pkg:all-MiniLM-L6-v2"
QUERY = "How quiet is the new BMW X1 on the highway?"
QWEN3 = qwen3_query_prompt()
E5_INSTRUCT = f"Instruct: {DEFAULT_QWEN3_TASK}\nQuery: "
NAMES = ["Qwen/Qwen3-Embedding-0.6B", MINILM, "intfloat/e5-base-v2"]


@pytest.mark.parametrize(
    ("name", "query", "document"),
    [
        ("Qwen/Qwen3-Embedding-0.6B", QWEN3, None),
        ("/models/qwen3-embedding-8b", QWEN3, None),
        (MINILM, None, None),
        ("sentence-transformers/all-MiniLM-L6-v2", None, None),
        ("sentence-transformers/all-mpnet-base-v2", None, None),
        ("pkg:multilingual-use", None, None),
        ("intfloat/multilingual-e5-small", "query: ", "passage: "),
        ("pkg:multilingual-e5-small", "query: ", "passage: "),
        ("intfloat/e5-base-v2", "query: ", "passage: "),
        ("intfloat/multilingual-e5-large-instruct", E5_INSTRUCT, None),
        ("BAAI/bge-small-en-v1.5", BGE_EN_QUERY_PROMPT, None),
        ("BAAI/bge-large-zh-v1.5", BGE_ZH_QUERY_PROMPT, None),
        ("BAAI/bge-m3", None, None),
        # a parent folder's name says nothing about the model in it
        ("/home/me/e5/qwen3-embedding/runs/minilm-finetuned", None, None),
        ("Qwen/Qwen3-Reranker-0.6B", None, None),
    ],
)
def test_prompts_by_model_name(name: str, query: str | None, document: str | None) -> None:
    got = model_prompts([name])
    assert (got.query, got.document) == (query, document)


def test_a_qwen3_folder_is_known_by_its_config_and_the_task_is_used() -> None:
    got = model_prompts(["/srv/models/my-embedder"], model_type="qwen3", task="Find code")
    assert got.query == "Instruct: Find code\nQuery:" and got.rule == "qwen3"


def test_prompts_configured_in_the_folder_apply_to_unknown_models() -> None:
    got = model_prompts(["/srv/models/x"], configured={"query": "Q: ", "document": ""})
    assert (got.query, got.document, got.rule) == ("Q: ", None, "configured")
    # sentence-transformers 6 writes empty prompts by default: they mean none
    assert model_prompts(["/srv/x"], configured={"query": "", "document": ""}).rule == "none"


@settings(max_examples=50, deadline=None)
@given(prompt=st.text(min_size=1, max_size=40), name=st.sampled_from(NAMES))
def test_an_explicit_query_prompt_always_wins(prompt: str, name: str, minilm_model: Any) -> None:
    encoder = SentenceTransformerEncoder(minilm_model, query_prompt=prompt)
    encoder.model_name = name
    assert encoder.query_prompt == prompt
    auto = SentenceTransformerEncoder(minilm_model)
    auto.model_name = name
    folder_name = str(minilm_model[0].auto_model.config._name_or_path)
    assert auto.query_prompt == model_prompts([name, folder_name]).query


# ------------------------------------------------------------------ every entry point


@pytest.fixture(scope="module")
def qwen3_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A saved tiny Qwen3 embedding folder whose name does not say "qwen3"."""
    root = Path(tmp_path_factory.mktemp("prompt-models"))
    model = tiny_qwen3_sentence_transformer(root / "raw")
    folder = root / "my-embedder"
    model.save(str(folder))
    return str(folder)


def _entry_points(model: str) -> dict[str, Any]:
    """The query encoders every public entry point builds for one model name."""
    from langchain_manifold import Qwen3Embeddings
    from llamaindex_manifold import Qwen3Embedding
    from manifold_core.cli._common import load_encoder

    langchain = Qwen3Embeddings(model, device="cpu")
    llamaindex = Qwen3Embedding(model, device="cpu")
    return {
        "core": resolve_encoder(model).encode_queries,
        "cli": load_encoder(model).encode_queries,
        "langchain": lambda texts: np.array([langchain.embed_query(t) for t in texts]),
        "llamaindex": lambda texts: np.array([llamaindex.get_query_embedding(t) for t in texts]),
    }


def _bare_and_prompted(folder: str, prompt: str) -> tuple[np.ndarray, np.ndarray]:
    from sentence_transformers import SentenceTransformer

    st_model = SentenceTransformer(folder, device="cpu")
    bare = st_model.encode([QUERY], normalize_embeddings=True)
    prompted = st_model.encode([prompt + QUERY], normalize_embeddings=True)
    return bare, prompted


def test_minilm_queries_are_bare_through_every_entry_point(minilm_path: str) -> None:
    bare, prompted = _bare_and_prompted(minilm_path, QWEN3)
    assert float(bare[0] @ prompted[0]) < 0.9  # the instruction would change the vector
    for where, encode in _entry_points(MINILM).items():
        got = np.asarray(encode([QUERY]), dtype=np.float32)
        np.testing.assert_allclose(got, bare, atol=1e-5, err_msg=where)


def test_a_qwen3_folder_gets_the_instruction_through_every_entry_point(qwen3_folder: str) -> None:
    bare, prompted = _bare_and_prompted(qwen3_folder, QWEN3)
    assert not np.allclose(bare, prompted, atol=1e-3)
    for where, encode in _entry_points(qwen3_folder).items():
        got = np.asarray(encode([QUERY]), dtype=np.float32)
        np.testing.assert_allclose(got, prompted, atol=1e-5, err_msg=where)


def test_the_cli_query_embeds_minilm_queries_bare(tmp_path: Path, minilm_path: str) -> None:
    """`manifold query` end to end: its dense score is the cosine of the bare query."""
    from manifold_core.cli import app

    docs = tmp_path / "docs"
    docs.mkdir()
    text = "The new BMW X1 stays quiet at 120 km/h; wind and tyre noise are low."
    (docs / "car.txt").write_text(text + "\n", encoding="utf-8")
    env = {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    runner = CliRunner()
    index = tmp_path / "index"
    built = runner.invoke(
        app, ["ingest", str(docs), "--index", str(index), "--model", MINILM], env=env
    )
    assert built.exit_code == 0, built.output
    res = runner.invoke(app, ["query", QUERY, "--index", str(index), "--json"], env=env)
    assert res.exit_code == 0, res.output
    hit = json.loads(res.stdout)[0]
    from sentence_transformers import SentenceTransformer

    st_model = SentenceTransformer(minilm_path, device="cpu")
    doc = st_model.encode([hit["text"]], normalize_embeddings=True)[0]
    bare, prompted = _bare_and_prompted(minilm_path, QWEN3)
    assert hit["scores"]["dense"] == pytest.approx(float(doc @ bare[0]), abs=1e-4)
    assert abs(float(doc @ prompted[0]) - float(doc @ bare[0])) > 1e-3
