"""LangChain Qwen3Embeddings: the instruction goes on queries only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from rerank_helpers import tiny_qwen3_sentence_transformer

from langchain_manifold import Qwen3Embeddings
from manifold_core.encoders import SentenceTransformerEncoder, qwen3_query_prompt

QUERY = "How quiet is the new BMW X1 on the highway?"
DOCS = ["The cabin stays quiet above 120 km/h.", "It uses about 7 litres per 100 km."]


@pytest.fixture(scope="module")
def st_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tiny_qwen3_sentence_transformer(Path(tmp_path_factory.mktemp("tiny-qwen3-emb")))


def test_query_gets_the_qwen3_instruction_documents_do_not(st_model: Any) -> None:
    emb = Qwen3Embeddings(st_model)
    prompt = qwen3_query_prompt()
    assert prompt == (
        "Instruct: Given a web search query, retrieve relevant passages that answer the "
        "query\nQuery:"
    )
    q = np.array(emb.embed_query(QUERY))
    assert np.allclose(q, st_model.encode(prompt + QUERY, normalize_embeddings=True), atol=1e-5)
    assert not np.allclose(q, st_model.encode(QUERY, normalize_embeddings=True), atol=1e-3)
    d = np.array(emb.embed_documents(DOCS))
    assert np.allclose(d, st_model.encode(DOCS, normalize_embeddings=True), atol=1e-5)
    assert d.shape == (2, 64) and np.allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-5)


def test_custom_task_and_no_prompt(st_model: Any) -> None:
    task = "Given a question, retrieve passages that answer it"
    q = np.array(Qwen3Embeddings(st_model, task=task).embed_query(QUERY))
    expected = st_model.encode(qwen3_query_prompt(task) + QUERY, normalize_embeddings=True)
    assert np.allclose(q, expected, atol=1e-5)
    bare = np.array(Qwen3Embeddings(st_model, query_prompt="").embed_query(QUERY))
    assert np.allclose(bare, st_model.encode(QUERY, normalize_embeddings=True), atol=1e-5)


def test_dimension_truncates_and_renormalises(st_model: Any) -> None:
    d = np.array(Qwen3Embeddings(st_model, dimension=16).embed_documents(DOCS))
    assert d.shape == (2, 16) and np.allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-5)


def test_accepts_a_folder_and_a_core_encoder(st_model: Any, tmp_path: Path) -> None:
    st_model.save(str(tmp_path))
    from_folder = Qwen3Embeddings(str(tmp_path), device="cpu")
    assert from_folder.model_name == str(tmp_path)
    assert np.allclose(
        from_folder.embed_query(QUERY), Qwen3Embeddings(st_model).embed_query(QUERY), atol=1e-5
    )
    encoder = SentenceTransformerEncoder(st_model, query_prompt=None)
    wrapped = Qwen3Embeddings(encoder)
    assert wrapped.encoder is encoder
    assert np.allclose(
        wrapped.embed_query(QUERY), st_model.encode(QUERY, normalize_embeddings=True), atol=1e-5
    )


def test_default_model_name_is_qwen3_embedding() -> None:
    assert Qwen3Embeddings.model_fields["model_name"].default == "Qwen/Qwen3-Embedding-0.6B"


async def test_async_matches_sync(st_model: Any) -> None:
    emb = Qwen3Embeddings(st_model)
    assert np.allclose(await emb.aembed_query(QUERY), emb.embed_query(QUERY))
    assert np.allclose(await emb.aembed_documents(DOCS), emb.embed_documents(DOCS))


_TINY_FOLDER: list[str] = []


def _tiny_folder() -> str:
    """A saved tiny Qwen3 SentenceTransformer folder, built once per run."""
    if not _TINY_FOLDER:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="tiny-qwen3-st-"))
        tiny_qwen3_sentence_transformer(folder / "raw").save(str(folder / "st"))
        _TINY_FOLDER.append(str(folder / "st"))
    return _TINY_FOLDER[0]


class TestQwen3EmbeddingsStandard(EmbeddingsIntegrationTests):
    """LangChain's own Embeddings test suite, with the tiny Qwen3 from a local folder."""

    @property
    def embeddings_class(self) -> type[Qwen3Embeddings]:
        return Qwen3Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": _tiny_folder(), "device": "cpu"}
