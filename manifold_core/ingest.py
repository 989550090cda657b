"""Ingest files into a persisted :class:`~manifold_core.store.HybridStore`.

What the ``manifold ingest`` command does, as a library (no CLI framework here):

- **Sources** (:func:`find_files`, :func:`read_file`, :func:`read_sources`): ``.txt`` and
  ``.md`` files are one document each; ``.jsonl`` (optionally ``.gz``) files hold one
  document per line, ``{"text": ..., "metadata": {...}}``, or BEIR's ``corpus.jsonl``
  (``_id``, ``title``, ``text``). Directories are walked recursively (hidden entries
  skipped). Every error names the file and, for JSONL, the line.
- **Ids** (:func:`chunk_id`): derived from the source path, the document's key inside the
  file and the chunk position, so ingesting the same file again *replaces* its chunks
  instead of adding copies.
- **Manifest** (:class:`IndexManifest`): ``DIR/manifold-index.json`` records the tool, the
  format, the embedding model and its dimension, the collection and the chunker settings.
  Queries and later ingests take the model from it, and an index built with another
  model (or a directory that is not ours) is refused before anything is loaded.
- **Write plan** (:class:`WritePlan`): everything is read, split, validated and embedded
  first; only then are the new chunks upserted and the chunks of the same sources that no
  longer exist deleted. A failing ingest writes nothing into an existing index, never
  creates the index directory, and the manifest is written last, so it never points to a
  half-built index.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from manifold_core.chunking import Chunk, SemanticChunker
    from manifold_core.encoders import Encoder, Tokenizer
    from manifold_core.store import HybridStore

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "RESERVED_KEYS",
    "SUPPORTED_SUFFIXES",
    "TOOL_NAME",
    "ChunkRecord",
    "ChunkerSettings",
    "IndexManifest",
    "IngestProgress",
    "IngestReport",
    "SourceDocument",
    "apply_write",
    "check_index_dir",
    "chunk_documents",
    "chunk_id",
    "embed_texts",
    "find_files",
    "open_index",
    "plan_write",
    "read_file",
    "read_manifest",
    "read_sources",
    "resolve_model_spec",
    "run_ingest",
    "write_manifest",
]

TOOL_NAME = "manifold-rag"
MANIFEST_NAME = "manifold-index.json"
MANIFEST_FORMAT = 1
SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".markdown", ".jsonl", ".jsonl.gz")
# Metadata keys the ingest sets itself; a JSONL record may not bring its own.
RESERVED_KEYS: tuple[str, ...] = ("source", "file_name", "doc_id", "line", "chunk_index")
# Offsets are set too but may be overridden by nothing else either.
_OFFSET_KEYS = ("start", "end")
# Top-level JSONL keys that are not copied into metadata.
_JSONL_SPECIAL = ("text", "metadata", "_id", "id")
# Sources per $in filter when looking up the chunks an index already holds.
_SOURCES_PER_LOOKUP = 500
_INT64 = 2**63


# ------------------------------------------------------------------------ sources


@dataclass(frozen=True)
class SourceDocument:
    """One document read from a file.

    Attributes:
        text: the text to index (for a record with a ``title``: title, blank line, text).
        source: the file, as an absolute POSIX path: the key replacement works by.
        key: the document inside its file: ``""`` for a whole file, the JSONL ``_id``/``id``
            (as str), else ``"line:N"``.
        metadata: ``source`` and ``file_name``, plus for JSONL ``line`` and (when the record
            has one) ``doc_id``, then the record's ``metadata`` dict and scalar fields.
    """

    text: str
    source: str
    key: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The supported files among ``paths``, directories walked recursively, each once.

    Hidden files and directories (``.git``, ``.venv``) are skipped inside a directory; a
    file named explicitly must have a supported suffix. Files are returned in the order
    given, a directory's files sorted by path.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a file named explicitly has an unsupported suffix.
    """
    out: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"no such file or directory: {str(raw)!r}")
        if path.is_dir():
            found: list[Path] = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(
                    Path(root) / f
                    for f in files
                    if not f.startswith(".") and _suffix(Path(f)) is not None
                )
            for f in sorted(found):
                out.setdefault(f.resolve(), None)
        else:
            if _suffix(path) is None:
                raise ValueError(
                    f"{str(raw)!r} is not a supported file; ingest reads "
                    f"{', '.join(SUPPORTED_SUFFIXES)} files (and directories of them)"
                )
            out.setdefault(path.resolve(), None)
    return list(out)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a valid gzip file ({exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "convert it to UTF-8 first"
        ) from None


def _check_value(value: Any, where: str) -> Any:
    """A metadata value the store accepts (scalar, or a list of one scalar type), else raise."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is not finite: {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        raise ValueError(f"{where} = {value} does not fit in 64 bits; store it as a string")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, list):
        for v in value:
            if not isinstance(v, (str, int, float, bool)):
                raise ValueError(
                    f"{where} must be a list of str, int, float or bool, got {value!r}"
                )
            _check_value(v, where)
        if len({bool if isinstance(v, bool) else type(v) for v in value}) > 1:
            raise ValueError(f"{where} mixes value types ({value!r}); use one type per list")
        return value
    raise ValueError(
        f"{where} is a {type(value).__name__}; metadata values must be str, int, float, bool "
        "or a list of one of them"
    )


def _check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not key or key.startswith("#"):
        raise ValueError(f"{where}: metadata key {key!r} must be a non-empty str not starting '#'")
    if key in RESERVED_KEYS or key in _OFFSET_KEYS:
        raise ValueError(
            f"{where}: metadata key {key!r} is reserved (ingest sets "
            f"{', '.join(RESERVED_KEYS + _OFFSET_KEYS)}); rename it"
        )
    return key


def _file_metadata(path: Path) -> dict[str, Any]:
    return {"source": path.as_posix(), "file_name": path.name}


def _jsonl_documents(path: Path, text: str) -> Iterator[SourceDocument]:
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
        if "text" not in record:
            raise ValueError(f"{where}: the record has no 'text' field")
        body = record["text"]
        if not isinstance(body, str):
            raise ValueError(f"{where}: 'text' must be a string, got {type(body).__name__}")
        meta = _file_metadata(path)
        meta["line"] = number
        doc_key = f"line:{number}"
        raw_id = record.get("_id", record.get("id"))
        if raw_id is not None:
            if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
                raise ValueError(f"{where}: '_id'/'id' must be a string or an integer")
            doc_key = str(raw_id)
            if doc_key in seen:
                raise ValueError(
                    f"{where}: id {doc_key!r} was already used on line {seen[doc_key]}; "
                    "ids must be unique within a file"
                )
            seen[doc_key] = number
            meta["doc_id"] = doc_key
        extra = record.get("metadata")
        if extra is not None and not isinstance(extra, dict):
            raise ValueError(f"{where}: 'metadata' must be an object, got {type(extra).__name__}")
        user: dict[str, Any] = {}
        for key, value in record.items():
            if key in _JSONL_SPECIAL or not isinstance(value, (str, int, float, bool)):
                continue  # lists and objects at top level: put them in "metadata"
            user[_check_key(key, where)] = _check_value(value, f"{where}: field {key!r}")
        for key, value in (extra or {}).items():
            user[_check_key(key, where)] = _check_value(value, f"{where}: metadata[{key!r}]")
        meta.update({k: v for k, v in user.items() if v is not None and v != []})
        title = record.get("title")
        if isinstance(title, str) and title.strip():
            body = f"{title.strip()}\n\n{body}" if body.strip() else title.strip()
        yield SourceDocument(body, path.as_posix(), doc_key, meta)


def read_file(path: str | os.PathLike[str]) -> list[SourceDocument]:
    """The documents of one file (see :class:`SourceDocument`).

    A JSONL record needs a string ``text``; its ``_id`` or ``id`` (unique in the file) keys
    the document, else its line number does. Scalar top-level fields and the ``metadata``
    object become metadata (lists and objects only inside ``metadata``). A ``title`` is
    put in front of the text (the BEIR convention) and also kept as metadata.

    Raises:
        FileNotFoundError: no such file.
        ValueError: undecodable text, bad JSON, a record without ``text``, a metadata
            value Chroma cannot store, a reserved key; the message names file and line.
    """
    p = Path(path).expanduser().resolve()
    suffix = _suffix(p)
    if suffix is None:
        raise ValueError(f"{p}: unsupported file type; expected one of {SUPPORTED_SUFFIXES}")
    text = _read_text(p)
    if suffix.startswith(".jsonl"):
        return list(_jsonl_documents(p, text))
    return [SourceDocument(text, p.as_posix(), "", _file_metadata(p))]


def read_sources(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Path], list[SourceDocument]]:
    """Every supported file under ``paths`` and their documents, in order."""
    files = find_files(paths)
    docs: list[SourceDocument] = []
    for f in files:
        docs.extend(read_file(f))
    return files, docs


# ---------------------------------------------------------------------------- ids


def chunk_id(source: str, key: str, index: int) -> str:
    """The id of chunk ``index`` of document ``key`` in ``source``.

    Deterministic (the same file, document and position always give the same id, so
    re-ingesting replaces) and collision-free in practice: a 128-bit BLAKE2 digest of the
    JSON-encoded ``(source, key)`` pair, which no two distinct pairs share an encoding of,
    followed by the chunk index.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"chunk index must be an int >= 0, got {index!r}")
    digest = hashlib.blake2b(
        json.dumps([source, key], ensure_ascii=False).encode("utf-8"), digest_size=16
    ).hexdigest()
    return f"{digest}-{index}"


