"""The index manifest, ``DIR/manifold-index.json``: what an index was built with.

It records the tool, the format, the embedding model and its dimension, the collection,
the chunker settings and a SHA-256 per ingested file. Queries and later ingests take the
model from it (:func:`resolve_model_spec`), and an index built with another model, or a
directory that is not ours, is refused before anything is loaded (:func:`check_index_dir`,
:func:`open_index`). Messages name the function's parameters; the CLI words them as flags.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from manifold_core.encoders import resolve_encoder
from manifold_core.fusion_tuning import FusionSetting
from manifold_core.packaged import check_model_name, is_packaged, load_error, packaged_model
from manifold_core.store import HybridStore

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "TOOL_NAME",
    "IndexManifest",
    "check_index_dir",
    "now",
    "open_index",
    "precheck_model",
    "read_manifest",
    "resolve_model_spec",
    "write_manifest",
]

TOOL_NAME = "manifold-rag"
MANIFEST_NAME = "manifold-index.json"
MANIFEST_FORMAT = 1


def now() -> str:
    """The current UTC time, ISO 8601 to the second (the manifest's timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class IndexManifest:
    """``DIR/manifold-index.json``: what an index was built with.

    Attributes:
        embedding_model: the model spec (Hub name, absolute folder or ``pkg:`` name).
        dimension: embedding dimension stored in the collection.
        collection: the Chroma collection name.
        lexical_variant: the BM25 variant of the lexical index.
        chunker: the :class:`~manifold_core.ingest.settings.ChunkerSettings` of the last
            ingest, as a dict.
        lexical_language: the stemmer of the BM25 tokenizer (``None``: no stemming, as
            in indexes made before stemming existed).
        fusion: the fusion setting ``manifold tune`` chose on judgements (``setting``:
            a :class:`~manifold_core.fusion_tuning.FusionSetting` as a dict, plus its
            cross-validated ``cv_ndcg@10`` and what it was tuned on); ``None`` (indexes
            never tuned, or made before tuning existed): the retriever's defaults.
            Kept by later ingests.
        files: per ingested file (absolute POSIX path): ``sha256``, ``size``, ``kind``
            and ``chunks``; what makes re-ingesting an unchanged file free.
        created: ISO 8601 UTC time of the first ingest.
        updated: ISO 8601 UTC time of the last ingest.
        tool: always :data:`TOOL_NAME`.
        format: the manifest format (:data:`MANIFEST_FORMAT`).
    """

    embedding_model: str
    dimension: int
    collection: str = "manifold"
    lexical_variant: str = "lucene"
    chunker: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    lexical_language: str | None = None
    fusion: dict[str, Any] | None = None
    created: str = ""
    updated: str = ""
    tool: str = TOOL_NAME
    format: int = MANIFEST_FORMAT

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = MANIFEST_NAME) -> IndexManifest:
        """Parse and validate; ``ValueError`` naming ``where`` for anything off."""
        if not isinstance(data, dict) or data.get("tool") != TOOL_NAME:
            raise ValueError(f"{where} was not written by {TOOL_NAME}")
        fmt = data.get("format")
        if not isinstance(fmt, int) or fmt > MANIFEST_FORMAT:
            raise ValueError(
                f"{where} has format {fmt!r}; this version reads format {MANIFEST_FORMAT} "
                "(upgrade manifold-rag)"
            )
        model, dim = data.get("embedding_model"), data.get("dimension")
        if not isinstance(model, str) or not model:
            raise ValueError(f"{where}: 'embedding_model' must be a non-empty string")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"{where}: 'dimension' must be a positive integer, got {dim!r}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            manifest = cls(**known)
        except TypeError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if not isinstance(manifest.collection, str) or not isinstance(manifest.chunker, dict):
            raise ValueError(f"{where}: 'collection' must be a string, 'chunker' an object")
        if not isinstance(manifest.files, dict):
            raise ValueError(f"{where}: 'files' must be an object")
        if manifest.fusion is not None:
            try:
                manifest.fusion_setting()
            except ValueError as exc:
                raise ValueError(f"{where}: 'fusion': {exc}") from None
        return manifest

    def fusion_setting(self) -> FusionSetting | None:
        """The tuned :class:`~manifold_core.fusion_tuning.FusionSetting`, ``None`` if untuned."""
        if self.fusion is None:
            return None
        if not isinstance(self.fusion, dict) or "setting" not in self.fusion:
            raise ValueError("must be an object with a 'setting'")
        return FusionSetting.from_dict(self.fusion["setting"])

    def retriever_kwargs(self) -> dict[str, Any]:
        """``HybridRetriever`` keyword arguments of the tuned setting (``{}`` if untuned)."""
        setting = self.fusion_setting()
        return setting.retriever_kwargs() if setting is not None else {}


