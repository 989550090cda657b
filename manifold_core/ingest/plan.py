"""What an ingest will do, decided before any model loads: the incremental plan.

:func:`plan_ingest` scans the paths, hashes every file and compares it with the manifest:
a file whose bytes and chunker settings are unchanged is not read, embedded or written; a
changed file replaces exactly its chunks; files gone from the folders ingested are listed
(and removed by a pruning ingest). This is what a dry run prints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from manifold_core.ingest.documents import SkippedFile
from manifold_core.ingest.jsonl import jsonl_documents, read_jsonl_text
from manifold_core.ingest.manifest import IndexManifest
from manifold_core.ingest.settings import ChunkerSettings
from manifold_core.ingest.sources import file_digest, scan_sources

__all__ = ["FileEntry", "IngestPlan", "plan_ingest"]


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
    """What an ingest will do, before any model loads (what a dry run prints).

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
            sha, size, has_text = file_digest(path)
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
            for _ in jsonl_documents(path, read_jsonl_text(path)):
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
