"""Ingest files into a persisted :class:`~manifold_core.store.HybridStore`.

What the ``manifold ingest`` command does, as a library (no CLI framework here):

- **Sources** (:func:`scan_sources`, :func:`read_file`): directories are walked
  recursively (hidden entries and the index itself skipped), ``--include``/``--exclude``
  globs applied, and every file classified by :mod:`manifold_core.readers`: PDF, HTML,
  DOCX, Markdown and plain text are one document each, with sections (page, heading
  path); ``.jsonl`` (optionally ``.gz``) files hold one document per line,
  ``{"text": ..., "metadata": {...}}``, or BEIR's ``corpus.jsonl`` (``_id``, ``title``,
  ``text``). A file that cannot be read is *skipped with its reason*
  (:class:`SkippedFile`), never silently; a malformed JSONL line is an error naming file
  and line (the file is data meant for us, and half of it would be worse than none).
- **Ids** (:func:`chunk_id`): derived from the source path, the document's key inside the
  file and the chunk position, so ingesting the same file again *replaces* its chunks
  instead of adding copies.
- **Manifest** (:class:`IndexManifest`): ``DIR/manifold-index.json`` records the tool, the
  format, the embedding model and its dimension, the collection, the chunker settings and
  a SHA-256 per ingested file. Queries and later ingests take the model from it, and an
  index built with another model (or a directory that is not ours) is refused before
  anything is loaded.
- **Incremental** (:func:`plan_ingest`): a file whose bytes and chunker settings are
  unchanged is not read, embedded or written; a changed file replaces exactly its chunks;
  files gone from the folders ingested are reported, and removed with ``prune=True``.
- **Streaming** (:func:`run_ingest`): files are read one at a time, documents cut into
  sections of at most :data:`SECTION_CHARS` characters, chunked in groups, embedded and
  written ``embedding_batch_size`` chunks at a time, so memory is bounded by the largest
  file's text plus one batch, not by the corpus. Each file's stale chunks are deleted
  once all its new ones are written; the manifest is written last.
"""

from __future__ import annotations

import fnmatch
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

from manifold_core.readers import (
    FORMATS,
    ExtractedText,
    Section,
    SkipFile,
    classify,
    decode_utf8,
    read_text_document,
)

if TYPE_CHECKING:
    from manifold_core.encoders import Encoder, Tokenizer
    from manifold_core.store import HybridStore

__all__ = [
    "CHUNKER_KINDS",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "RESERVED_KEYS",
    "SECTION_CHARS",
    "SUPPORTED_SUFFIXES",
    "TOOL_NAME",
    "ChunkRecord",
    "ChunkerSettings",
    "FileEntry",
    "IndexManifest",
    "IngestPlan",
    "IngestProgress",
    "IngestReport",
    "SkippedFile",
    "SourceDocument",
    "WritePlan",
    "apply_write",
    "check_index_dir",
    "chunk_documents",
    "chunk_id",
    "embed_texts",
    "file_sha256",
    "find_files",
    "iter_chunks",
    "iter_file_documents",
    "model_token_limit",
    "open_index",
    "plan_ingest",
    "plan_write",
    "precheck_model",
    "read_file",
    "read_manifest",
    "read_sources",
    "resolve_model_spec",
    "run_ingest",
    "scan_sources",
    "write_manifest",
]

TOOL_NAME = "manifold-rag"
MANIFEST_NAME = "manifold-index.json"
MANIFEST_FORMAT = 1
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(s for group in FORMATS.values() for s in group)
CHUNKER_KINDS = ("semantic", "fixed", "none")
# Metadata keys the ingest sets itself; a JSONL record may not bring its own.
RESERVED_KEYS: tuple[str, ...] = ("source", "file_name", "doc_id", "line", "chunk_index")
# Offsets are set too but may be overridden by nothing else either.
_OFFSET_KEYS = ("start", "end")
# Top-level JSONL keys that are not copied into metadata.
_JSONL_SPECIAL = ("text", "metadata", "_id", "id")
# Sources per $in filter when looking up the chunks an index already holds.
_SOURCES_PER_LOOKUP = 500
_INT64 = 2**63
# The longest stretch of text a chunker sees at once; longer sections are cut at line breaks.
SECTION_CHARS = 100_000


# ------------------------------------------------------------------------ sources