def read_manifest(index_dir: str | os.PathLike[str]) -> IndexManifest | None:
    """The manifest of ``index_dir``, ``None`` if it has none.

    Raises:
        ValueError: the file is not valid JSON or not a manifold-rag manifest.
    """
    path = Path(index_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is unreadable ({exc}); it is not a manifold index") from None
    return IndexManifest.from_dict(data, str(path))


def check_index_dir(index_dir: str | os.PathLike[str], *, must_exist: bool) -> IndexManifest | None:
    """Check that ``index_dir`` is ours (or new) and return its manifest.

    ``None`` means a new index: the directory is missing or empty. Querying needs an
    existing index (``must_exist=True``).

    Raises:
        FileNotFoundError: ``must_exist`` and there is no index there.
        ValueError: the path is a file, or a non-empty directory without our manifest
            (another tool's data, which an ingest must not write into).
    """
    path = Path(index_dir)
    hint = "ingest files into it first"
    if not path.exists():
        if must_exist:
            raise FileNotFoundError(f"no index at {str(index_dir)!r}; {hint}")
        return None
    if not path.is_dir():
        raise ValueError(f"index_dir {str(index_dir)!r} is a file, not an index directory")
    manifest = read_manifest(path)
    if manifest is not None:
        return manifest
    if any(path.iterdir()):
        raise ValueError(
            f"{str(index_dir)!r} is not empty and has no {MANIFEST_NAME}: it is not a manifold "
            "index (another tool's data?); choose a new or empty directory"
        )
    if must_exist:
        raise FileNotFoundError(f"{str(index_dir)!r} is an empty directory; {hint}")
    return None


def write_manifest(index_dir: str | os.PathLike[str], manifest: IndexManifest) -> Path:
    """Write the manifest atomically (temporary file, fsync, rename) and return its path."""
    path = Path(index_dir) / MANIFEST_NAME
    tmp = path.with_name(f".{MANIFEST_NAME}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest.to_dict(), fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def _normalize_spec(spec: str) -> str:
    """A local model folder becomes absolute, so the index works from any directory."""
    if not is_packaged(spec) and os.path.isdir(os.path.expanduser(spec)):
        return Path(spec).expanduser().resolve().as_posix()
    return spec


def resolve_model_spec(
    model: str | None, manifest: IndexManifest | None, default: str, index_dir: str = "DIR"
) -> str:
    """The embedding model to use: ``model``, else the manifest's, else ``default``.

    Raises:
        ValueError: ``model`` is blank, or differs from the model the index was built with
            (its vectors would be compared with vectors of another space).
    """
    if model is not None and not model.strip():
        raise ValueError("model must not be empty")
    if manifest is None:
        return _normalize_spec(model or default)
    if model is None:
        return manifest.embedding_model
    spec = _normalize_spec(model)
    if spec != manifest.embedding_model:
        raise ValueError(
            f"index {index_dir!r} was built with {manifest.embedding_model!r} (dimension "
            f"{manifest.dimension}), not {spec!r}; leave model unset to use the index's "
            "model, or choose another index_dir"
        )
    return spec


def precheck_model(spec: str) -> None:
    """Fail fast on a model that cannot load, without loading it (no torch import).

    A ``pkg:`` name must be known and its package installed; a path must exist; a Hub
    name, when the Hub is switched off (``HF_HUB_OFFLINE``), must be in the local cache.
    Anything else is left to the real load.

    Raises:
        ModelLoadError: the one-line reason (see :func:`manifold_core.packaged.load_error`).
    """
    if is_packaged(spec):
        packaged_model(spec)
        return
    check_model_name(spec)
    if os.path.isdir(os.path.expanduser(spec)):
        return
    if os.environ.get("HF_HUB_OFFLINE", "") in ("", "0"):
        return
    from huggingface_hub import try_to_load_from_cache

    try:
        hit = try_to_load_from_cache(spec, "config.json")
    except Exception as exc:  # a malformed repo id
        raise load_error(spec, exc) from None
    if not isinstance(hit, str):
        raise load_error(spec, FileNotFoundError(f"{spec} is not in the cache"))


def open_index(
    index_dir: str | os.PathLike[str],
    *,
    model: str | None = None,
    default_model: str = "",
    load_encoder: Callable[[str], Any] | None = None,
) -> tuple[HybridStore, IndexManifest]:
    """Open an existing index for searching, with the embedding model it was built with.

    ``model`` may be given only to confirm it (a different one is refused, see
    :func:`resolve_model_spec`). The index directory is checked before the model loads.
    The manifest's tuned fusion setting, if any, is :meth:`IndexManifest.retriever_kwargs`.

    Raises:
        FileNotFoundError: there is no index at ``index_dir``.
        ValueError: not a manifold index, or a model mismatch.
    """
    manifest = check_index_dir(index_dir, must_exist=True)
    assert manifest is not None  # must_exist
    spec = resolve_model_spec(model, manifest, default_model, str(index_dir))
    encoder = (load_encoder or resolve_encoder)(spec)
    store = HybridStore(
        encoder,
        path=Path(index_dir).expanduser(),
        collection_name=manifest.collection,
        lexical_variant=manifest.lexical_variant,  # type: ignore[arg-type]
    )
    if not store.exists():
        raise ValueError(
            f"index {str(index_dir)!r} names the collection {manifest.collection!r}, which "
            "its Chroma data does not hold; ingest its files again to rebuild it"
        )
    return store, manifest