# ------------------------------------------------------------------------- chunking


@dataclass(frozen=True)
class ChunkerSettings:
    """How documents are split; recorded in the manifest and reused by later ingests.

    ``kind="none"`` keeps every document whole (one chunk each; the embedding model
    truncates what exceeds its input limit). ``threshold=None`` and ``max_tokens=None``
    mean the chunker's defaults (the rule's default threshold; the model's input limit).
    """

    kind: str = "semantic"
    breakpoint_rule: str = "percentile"
    threshold: float | None = None
    buffer_size: int = 0
    min_tokens: int = 0
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("semantic", "none"):
            raise ValueError(f"chunker must be 'semantic' or 'none', got {self.kind!r}")
        from manifold_core.chunking import BREAKPOINT_RULES

        if self.breakpoint_rule not in BREAKPOINT_RULES:
            raise ValueError(
                f"breakpoint rule must be one of {', '.join(BREAKPOINT_RULES)}; "
                f"got {self.breakpoint_rule!r}"
            )

    @classmethod
    def merged(cls, previous: Mapping[str, Any] | None, **given: Any) -> ChunkerSettings:
        """Settings ``given`` (``None`` values skipped) over ``previous`` over defaults.

        Changing the rule without a threshold drops the previous rule's threshold.
        """
        base = {k: v for k, v in (previous or {}).items() if k in cls.__dataclass_fields__}
        chosen = {k: v for k, v in given.items() if v is not None}
        unknown = set(chosen) - set(cls.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown chunker settings: {sorted(unknown)}")
        rule = chosen.get("breakpoint_rule")
        if rule is not None and rule != base.get("breakpoint_rule") and "threshold" not in chosen:
            base.pop("threshold", None)
        return cls(**{**base, **chosen})

    def validate(self) -> None:
        """Check the values now, before a model is loaded (``ValueError`` naming the bad one).

        The chunker's own checks run against a stand-in encoder; the model's input limit
        is checked again when :meth:`build` gets the real one.
        """
        if self.kind == "none":
            return
        from manifold_core.encoders import CallableEncoder

        stub = CallableEncoder(lambda texts: np.zeros((len(texts), 1), dtype=np.float32))
        limit = self.max_tokens if self.max_tokens is not None else max(self.min_tokens, 1)
        replace(self, max_tokens=limit).build(stub)

    def build(self, encoder: Any, batch_size: int = 1024) -> SemanticChunker | None:
        """The chunker (``None`` for ``kind="none"``); raises ``ValueError`` on bad values."""
        if self.kind == "none":
            return None
        from manifold_core.chunking import SemanticChunker

        return SemanticChunker(
            encoder,
            breakpoint_rule=self.breakpoint_rule,  # type: ignore[arg-type]
            threshold=self.threshold,
            buffer_size=self.buffer_size,
            min_tokens=self.min_tokens,
            max_tokens=self.max_tokens,
            batch_size=batch_size,
        )

    def effective(self, chunker: SemanticChunker | None) -> ChunkerSettings:
        """These settings with the defaults the chunker resolved filled in."""
        if chunker is None:
            return ChunkerSettings(kind="none")
        return ChunkerSettings(
            "semantic",
            chunker.breakpoint_rule,
            chunker.threshold,
            chunker.buffer_size,
            chunker.min_tokens,
            chunker.max_tokens,
        )


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk ready to store: id, text, metadata (document's plus position) and tokens."""

    id: str
    text: str
    metadata: dict[str, Any]
    token_count: int


def _doc_batches(docs: Sequence[SourceDocument], max_chars: int, max_docs: int) -> Iterator[range]:
    start, chars = 0, 0
    for i, doc in enumerate(docs):
        if i > start and (chars + len(doc.text) > max_chars or i - start >= max_docs):
            yield range(start, i)
            start, chars = i, 0
        chars += len(doc.text)
    if start < len(docs):
        yield range(start, len(docs))


def chunk_documents(
    documents: Sequence[SourceDocument],
    chunker: SemanticChunker | None,
    *,
    tokenizer: Tokenizer | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_chars: int = 200_000,
) -> list[ChunkRecord]:
    """Split documents into :class:`ChunkRecord` s (ids from :func:`chunk_id`).

    With ``chunker=None`` each non-blank document is one chunk, counted with
    ``tokenizer`` (default :class:`~manifold_core.encoders.RegexTokenizer`). Documents go
    to the chunker in groups of about ``batch_chars`` characters (their windows are
    embedded in shared batches) and ``on_progress`` is told how many documents each
    group finished. Blank documents give no chunks.
    """
    out: list[ChunkRecord] = []
    if chunker is None:
        from manifold_core.encoders import RegexTokenizer

        tok = tokenizer or RegexTokenizer()
        kept = [d for d in documents if d.text.strip()]
        counts = tok.count([d.text for d in kept]) if kept else []
        for doc, count in zip(kept, counts, strict=True):
            out.append(_record(doc, 0, 0, len(doc.text), doc.text, int(count)))
        if on_progress is not None:
            on_progress(len(documents))
        return out
    for group in _doc_batches(documents, batch_chars, 512):
        docs = [documents[i] for i in group]
        for doc, chunks in zip(docs, chunker.split_texts([d.text for d in docs]), strict=True):
            out.extend(_chunk_record(doc, c) for c in chunks)
        if on_progress is not None:
            on_progress(len(docs))
    return out


def _chunk_record(doc: SourceDocument, chunk: Chunk) -> ChunkRecord:
    return _record(doc, chunk.index, chunk.start, chunk.end, chunk.text, chunk.token_count)


def _record(
    doc: SourceDocument, index: int, start: int, end: int, text: str, tokens: int
) -> ChunkRecord:
    meta = {**doc.metadata, "chunk_index": index, "start": start, "end": end}
    return ChunkRecord(chunk_id(doc.source, doc.key, index), text, meta, tokens)


def embed_texts(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    batch_size: int = 256,
    on_progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Document embeddings of ``texts`` as one float32 array, ``batch_size`` texts per call.

    Raises ``ValueError`` when the encoder returns the wrong shape or non-finite values,
    so nothing bad reaches the store.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    parts = []
    for i in range(0, len(texts), batch_size):
        batch = list(texts[i : i + batch_size])
        vectors = np.asarray(encoder.encode_documents(batch), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise ValueError(f"the encoder gave shape {vectors.shape} for {len(batch)} texts")
        parts.append(vectors)
        if on_progress is not None:
            on_progress(len(batch))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    out = np.concatenate(parts)
    if not np.isfinite(out).all():
        raise ValueError("the encoder returned NaN or infinite values")
    return out


# ------------------------------------------------------------------------ manifest


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class IndexManifest:
    """``DIR/manifold-index.json``: what an index was built with.

    Attributes:
        embedding_model: the model spec (Hub name, absolute folder or ``pkg:`` name).
        dimension: embedding dimension stored in the collection.
        collection: the Chroma collection name.
        lexical_variant: the BM25 variant of the lexical index.
        chunker: the :class:`ChunkerSettings` of the last ingest, as a dict.
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
        return manifest


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
    hint = f"run `manifold ingest PATH... --index {index_dir}` first"
    if not path.exists():
        if must_exist:
            raise FileNotFoundError(f"no index at {str(index_dir)!r}; {hint}")
        return None
    if not path.is_dir():
        raise ValueError(f"--index {str(index_dir)!r} is a file, not an index directory")
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
    from manifold_core.packaged import is_packaged

    if not is_packaged(spec) and os.path.isdir(os.path.expanduser(spec)):
        return Path(spec).expanduser().resolve().as_posix()
    return spec


def resolve_model_spec(
    model: str | None, manifest: IndexManifest | None, default: str, index_dir: str = "DIR"
) -> str:
    """The embedding model to use: ``model``, else the manifest's, else ``default``.

    Raises:
        ValueError: ``model`` differs from the model the index was built with (its
            vectors would be compared with vectors of another space).
    """
    if model is not None and not model.strip():
        raise ValueError("--model must not be empty")
    if manifest is None:
        return _normalize_spec(model or default)
    if model is None:
        return manifest.embedding_model
    spec = _normalize_spec(model)
    if spec != manifest.embedding_model:
        raise ValueError(
            f"index {index_dir!r} was built with {manifest.embedding_model!r} (dimension "
            f"{manifest.dimension}), not {spec!r}; omit --model to use the index's model, "
            "or choose another --index"
        )
    return spec


def open_index(
    index_dir: str | os.PathLike[str],
    *,
    model: str | None = None,
    default_model: str,
    load_encoder: Callable[[str], Any] | None = None,
) -> tuple[HybridStore, IndexManifest]:
    """Open an existing index for searching, with the embedding model it was built with.

    ``model`` may be given only to confirm it (a different one is refused, see
    :func:`resolve_model_spec`). The index directory is checked before the model loads.

    Raises:
        FileNotFoundError: there is no index at ``index_dir``.
        ValueError: not a manifold index, or a model mismatch.
    """
    manifest = check_index_dir(index_dir, must_exist=True)
    assert manifest is not None  # must_exist
    spec = resolve_model_spec(model, manifest, default_model, str(index_dir))
    if load_encoder is None:
        from manifold_core.encoders import resolve_encoder

        load_encoder = resolve_encoder
    encoder = load_encoder(spec)
    from manifold_core.store import HybridStore

    store = HybridStore(
        encoder,
        path=Path(index_dir).expanduser(),
        collection_name=manifest.collection,
        lexical_variant=manifest.lexical_variant,  # type: ignore[arg-type]
    )
    return store, manifest


# ----------------------------------------------------------------------- write plan


@dataclass(frozen=True)
class WritePlan:
    """What one ingest changes: upsert ``chunks`` (with ``embeddings``), delete ``stale_ids``.

    Attributes:
        chunks: the new chunks, in order.
        embeddings: one row per chunk.
        stale_ids: chunks the index holds for the ingested sources that were not
            produced again (a file got shorter, a JSONL record went away).
        replaced: how many of ``chunks`` already existed (their ids).
    """

    chunks: list[ChunkRecord]
    embeddings: np.ndarray
    stale_ids: list[str]
    replaced: int


def plan_write(
    store: HybridStore,
    chunks: Sequence[ChunkRecord],
    embeddings: np.ndarray,
    sources: Iterable[str],
) -> WritePlan:
    """Compare the new chunks with what ``store`` holds for the same ``sources``."""
    if len(embeddings) != len(chunks):
        raise ValueError(f"got {len(embeddings)} embeddings for {len(chunks)} chunks")
    new_ids = {c.id for c in chunks}
    if len(new_ids) != len(chunks):
        raise ValueError("two chunks share an id; a file was read twice")
    existing: set[str] = set()
    source_list = sorted(set(sources))
    if store.count():
        for i in range(0, len(source_list), _SOURCES_PER_LOOKUP):
            batch = source_list[i : i + _SOURCES_PER_LOOKUP]
            where = {"source": {"$in": batch}} if len(batch) > 1 else {"source": batch[0]}
            existing.update(r.id for r in store.iter_records(where=where))
    stale = sorted(existing - new_ids)
    return WritePlan(list(chunks), embeddings, stale, len(existing & new_ids))


def apply_write(store: HybridStore, plan: WritePlan) -> None:
    """Upsert the new chunks first, then delete the stale ones.

    In this order an interrupted ingest leaves every chunk that exists in the files
    searchable (possibly next to a few stale ones), never a file with no chunks.
    """
    if plan.chunks:
        store.upsert(
            [c.text for c in plan.chunks],
            [c.metadata for c in plan.chunks],
            ids=[c.id for c in plan.chunks],
            embeddings=plan.embeddings,
        )
    if plan.stale_ids:
        store.delete(ids=plan.stale_ids)


# ----------------------------------------------------------------------- the ingest


def _remove_new_index(path: Path, created: bool) -> None:
    """Undo a failed first ingest: the directory if we created it, else what we put in it."""
    if created:
        shutil.rmtree(path, ignore_errors=True)
        return
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


class IngestProgress(Protocol):
    """Told about each stage (``"split"``, ``"embed"``, ``"write"``) of :func:`run_ingest`."""

    def start(self, stage: str, total: int) -> None:
        """A stage begins with ``total`` units of work."""
        ...

    def advance(self, stage: str, n: int) -> None:
        """``n`` more units of ``stage`` are done."""
        ...


@dataclass(frozen=True)
class IngestReport:
    """What :func:`run_ingest` did."""

    index_dir: str
    model: str
    created: bool
    files: int
    documents: int
    chunks: int
    tokens: int
    new: int
    replaced: int
    deleted: int
    total: int
    seconds: float
    chunker: ChunkerSettings


def run_ingest(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    *,
    model: str | None = None,
    default_model: str,
    chunker: Mapping[str, Any] | None = None,
    load_encoder: Callable[[str], Any] | None = None,
    progress: IngestProgress | None = None,
    embedding_batch_size: int = 256,
) -> IngestReport:
    """Read ``paths``, split, embed and write them into the index at ``index_dir``.

    Args:
        paths: files and directories (see :func:`find_files`).
        index_dir: the index directory; created only when everything before the write
            succeeded.
        model: embedding model spec; ``None`` takes the index's, else ``default_model``.
        default_model: the model of a new index when ``model`` is ``None``.
        chunker: :class:`ChunkerSettings` fields given by the user (``None`` values
            mean: the index's last settings, else the defaults).
        load_encoder: turns a spec into an encoder (default
            :func:`~manifold_core.encoders.resolve_encoder`).
        progress: told about each stage.
        embedding_batch_size: chunks per embedding call.

    Raises:
        FileNotFoundError: a missing path.
        ValueError: a bad file, a foreign or mismatched index, bad chunker settings, or
            no text at all. Nothing has been written when these are raised.
    """
    t0 = time.perf_counter()
    index_path = Path(index_dir).expanduser()
    files, documents = read_sources(paths)  # cheap checks first, before any model loads
    manifest = check_index_dir(index_path, must_exist=False)
    spec = resolve_model_spec(model, manifest, default_model, str(index_dir))
    settings = ChunkerSettings.merged(manifest.chunker if manifest else None, **(chunker or {}))
    settings.validate()
    if not any(d.text.strip() for d in documents):
        what = f"{len(files)} file(s)" if files else "no .txt, .md or .jsonl files"
        raise ValueError(f"nothing to ingest: {what} under {[str(p) for p in paths]} hold no text")

    if load_encoder is None:
        from manifold_core.encoders import resolve_encoder

        load_encoder = resolve_encoder
    encoder = load_encoder(spec)
    splitter = settings.build(encoder)
    settings = settings.effective(splitter)

    def advance(stage: str) -> Callable[[int], None] | None:
        if progress is None:
            return None
        return lambda n: progress.advance(stage, n)

    if progress is not None:
        progress.start("split", len(documents))
    from manifold_core.encoders import tokenizer_for

    chunks = chunk_documents(
        documents, splitter, tokenizer=tokenizer_for(encoder), on_progress=advance("split")
    )
    if progress is not None:
        progress.start("embed", len(chunks))
    vectors = embed_texts(
        encoder,
        [c.text for c in chunks],
        batch_size=embedding_batch_size,
        on_progress=advance("embed"),
    )
    dim = int(vectors.shape[1])
    if manifest is not None and dim != manifest.dimension:
        raise ValueError(
            f"{spec!r} gives dimension {dim}, but index {str(index_dir)!r} holds dimension "
            f"{manifest.dimension}; use another --index"
        )

    from manifold_core.store import DEFAULT_COLLECTION, HybridStore

    created = not index_path.exists()
    fresh = manifest is None  # a missing or empty directory: undo everything on failure
    if progress is not None:
        progress.start("write", len(chunks))
    try:
        store = HybridStore(
            encoder,
            path=index_path,
            collection_name=manifest.collection if manifest else DEFAULT_COLLECTION,
            lexical_variant=manifest.lexical_variant if manifest else "lucene",  # type: ignore[arg-type]
        )
        plan = plan_write(store, chunks, vectors, {f.as_posix() for f in files})
        apply_write(store, plan)
        total = store.count()
        now = _now()
        write_manifest(
            index_path,
            IndexManifest(
                embedding_model=spec,
                dimension=dim,
                collection=store.collection_name,
                lexical_variant=store.lexical_variant,
                chunker=asdict(settings),
                created=manifest.created if manifest else now,
                updated=now,
            ),
        )
    except BaseException:
        if fresh:
            _remove_new_index(index_path, created)
        raise
    if progress is not None:
        progress.advance("write", len(chunks))
    return IngestReport(
        index_dir=str(index_dir),
        model=spec,
        created=created,
        files=len(files),
        documents=sum(1 for d in documents if d.text.strip()),
        chunks=len(chunks),
        tokens=sum(c.token_count for c in chunks),
        new=len(chunks) - plan.replaced,
        replaced=plan.replaced,
        deleted=len(plan.stale_ids),
        total=total,
        seconds=time.perf_counter() - t0,
        chunker=settings,
    )