@dataclass(frozen=True)
class SourceDocument:
    """One document read from a file.

    Attributes:
        text: the text to index (for a record with a ``title``: title, blank line, text;
            for PDF, HTML and DOCX: the extracted text).
        source: the file, as an absolute POSIX path: the key replacement works by.
        key: the document inside its file: ``""`` for a whole file, the JSONL ``_id``/``id``
            (as str), else ``"line:N"``.
        metadata: ``source`` and ``file_name``, plus for JSONL ``line`` and (when the record
            has one) ``doc_id``, then the record's ``metadata`` dict and scalar fields; a
            PDF, HTML or DOCX ``title``.
        sections: spans of ``text`` with their own metadata (``page``, ``heading``); empty
            means one section over the whole text.
    """

    text: str
    source: str
    key: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A file (or a JSONL line: ``path:LINE``) left out, with the reason and what was wrong."""

    path: str
    reason: str
    detail: str


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in FORMATS.items():
        if any(name.endswith(s) for s in suffixes):
            return kind
    return None


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    """gitignore-like: a pattern without ``/`` matches the name, else the relative path."""
    name = rel.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(rel if "/" in p else name, p.strip("/")) or fnmatch.fnmatchcase(rel, p)
        for p in patterns
    )


def scan_sources(
    paths: Iterable[str | os.PathLike[str]],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    ignore: Sequence[str | os.PathLike[str]] = (),
) -> tuple[list[tuple[Path, str]], list[SkippedFile]]:
    """The readable files under ``paths`` with their reader kind, and the files skipped.

    Directories are walked recursively in sorted order; hidden entries (``.git``,
    ``.venv``, ``.DS_Store``) and the directories in ``ignore`` (the index being written)
    are not entered. ``include`` globs, when given, keep only the files matching one;
    ``exclude`` globs drop files and whole directories. A glob without ``/`` matches a
    name (``*.pdf``, ``node_modules``), one with ``/`` the path relative to the directory
    given (``drafts/*``). Files named explicitly are read whatever their name.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    ignored = {Path(p).expanduser().resolve() for p in ignore}
    found: dict[Path, str] = {}
    skipped: dict[Path, SkippedFile] = {}

    def consider(path: Path, rel: str | None) -> None:
        resolved = path.resolve()
        if resolved in found or resolved in skipped:
            return
        if rel is not None and ((include and not _matches(rel, include)) or _matches(rel, exclude)):
            skipped[resolved] = SkippedFile(resolved.as_posix(), "excluded", "--include/--exclude")
            return
        try:
            found[resolved] = classify(resolved)
        except SkipFile as exc:
            skipped[resolved] = SkippedFile(resolved.as_posix(), exc.reason, exc.detail)

    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"no such file or directory: {str(raw)!r}")
        if not path.is_dir():
            consider(path, None)
            continue
        base = path.resolve()
        batch: list[tuple[Path, str]] = []
        for root, dirs, files in os.walk(base):
            root_path = Path(root)
            rel_root = root_path.relative_to(base).as_posix()
            prefix = "" if rel_root == "." else rel_root + "/"
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".")
                and (root_path / d).resolve() not in ignored
                and not _matches(prefix + d, exclude)
            )
            batch.extend(
                (root_path / f, prefix + f)
                for f in files
                if not f.startswith(".") and (root_path / f).is_file()
            )
        for f, rel in sorted(batch):
            consider(f, rel)
    return list(found.items()), list(skipped.values())


def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The readable files among ``paths`` (see :func:`scan_sources`), in order, each once."""
    return [p for p, _ in scan_sources(paths)[0]]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a valid gzip file ({exc})") from None
    return decode_utf8(data, str(path))


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


def iter_file_documents(
    path: str | os.PathLike[str], kind: str | None = None
) -> Iterator[SourceDocument]:
    """The documents of one file, one at a time (see :func:`read_file`).

    Raises:
        SkipFile: (a ``ValueError``) the file is empty, not text, corrupt or of an
            unsupported type; the message starts with the path.
        ValueError: a bad JSONL line (file and line named).
    """
    p = Path(path).expanduser().resolve()
    try:
        kind = kind or classify(p)
        if kind == "jsonl":
            yield from _jsonl_documents(p, _read_text(p))
            return
        extracted: ExtractedText = read_text_document(p, kind)
    except SkipFile as exc:
        raise SkipFile(exc.reason, exc.detail, where=str(p)) from None
    meta = {**_file_metadata(p), **{k: v for k, v in extracted.metadata.items() if k == "title"}}
    yield SourceDocument(extracted.text, p.as_posix(), "", meta, extracted.sections)


def read_file(path: str | os.PathLike[str]) -> list[SourceDocument]:
    """The documents of one file (see :class:`SourceDocument`).

    A JSONL record needs a string ``text``; its ``_id`` or ``id`` (unique in the file) keys
    the document, else its line number does. Scalar top-level fields and the ``metadata``
    object become metadata (lists and objects only inside ``metadata``). A ``title`` is
    put in front of the text (the BEIR convention) and also kept as metadata. Other
    formats are one document, read by :mod:`manifold_core.readers`.

    Raises:
        FileNotFoundError: no such file.
        SkipFile: (a ``ValueError``) empty, not UTF-8 text, unsupported, corrupt.
        ValueError: bad JSON, a record without ``text``, a metadata value Chroma cannot
            store, a reserved key; the message names file and line.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    return list(iter_file_documents(p))


def read_sources(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Path], list[SourceDocument]]:
    """Every readable file under ``paths`` and their documents, in order, all in memory.

    For inspection and tests; the ingest itself streams (:func:`run_ingest`). Files that
    would be skipped (empty, binary...) are left out here too.
    """
    files: list[Path] = []
    docs: list[SourceDocument] = []
    for f, kind in scan_sources(paths)[0]:
        try:
            docs.extend(iter_file_documents(f, kind))
        except SkipFile:
            continue
        files.append(f)
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

    ``kind="semantic"`` cuts where the meaning shifts
    (:class:`~manifold_core.chunking.SemanticChunker`); ``kind="fixed"`` cuts windows of
    ``max_tokens`` tokens sharing ``overlap`` tokens
    (:class:`~manifold_core.windows.FixedTokenChunker`: no embedding to decide cuts, the
    fast choice); ``kind="none"`` keeps every document whole (one chunk each; a document
    longer than the model reads is refused, or cut with ``truncate`` in
    :func:`run_ingest`). ``threshold=None`` and ``max_tokens=None`` mean the chunker's
    defaults (the rule's default threshold; the model's input limit).
    """

    kind: str = "semantic"
    breakpoint_rule: str = "percentile"
    threshold: float | None = None
    buffer_size: int = 0
    min_tokens: int = 0
    max_tokens: int | None = None
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.kind not in CHUNKER_KINDS:
            raise ValueError(
                f"chunker must be one of {', '.join(CHUNKER_KINDS)}, got {self.kind!r}"
            )
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
        floor = max(self.min_tokens, self.overlap + 1, 1)
        limit = self.max_tokens if self.max_tokens is not None else floor
        replace(self, max_tokens=limit).build(stub)

    def build(self, encoder: Any, batch_size: int = 1024) -> Any:
        """The chunker (``None`` for ``kind="none"``); raises ``ValueError`` on bad values.

        Both chunkers have ``split_texts(texts) -> list[list[Chunk]]`` and ``max_tokens``.
        """
        if self.kind == "none":
            return None
        if self.kind == "fixed":
            from manifold_core.encoders import tokenizer_for
            from manifold_core.windows import FixedTokenChunker

            limit = self.max_tokens or model_token_limit(encoder)
            return FixedTokenChunker(tokenizer_for(encoder), limit, self.overlap)
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

    def effective(self, chunker: Any) -> ChunkerSettings:
        """These settings with the defaults the chunker resolved filled in."""
        if chunker is None:
            return ChunkerSettings(kind="none")
        if self.kind == "fixed":
            return ChunkerSettings("fixed", max_tokens=chunker.max_tokens, overlap=self.overlap)
        return ChunkerSettings(
            "semantic",
            chunker.breakpoint_rule,
            chunker.threshold,
            chunker.buffer_size,
            chunker.min_tokens,
            chunker.max_tokens,
        )

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any] | None) -> ChunkerSettings | None:
        """The settings a manifest recorded (``None`` if it has none or they are invalid)."""
        if not data:
            return None
        try:
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (TypeError, ValueError):
            return None


def model_token_limit(encoder: Any) -> int:
    """The tokens the encoder reads per text (``max_seq_length``, else the chunker default)."""
    from manifold_core.chunking import DEFAULT_MAX_TOKENS

    return int(getattr(encoder, "max_seq_length", None) or DEFAULT_MAX_TOKENS)


@dataclass(frozen=True)
class ChunkRecord:
    """One chunk ready to store: id, text, metadata (document's plus position) and tokens."""

    id: str
    text: str
    metadata: dict[str, Any]
    token_count: int


def _pieces(doc: SourceDocument) -> Iterator[tuple[int, int, Mapping[str, Any]]]:
    """``(start, end, section metadata)`` spans of ``doc``, none over :data:`SECTION_CHARS`.

    A long section is cut at its last paragraph break, else line break, else space,
    before the limit (a hard cut only for one endless line).
    """
    text = doc.text
    sections = doc.sections or (Section(0, len(text)),)
    for sec in sections:
        start = sec.start
        while sec.end - start > SECTION_CHARS:
            limit = start + SECTION_CHARS
            cut = -1
            for sep in ("\n\n", "\n", " "):
                cut = text.rfind(sep, start + SECTION_CHARS // 2, limit)
                if cut > start:
                    cut += len(sep)
                    break
            if cut <= start:
                cut = limit
            yield start, cut, sec.metadata
            start = cut
        if sec.end > start:
            yield start, sec.end, sec.metadata


def _where(doc: SourceDocument) -> str:
    line = doc.metadata.get("line")
    return f"{doc.source}:{line}" if line is not None else doc.source


def iter_chunks(
    documents: Iterable[SourceDocument],
    chunker: Any,
    *,
    tokenizer: Tokenizer | None = None,
    token_limit: int | None = None,
    truncate: bool = False,
    on_skip: Callable[[SkippedFile], None] | None = None,
    on_truncate: Callable[[SkippedFile], None] | None = None,
    on_progress: Callable[[SourceDocument, int], None] | None = None,
    batch_chars: int = 200_000,
) -> Iterator[ChunkRecord]:
    """Split documents into :class:`ChunkRecord` s, one group of pieces at a time.

    A document is cut into pieces no longer than :data:`SECTION_CHARS` within its
    sections (pages, heading sections), and the pieces of about ``batch_chars``
    characters go to ``chunker.split_texts`` together; every chunk carries its section's
    metadata and offsets into the document's text. ``on_progress(doc, end)`` is told how
    far into each document the chunks are.

    With ``chunker=None`` each non-blank document is one chunk; one longer than
    ``token_limit`` tokens is refused (``on_skip`` with reason ``too long``) or, with
    ``truncate``, cut at the limit (``on_truncate``).
    """
    if chunker is None:
        yield from _whole_documents(
            documents, tokenizer, token_limit, truncate, on_skip, on_truncate, on_progress
        )
        return
    group: list[tuple[SourceDocument, int, int, Mapping[str, Any]]] = []
    chars = 0
    counters: dict[tuple[str, str], int] = {}

    def run_group() -> Iterator[ChunkRecord]:
        texts = [doc.text[a:b] for doc, a, b, _ in group]
        for (doc, a, b, meta), chunks in zip(group, chunker.split_texts(texts), strict=True):
            key = (doc.source, doc.key)
            index = counters.get(key, 0)
            for c in chunks:
                yield _record(doc, index, a + c.start, a + c.end, c.text, c.token_count, meta)
                index += 1
            counters[key] = index
            if on_progress is not None:
                on_progress(doc, b)

    for doc in documents:
        if not doc.text.strip():
            continue
        for a, b, meta in _pieces(doc):
            if not doc.text[a:b].strip():
                continue
            if group and (chars + (b - a) > batch_chars or len(group) >= 512):
                yield from run_group()
                group, chars = [], 0
                counters = {k: v for k, v in counters.items() if k == (doc.source, doc.key)}
            group.append((doc, a, b, meta))
            chars += b - a
    if group:
        yield from run_group()


def _whole_documents(
    documents: Iterable[SourceDocument],
    tokenizer: Tokenizer | None,
    token_limit: int | None,
    truncate: bool,
    on_skip: Callable[[SkippedFile], None] | None,
    on_truncate: Callable[[SkippedFile], None] | None,
    on_progress: Callable[[SourceDocument, int], None] | None,
) -> Iterator[ChunkRecord]:
    from manifold_core.encoders import RegexTokenizer

    tok = tokenizer or RegexTokenizer()
    for doc in documents:
        if not doc.text.strip():
            continue
        text = doc.text
        meta = doc.sections[0].metadata if doc.sections else {}
        # A token covers at most a few characters: counting a prefix decides "too long".
        probe = text if token_limit is None else text[: max(token_limit * 32, 4096)]
        count = int(tok.count([probe])[0])
        if token_limit is not None and (count > token_limit or len(probe) < len(text)):
            if count <= token_limit:  # very long tokens: count the rest too, in pieces
                for a in range(len(probe), len(text), SECTION_CHARS):
                    count += int(tok.count([text[a : a + SECTION_CHARS]])[0])
                    if count > token_limit:
                        break
            if count > token_limit:
                more = "" if len(probe) == len(text) else "+"
                note = SkippedFile(
                    _where(doc),
                    "too long",
                    f"{count:,}{more} tokens; the model reads {token_limit}",
                )
                if not truncate:
                    if on_skip is not None:
                        on_skip(note)
                    continue
                spans = tok.spans(probe)
                text = text[: spans[token_limit - 1][1]]
                count = token_limit
                if on_truncate is not None:
                    on_truncate(note)
        yield _record(doc, 0, 0, len(text), text, count, meta)
        if on_progress is not None:
            on_progress(doc, len(doc.text))


def chunk_documents(
    documents: Sequence[SourceDocument],
    chunker: Any,
    *,
    tokenizer: Tokenizer | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_chars: int = 200_000,
) -> list[ChunkRecord]:
    """All chunks of ``documents`` as a list (see :func:`iter_chunks`; no token limit).

    ``on_progress`` is told the number of documents whose chunks are done.
    """
    out = list(iter_chunks(documents, chunker, tokenizer=tokenizer, batch_chars=batch_chars))
    if on_progress is not None:
        on_progress(len(documents))
    return out


def _record(
    doc: SourceDocument,
    index: int,
    start: int,
    end: int,
    text: str,
    tokens: int,
    section: Mapping[str, Any] | None = None,
) -> ChunkRecord:
    meta = {**doc.metadata, **(section or {}), "chunk_index": index, "start": start, "end": end}
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
        lexical_language: the stemmer of the BM25 tokenizer (``None``: no stemming, as
            in indexes made before stemming existed).
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
    if not store.exists():
        raise ValueError(
            f"index {str(index_dir)!r} names the collection {manifest.collection!r}, which "
            f"its Chroma data does not hold; re-run `manifold ingest PATH... --index "
            f"{index_dir}` to rebuild it"
        )
    return store, manifest


# ----------------------------------------------------------------------- write plan


@dataclass(frozen=True)
class WritePlan:
    """A write for chunks held in memory (library use; :func:`run_ingest` streams instead).

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
    """Told about each stage of :func:`run_ingest`: ``"read"`` (bytes of the files to
    read, split and embed) and ``"embed"`` (chunks embedded and written; total unknown
    until the end, ``None``)."""

    def start(self, stage: str, total: int | None) -> None:
        """A stage begins with ``total`` units of work (``None``: not known in advance)."""
        ...

    def advance(self, stage: str, n: int) -> None:
        """``n`` more units of ``stage`` are done."""
        ...


@dataclass(frozen=True)
class FileEntry:
    """A readable file found by the scan: its reader, size, hash and what the ingest does.

    ``status`` is ``"new"`` (not in the index), ``"changed"`` (other bytes, or other
    chunker settings than the index was built with) or ``"unchanged"`` (nothing to do).
    """

    path: Path
    kind: str
    size: int
    sha256: str
    status: str


@dataclass(frozen=True)
class IngestPlan:
    """What an ingest will do, before any model loads (what ``--dry-run`` prints).

    Attributes:
        files: the readable files, in order, with their status.
        skipped: the files left out, with reasons.
        gone: files the index holds under the paths given that are no longer read
            (deleted, or now skipped); their chunks go with ``prune``.
        settings_changed: the chunker settings differ from the index's: every file is
            re-chunked.
    """

    files: list[FileEntry]
    skipped: list[SkippedFile]
    gone: list[str]
    settings_changed: bool

    def with_status(self, status: str) -> list[FileEntry]:
        """The files of one status."""
        return [f for f in self.files if f.status == status]


def _has_text(path: Path) -> tuple[str, int, bool]:
    """SHA-256, size and whether any non-whitespace byte occurs, in one pass."""
    digest = hashlib.sha256()
    size, text = 0, False
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
            text = text or bool(block.strip())
    return digest.hexdigest(), size, text


def _under(source: str, roots: Sequence[str]) -> bool:
    return any(source == r or source.startswith(r.rstrip("/") + "/") for r in roots)


def plan_ingest(
    paths: Sequence[str | os.PathLike[str]],
    manifest: IndexManifest | None,
    settings: ChunkerSettings,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    ignore: Sequence[str | os.PathLike[str]] = (),
) -> IngestPlan:
    """Scan ``paths``, hash every file and compare with ``manifest``; JSONL checked here.

    Blank text files are skipped as ``empty`` here; an empty PDF, HTML or DOCX is found
    when it is read.

    Raises:
        FileNotFoundError: a missing path.
        ValueError: a bad JSONL line among the files to read (file and line named).
    """
    found, skipped = scan_sources(paths, include=include, exclude=exclude, ignore=ignore)
    known = manifest.files if manifest is not None else {}
    previous = ChunkerSettings.from_manifest(manifest.chunker) if manifest is not None else None
    settings_changed = manifest is not None and previous != settings
    files: list[FileEntry] = []
    for path, kind in found:
        src = path.as_posix()
        try:
            sha, size, has_text = _has_text(path)
        except OSError as exc:
            skipped.append(SkippedFile(src, "unreadable", exc.strerror or str(exc)))
            continue
        entry = known.get(src)
        if (size == 0 or (kind in ("text", "markdown") and not has_text)) and entry is None:
            skipped.append(SkippedFile(src, "empty", "no text"))
            continue  # an indexed file that became empty is "changed": its chunks go
        last = entry or {}
        if last.get("skipped") and last.get("sha256") == sha and not settings_changed:
            # It could not be read last time and has not changed: not tried again.
            skipped.append(SkippedFile(src, last["skipped"], str(last.get("detail", ""))))
            continue
        if entry is None or entry.get("skipped"):
            status = "new"
        elif entry.get("sha256") != sha or settings_changed:
            status = "changed"
        else:
            status = "unchanged"
        if kind == "jsonl" and status != "unchanged":
            for _ in _jsonl_documents(path, _read_text(path)):
                pass
        files.append(FileEntry(path, kind, size, sha, status))
    roots = [Path(p).expanduser().resolve().as_posix() for p in paths]
    present = {p.as_posix() for p, _ in found}
    gone = sorted(
        src
        for src, entry in known.items()
        if _under(src, roots) and src not in present and not entry.get("skipped")
    )
    return IngestPlan(files, skipped, gone, settings_changed)


@dataclass(frozen=True)
class IngestReport:
    """What :func:`run_ingest` did (or, for a dry run, would do).

    ``files`` counts the readable files found; ``documents``, ``chunks`` and ``tokens``
    what was read and written in this run (nothing for unchanged files). ``new``,
    ``replaced`` and ``deleted`` count chunks; ``pruned`` the chunks of gone files
    removed. ``total`` is the index's chunk count afterwards.
    """

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
    plan: IngestPlan | None = None
    skipped: list[SkippedFile] = field(default_factory=list)
    truncated: list[SkippedFile] = field(default_factory=list)
    pruned: int = 0
    pruned_files: list[str] = field(default_factory=list)
    dry_run: bool = False
    wrote: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: counts, files by status, skipped and truncated with reasons."""
        plan = self.plan
        out: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "index_dir",
                "model",
                "created",
                "dry_run",
                "wrote",
                "files",
                "documents",
                "chunks",
                "tokens",
                "new",
                "replaced",
                "deleted",
                "pruned",
                "total",
            )
        }
        out["seconds"] = round(self.seconds, 3)
        out["chunker"] = asdict(self.chunker)
        if plan is not None:
            for status in ("new", "changed", "unchanged"):
                out[f"files_{status}"] = [f.path.as_posix() for f in plan.with_status(status)]
            out["files_gone"] = plan.gone
            out["settings_changed"] = plan.settings_changed
        out["pruned_files"] = self.pruned_files
        out["skipped"] = [asdict(s) for s in self.skipped]
        out["truncated"] = [asdict(s) for s in self.truncated]
        return out


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
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    prune: bool = False,
    dry_run: bool = False,
    truncate: bool = False,
    check_model: Callable[[str], None] | None = None,
    stemming: str | None = None,
) -> IngestReport:
    """Read ``paths``, split, embed and write the new and changed files into ``index_dir``.

    Args:
        paths: files and directories (see :func:`scan_sources`).
        index_dir: the index directory; created when the first batch is written.
        model: embedding model spec; ``None`` takes the index's, else ``default_model``.
        default_model: the model of a new index when ``model`` is ``None``.
        chunker: :class:`ChunkerSettings` fields given by the user (``None`` values
            mean: the index's last settings, else the defaults).
        load_encoder: turns a spec into an encoder (default
            :func:`~manifold_core.encoders.resolve_encoder`); not called when there is
            nothing to embed.
        progress: told about each stage.
        embedding_batch_size: chunks per embedding call (and per write).
        include, exclude: globs (see :func:`scan_sources`).
        prune: delete the chunks of files gone from ``paths`` (see :class:`IngestPlan`).
        dry_run: plan only: load no model, write nothing.
        truncate: with ``kind="none"``, cut documents longer than the model reads at its
            limit (listed in ``truncated``) instead of refusing them.
        check_model: called with the model spec before any file is read (default
            :func:`precheck_model` when ``load_encoder`` is the default).
        stemming: the BM25 stemmer of a new index (``"english"``... or ``"none"``);
            ``None``: the index's, else :data:`~manifold_core.lexical.DEFAULT_LANGUAGE`.
            An existing index keeps its own (another value is refused).

    Raises:
        FileNotFoundError: a missing path.
        ValueError: a bad JSONL line, a foreign or mismatched index, bad chunker
            settings, or nothing readable at all. Nothing has been written when these
            are raised. Files that cannot be read are skipped and listed instead.
    """
    t0 = time.perf_counter()
    index_path = Path(index_dir).expanduser()
    manifest = check_index_dir(index_path, must_exist=False)
    spec = resolve_model_spec(model, manifest, default_model, str(index_dir))
    settings = ChunkerSettings.merged(manifest.chunker if manifest else None, **(chunker or {}))
    settings.validate()
    language = _lexical_language(stemming, manifest, str(index_dir))
    if check_model is None and load_encoder is None:
        check_model = precheck_model
    if check_model is not None:
        check_model(spec)  # a bad model name fails now, not after hashing the folder
    if embedding_batch_size <= 0:
        raise ValueError(f"batch size must be positive, got {embedding_batch_size}")
    plan = plan_ingest(
        paths, manifest, settings, include=include, exclude=exclude, ignore=[index_path]
    )
    skipped = list(plan.skipped)
    if not plan.files and not (prune and plan.gone):
        reasons: dict[str, int] = {}
        for sk in skipped:
            reasons[sk.reason] = reasons.get(sk.reason, 0) + 1
        why = ", ".join(f"{n} {r}" for r, n in reasons.items()) or "no files"
        raise ValueError(
            f"nothing to ingest under {[str(p) for p in paths]}: no readable file with text "
            f"(skipped: {why})"
        )
    todo = [f for f in plan.files if f.status != "unchanged"]
    known = dict(manifest.files) if manifest is not None else {}
    counted = all(f.path.as_posix() in known for f in plan.files) if manifest else False

    def report(**kw: Any) -> IngestReport:
        base: dict[str, Any] = {
            "index_dir": str(index_dir),
            "model": spec,
            "created": manifest is None,
            "files": len(plan.files),
            "documents": 0,
            "chunks": 0,
            "tokens": 0,
            "new": 0,
            "replaced": 0,
            "deleted": 0,
            "total": sum(int(e.get("chunks", 0)) for e in known.values()) if counted else 0,
            "seconds": time.perf_counter() - t0,
            "chunker": settings,
            "plan": plan,
            "skipped": skipped,
        }
        base.update(kw)
        return IngestReport(**base)

    if dry_run:
        return report(dry_run=True, created=False)
    if not todo and not (prune and plan.gone):
        return report(created=False)

    encoder: Any = spec
    splitter: Any = None
    token_limit: int | None = None
    if todo:
        if load_encoder is None:
            from manifold_core.encoders import resolve_encoder

            load_encoder = resolve_encoder
        encoder = load_encoder(spec)
        splitter = settings.build(encoder)
        settings = settings.effective(splitter)
        token_limit = model_token_limit(encoder)
    from manifold_core.encoders import tokenizer_for
    from manifold_core.store import DEFAULT_COLLECTION, HybridStore

    tokenizer = tokenizer_for(encoder) if todo else None
    created = not index_path.exists()
    fresh = manifest is None  # a missing or empty directory: undo everything on failure
    store: HybridStore | None = None
    dim = manifest.dimension if manifest is not None else None
    stats = {"documents": 0, "chunks": 0, "tokens": 0, "new": 0, "replaced": 0, "deleted": 0}
    truncated: list[SkippedFile] = []
    pending: list[ChunkRecord] = []
    # Files read whose last chunks await the next flush: (file, ids made, ids it had, done).
    waiting: list[tuple[FileEntry, set[str], set[str], bool]] = []
    files_out = dict(known)
    wrote = False
    provisional: list[bool] = []  # a first ingest wrote its provisional manifest

    def open_store() -> HybridStore:
        nonlocal store
        if store is None:
            from manifold_core.lexical import LexicalTokenizer

            store = HybridStore(
                encoder,
                path=index_path,
                collection_name=manifest.collection if manifest else DEFAULT_COLLECTION,
                lexical_variant=manifest.lexical_variant if manifest else "lucene",  # type: ignore[arg-type]
                # A new index gets its stemmer; an existing one loads the saved tokenizer.
                tokenizer=None if manifest else LexicalTokenizer(language=language),
                autosave=False,
            )
        return store

    def flush() -> None:
        nonlocal dim, wrote
        if pending:
            vectors = embed_texts(encoder, [c.text for c in pending], batch_size=len(pending))
            got = int(vectors.shape[1])
            if dim is not None and got != dim:
                raise ValueError(
                    f"{spec!r} gives dimension {got}, but index {str(index_dir)!r} holds "
                    f"dimension {dim}; use another --index"
                )
            dim = got
            if manifest is None and not provisional:
                # Before the first write: a killed first ingest leaves a folder that is
                # recognisably ours (no files finished), so the next ingest resumes it.
                now = _now()
                write_manifest(
                    index_path,
                    IndexManifest(
                        embedding_model=spec,
                        dimension=got,
                        collection=open_store().collection_name,
                        lexical_variant=open_store().lexical_variant,
                        chunker=asdict(settings),
                        files={},
                        lexical_language=language,
                        created=now,
                        updated=now,
                    ),
                )
                provisional.append(True)
            open_store().upsert(
                [c.text for c in pending],
                [c.metadata for c in pending],
                ids=[c.id for c in pending],
                embeddings=vectors,
            )
            wrote = True
            if progress is not None:
                progress.advance("embed", len(pending))
            pending.clear()
        for entry, produced, old, done in waiting:
            stale = sorted(old - produced)
            if stale:
                stats["deleted"] += open_store().delete(ids=stale)
                wrote = True
            stats["replaced"] += len(produced & old)
            stats["new"] += len(produced - old)
            if not done:  # read again next time
                files_out.pop(entry.path.as_posix(), None)
                continue
            files_out[entry.path.as_posix()] = {
                "sha256": entry.sha256,
                "size": entry.size,
                "kind": entry.kind,
                "chunks": len(produced),
            }
        waiting.clear()

    def existing_ids(entry: FileEntry) -> set[str]:
        src = entry.path.as_posix()
        if fresh or (entry.status == "new" and counted):
            return set()
        return {r.id for r in open_store().iter_records(where={"source": src})}

    try:
        if progress is not None:
            progress.start("read", sum(f.size for f in todo))
            progress.start("embed", None)
        for entry in todo:
            src = entry.path.as_posix()
            old = existing_ids(entry)
            produced: set[str] = set()
            done_bytes = 0

            def on_piece(doc: SourceDocument, end: int, entry: FileEntry = entry) -> None:
                nonlocal done_bytes
                if progress is not None and entry.kind != "jsonl" and doc.text:
                    now = int(entry.size * min(1.0, end / len(doc.text)))
                    progress.advance("read", now - done_bytes)
                    done_bytes = now

            def documents(entry: FileEntry = entry) -> Iterator[SourceDocument]:
                for doc in iter_file_documents(entry.path, entry.kind):
                    stats["documents"] += 1
                    yield doc

            try:
                for rec in iter_chunks(
                    documents(),
                    splitter,
                    tokenizer=tokenizer,
                    token_limit=token_limit,
                    truncate=truncate,
                    on_skip=skipped.append,
                    on_truncate=truncated.append,
                    on_progress=on_piece,
                ):
                    if rec.id in produced:
                        raise ValueError(f"{src}: two chunks share the id {rec.id}")
                    produced.add(rec.id)
                    stats["chunks"] += 1
                    stats["tokens"] += rec.token_count
                    pending.append(rec)
                    if len(pending) >= embedding_batch_size:
                        flush()
            except SkipFile as exc:
                skipped.append(SkippedFile(src, exc.reason, exc.detail))
                if exc.reason == "empty" or produced:
                    # Emptied: its old chunks go. Failed half-way: the chunks written stay
                    # consistent, and the file is read again next time.
                    waiting.append((entry, produced, old, exc.reason == "empty"))
                    if not pending:
                        flush()
                elif not old:  # remembered, so an unchanged unreadable file is not retried
                    files_out[src] = {
                        "sha256": entry.sha256,
                        "size": entry.size,
                        "kind": entry.kind,
                        "chunks": 0,
                        "skipped": exc.reason,
                        "detail": exc.detail,
                    }
                continue
            finally:
                if progress is not None:
                    progress.advance("read", entry.size - done_bytes)
            waiting.append((entry, produced, old, True))
            if not pending:  # all its chunks are written: done now, not at the next batch
                flush()
        flush()
        pruned, pruned_files = 0, []
        if prune and plan.gone:
            for src in plan.gone:
                n = open_store().delete(where={"source": src})
                pruned += n
                pruned_files.append(src)
                files_out.pop(src, None)
            wrote = wrote or pruned > 0
        if store is None:  # every file to read was skipped: nothing written
            if manifest is not None and files_out != known:
                write_manifest(index_path, replace(manifest, files=files_out, updated=_now()))
            return report(created=False, truncated=truncated, **stats)
        store.save()
        total = store.count()
        now = _now()
        write_manifest(
            index_path,
            IndexManifest(
                embedding_model=spec,
                dimension=int(dim or 0) or (manifest.dimension if manifest else 1),
                collection=store.collection_name,
                lexical_variant=store.lexical_variant,
                chunker=asdict(settings),
                files=files_out,
                lexical_language=language,
                created=manifest.created if manifest else now,
                updated=now,
            ),
        )
    except BaseException:
        if fresh:
            _remove_new_index(index_path, created)
        elif store is not None and wrote:
            _save_partial(store, index_path, manifest, files_out)  # what was finished counts
        raise
    unread = {sk.path for sk in skipped[len(plan.skipped) :] if sk.reason != "too long"}
    return report(
        created=created,
        files=len(plan.files) - len(unread),
        total=total,
        truncated=truncated,
        pruned=pruned,
        pruned_files=pruned_files,
        wrote=wrote,
        **stats,
    )


def _lexical_language(
    stemming: str | None, manifest: IndexManifest | None, index_dir: str
) -> str | None:
    """The BM25 stemmer: the index's (a different one is refused), else the one asked for."""
    from manifold_core.lexical import DEFAULT_LANGUAGE, LexicalTokenizer

    wanted = None if stemming is None else (None if stemming.lower() == "none" else stemming)
    if manifest is not None:
        if stemming is not None and wanted != manifest.lexical_language:
            raise ValueError(
                f"index {index_dir!r} was built with stemming "
                f"{manifest.lexical_language or 'none'!r}, not {stemming!r}; omit --stemming "
                "or choose another --index"
            )
        return manifest.lexical_language
    language = DEFAULT_LANGUAGE if stemming is None else wanted
    LexicalTokenizer(language=language)  # an unknown language fails now
    return language


def precheck_model(spec: str) -> None:
    """Fail fast on a model that cannot load, without loading it (no torch import).

    A ``pkg:`` name must be known and its package installed; a path must exist; a Hub
    name, when the Hub is switched off (``HF_HUB_OFFLINE``), must be in the local cache.
    Anything else is left to the real load.

    Raises:
        ModelLoadError: the one-line reason (see :func:`manifold_core.packaged.load_error`).
    """
    from manifold_core.packaged import check_model_name, is_packaged, load_error, packaged_model

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


def _save_partial(
    store: HybridStore,
    index_path: Path,
    manifest: IndexManifest | None,
    files: dict[str, dict[str, Any]],
) -> None:
    """After a failure mid-way: keep the files finished so far; the rest is redone later."""
    if manifest is None:
        return
    try:
        store.save()
        write_manifest(index_path, replace(manifest, files=files, updated=_now()))
    except Exception:
        pass
