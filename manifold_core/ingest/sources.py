"""What an ingest reads: the files under the paths given, and the documents in each file.

:func:`scan_sources` walks directories (hidden entries and the index itself skipped),
applies include/exclude globs and classifies every file with
:func:`manifold_core.readers.classify`; :func:`iter_file_documents` turns one file into
:class:`SourceDocument` s: PDF, HTML, DOCX, Markdown and plain text are one document each
(with sections: page, heading path), a ``.jsonl`` file one document per line (see
:mod:`manifold_core.ingest.jsonl`). A file that cannot be read is a :class:`SkippedFile`
with its reason, never silently left out.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from manifold_core.ingest.documents import SkippedFile, SourceDocument, file_metadata
from manifold_core.ingest.jsonl import jsonl_documents, read_jsonl_text
from manifold_core.readers import FORMATS, ExtractedText, SkipFile, classify, read_text_document

__all__ = [
    "EXCLUDED_DETAIL",
    "SUPPORTED_SUFFIXES",
    "file_digest",
    "file_sha256",
    "find_files",
    "iter_file_documents",
    "read_file",
    "read_sources",
    "scan_sources",
]

# Every suffix a reader is chosen by.
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(s for group in FORMATS.values() for s in group)
# The detail of a file left out by the globs (the CLI says which flags).
EXCLUDED_DETAIL = "include/exclude globs"


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
            skipped[resolved] = SkippedFile(resolved.as_posix(), "excluded", EXCLUDED_DETAIL)
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
        for f, rel in _walk(path.resolve(), ignored, exclude):
            consider(f, rel)
    return list(found.items()), list(skipped.values())


def _walk(base: Path, ignored: set[Path], exclude: Sequence[str]) -> list[tuple[Path, str]]:
    """The visible files under ``base`` with their paths relative to it, sorted."""
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
    return sorted(batch)


def find_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The readable files among ``paths`` (see :func:`scan_sources`), in order, each once."""
    return [p for p, _ in scan_sources(paths)[0]]


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int, bool]:
    """SHA-256, size and whether any non-whitespace byte occurs, in one pass (1 MiB blocks)."""
    digest = hashlib.sha256()
    size, text = 0, False
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
            text = text or bool(block.strip())
    return digest.hexdigest(), size, text


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the file's bytes."""
    return file_digest(path)[0]


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
            yield from jsonl_documents(p, read_jsonl_text(p))
            return
        extracted: ExtractedText = read_text_document(p, kind)
    except SkipFile as exc:
        raise SkipFile(exc.reason, exc.detail, where=str(p)) from None
    meta = {**file_metadata(p), **{k: v for k, v in extracted.metadata.items() if k == "title"}}
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

    For inspection and tests; the ingest itself streams
    (:func:`~manifold_core.ingest.run.run_ingest`). Files that would be skipped (empty,
    binary...) are left out here too.
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
