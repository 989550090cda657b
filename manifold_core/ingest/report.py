"""What an ingest tells its caller: progress while it runs, an :class:`IngestReport` after."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from manifold_core.ingest.documents import SkippedFile
from manifold_core.ingest.plan import IngestPlan
from manifold_core.ingest.settings import ChunkerSettings

__all__ = ["IngestProgress", "IngestReport"]

# The counts of chunks and documents one run adds up.
COUNTS = ("documents", "chunks", "tokens", "new", "replaced", "deleted")


class IngestProgress(Protocol):
    """Told about each stage of :func:`~manifold_core.ingest.run.run_ingest`: ``"read"``
    (bytes of the files to read, split and embed) and ``"embed"`` (chunks embedded and
    written; total unknown until the end, ``None``)."""

    def start(self, stage: str, total: int | None) -> None:
        """A stage begins with ``total`` units of work (``None``: not known in advance)."""
        ...

    def advance(self, stage: str, n: int) -> None:
        """``n`` more units of ``stage`` are done."""
        ...


@dataclass(frozen=True)
class IngestReport:
    """What :func:`~manifold_core.ingest.run.run_ingest` did (or, for a dry run, would do).

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
