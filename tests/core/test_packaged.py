"""Packaged models (``pkg:NAME``) load the real weights, and load failures are one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from manifold_core import packaged
from manifold_core.encoders import instructed_encoder, resolve_encoder
from manifold_core.packaged import ModelLoadError, PackagedModel


def test_minilm_name_gives_the_packaged_weights(minilm_model: Any) -> None:
    encoder = resolve_encoder("pkg:all-MiniLM-L6-v2")
    texts = ["The car costs thirty thousand.", "Photosynthesis needs light."]
    expected = minilm_model.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(encoder.encode_documents(texts), expected, atol=1e-5)
    assert encoder.model_name == "pkg:all-MiniLM-L6-v2"  # type: ignore[attr-defined]


def test_names_are_case_insensitive() -> None:
    assert packaged.packaged_model("pkg:ALL-minilm-l6-v2").name == "all-MiniLM-L6-v2"


def test_multilingual_use_separates_chinese_topics() -> None:
    encoder = resolve_encoder("pkg:multilingual-use")
    vecs = encoder.encode_documents(["宝马X1的价格是多少", "宝马X1多少钱", "今天的天气很好"])
    assert vecs.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    # the Qwen3 adapters' encoder accepts it too (USE takes no instruction)
    assert instructed_encoder("pkg:multilingual-use").encode_queries(["你好"]).shape == (1, 512)


def test_cross_encoder_name_builds_a_real_reranker_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from manifold_core.reranking import CrossEncoderReranker

    monkeypatch.setenv("MANIFOLD_CACHE_DIR", str(tmp_path))
    folder = packaged.packaged_folder("pkg:ms-marco-MiniLM-L-12-v2")
    assert Path(folder).parent == tmp_path / "models"
    assert (Path(folder) / "config.json").exists()
    assert packaged.packaged_folder("pkg:ms-marco-MiniLM-L-12-v2") == folder  # cached
    reranker = CrossEncoderReranker("pkg:ms-marco-MiniLM-L-12-v2", max_length=128)
    scores = reranker.score(
        "how much does the BMW X1 cost",
        ["The BMW X1 costs about 300,000 yuan.", "Tomatoes grow best in full sun."],
    )
    assert scores[0] > 0.5 > scores[1]


def test_cache_dir_defaults_to_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MANIFOLD_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert packaged.cache_dir() == Path("/somewhere/manifold-rag")


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: resolve_encoder("pkg:nope"), "choose one of: pkg:all-MiniLM-L6-v2"),
        (lambda: resolve_encoder("pkg:ms-marco-MiniLM-L-12-v2"), "no packaged embedding model"),
        (lambda: resolve_encoder("Qwen/Qwen3-Embedding-0.6B"), "Hub is unreachable"),
        (lambda: resolve_encoder("./no/such/folder"), "does not exist"),
    ],
)
def test_load_failures_are_one_line(call: Any, needle: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        call()
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_rerankers_refuse_unloadable_names() -> None:
    from manifold_core.reranking import CrossEncoderReranker, Qwen3Reranker

    with pytest.raises(ModelLoadError, match="no Qwen3-Reranker ships in a pip package"):
        Qwen3Reranker("pkg:ms-marco-MiniLM-L-12-v2")
    with pytest.raises(ModelLoadError, match="no packaged reranker model"):
        CrossEncoderReranker("pkg:all-MiniLM-L6-v2")
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE"):
        Qwen3Reranker("Qwen/Qwen3-Reranker-0.6B")


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = PackagedModel(
        "ghost", "embedding", "ghost-model-pkg", "no_such_module_xyz", "en", 8, ""
    )
    monkeypatch.setitem(packaged.PACKAGED_MODELS, "ghost", ghost)
    with pytest.raises(ModelLoadError, match=r"pip install ghost-model-pkg"):
        resolve_encoder("pkg:ghost")


def test_langchain_and_llamaindex_adapters_take_packaged_names() -> None:
    from langchain_manifold import Qwen3Embeddings
    from llamaindex_manifold import Qwen3Embedding

    lc = Qwen3Embeddings("pkg:all-MiniLM-L6-v2")
    li = Qwen3Embedding("pkg:all-MiniLM-L6-v2")
    assert len(lc.embed_query("hello")) == 384
    np.testing.assert_allclose(
        lc.embed_documents(["a cat"])[0], li.get_text_embedding("a cat"), atol=1e-5
    )


def test_resolve_reranker_picks_the_kind_from_the_name() -> None:
    from manifold_core.reranking import CrossEncoderReranker, resolve_reranker

    reranker = resolve_reranker("pkg:ms-marco-MiniLM-L-12-v2")
    assert isinstance(reranker, CrossEncoderReranker)
    assert resolve_reranker(reranker) is reranker
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE"):
        resolve_reranker("Qwen/Qwen3-Reranker-0.6B")  # the Qwen3 path, which needs the Hub


def test_every_packaged_model_is_a_folder_or_an_engine_of_its_own() -> None:
    """The registry and the encoders agree: each name is loaded exactly one way."""
    from manifold_core import model_registry, packaged_encoders

    for key, model in packaged.PACKAGED_MODELS.items():
        own = packaged_encoders.builds_own_encoder(model.spec)
        assert own != (key in model_registry._FOLDERS), model.spec
        assert not own or model.kind == "embedding"
        shouted = "pkg:" + model.name.upper()  # names are case-insensitive
        assert packaged_encoders.builds_own_encoder(shouted) == own
    assert not packaged_encoders.builds_own_encoder("multilingual-use")  # no pkg: prefix


def test_old_import_paths_give_the_same_objects() -> None:
    from manifold_core import encoders, errors, model_registry, packaged_encoders, st_encoder

    assert packaged.ModelLoadError is errors.ModelLoadError
    assert packaged.PACKAGED_MODELS is model_registry.PACKAGED_MODELS  # monkeypatching works
    assert packaged.E5Encoder is packaged_encoders.E5Encoder
    assert encoders.SentenceTransformerEncoder is st_encoder.SentenceTransformerEncoder
