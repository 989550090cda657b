"""The ingest run: read, split, embed and write the new and changed files into an index.

:func:`run_ingest` checks everything that needs no model first (index directory, model
name, chunker settings, stemmer, JSONL lines: nothing is written when these fail), plans
the run (:func:`~manifold_core.ingest.plan.plan_ingest`), then streams: files are read one
at a time, their chunks embedded and written ``embedding_batch_size`` at a time, so memory
is bounded by the largest file's text plus one batch, not by the corpus. Each file's stale
chunks are deleted once all its new ones are written, and the manifest is written last. A
failed first ingest removes what it created; a failure in an existing index keeps the
files finished.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from manifold_core.embedding import embed_texts
from manifold_core.encoders import Tokenizer, resolve_encoder, tokenizer_for
from manifold_core.ingest.chunks import ChunkRecord, iter_chunks
from manifold_core.ingest.documents import SkippedFile, SourceDocument
from manifold_core.ingest.manifest import (
    IndexManifest,
    check_index_dir,
    now,
    precheck_model,
    resolve_model_spec,
    write_manifest,
)
from manifold_core.ingest.plan import FileEntry, IngestPlan, plan_ingest
from manifold_core.ingest.report import COUNTS, IngestProgress, IngestReport
from manifold_core.ingest.settings import ChunkerSettings, model_token_limit
from manifold_core.ingest.sources import iter_file_documents
from manifold_core.lexical import DEFAULT_LANGUAGE, LexicalTokenizer
from manifold_core.readers import SkipFile
from manifold_core.store import DEFAULT_COLLECTION, HybridStore
from manifold_core.validation import positive_int

__all__ = ["run_ingest"]

# A file read whose last chunks await the next flush: (file, ids made, ids it had, done).
_Waiting = tuple[FileEntry, set[str], set[str], bool]


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
        paths: files and directories (see :func:`~manifold_core.ingest.sources.scan_sources`).
        index_dir: the index directory; created when the first batch is written.
        model: embedding model spec; ``None`` takes the index's, else ``default_model``.
        default_model: the model of a new index when ``model`` is ``None``.
        chunker: :class:`~manifold_core.ingest.settings.ChunkerSettings` fields given by
            the user (``None`` values mean: the index's last settings, else the defaults).
        load_encoder: turns a spec into an encoder (default
            :func:`~manifold_core.encoders.resolve_encoder`); not called when there is
            nothing to embed.
        progress: told about each stage.
        embedding_batch_size: chunks per embedding call (and per write).
        include, exclude: globs (see :func:`~manifold_core.ingest.sources.scan_sources`).
        prune: delete the chunks of files gone from ``paths`` (see
            :class:`~manifold_core.ingest.plan.IngestPlan`).
        dry_run: plan only: load no model, write nothing.
        truncate: with ``kind="none"``, cut documents longer than the model reads at its
            limit (listed in ``truncated``) instead of refusing them.
        check_model: called with the model spec before any file is read (default
            :func:`~manifold_core.ingest.manifest.precheck_model` when ``load_encoder``
            is the default).
        stemming: the BM25 stemmer of a new index (``"english"``... or ``"none"``);
            ``None``: the index's, else :data:`~manifold_core.lexical.DEFAULT_LANGUAGE`.
            An existing index keeps its own (another value is refused).

    Raises:
        FileNotFoundError: a missing path.
        ValueError: a bad JSONL line, a foreign or mismatched index, bad chunker
            settings, or nothing readable at all. Nothing has been written when these
            are raised. Files that cannot be read are skipped and listed instead.
    """
    started = time.perf_counter()
    index_path = Path(index_dir).expanduser()
    manifest = _resumable_manifest(index_path)
    spec = resolve_model_spec(model, manifest, default_model, str(index_dir))
    settings = ChunkerSettings.merged(manifest.chunker if manifest else None, **(chunker or {}))
    settings.validate()
    language = _lexical_language(stemming, manifest, str(index_dir))
    if check_model is None and load_encoder is None:
        check_model = precheck_model
    if check_model is not None:
        check_model(spec)  # a bad model name fails now, not after hashing the folder
    batch_size = positive_int(embedding_batch_size, "embedding_batch_size")
    plan = plan_ingest(
        paths, manifest, settings, include=include, exclude=exclude, ignore=[index_path]
    )
    if not plan.files and not (prune and plan.gone):
        raise ValueError(_nothing_to_ingest(paths, plan.skipped))
    run = _Run(
        str(index_dir),
        manifest,
        spec,
        settings,
        language,
        plan,
        started,
        progress=progress,
        batch_size=batch_size,
        truncate=truncate,
    )
    if dry_run:
        return run.report(dry_run=True, created=False)
    todo = [f for f in plan.files if f.status != "unchanged"]
    if not todo and not (prune and plan.gone):
        return run.report(created=False)
    if todo:
        run.load_model(load_encoder or resolve_encoder)
    return run.write(todo, prune=prune)


def _resumable_manifest(index_path: Path) -> IndexManifest | None:
    """The index's manifest; ``None`` for a new index or one no file was finished in.

    The provisional manifest of a first ingest that was killed (or an index pruned to
    nothing) holds nothing finished, so that run is a first ingest again.
    """
    manifest = check_index_dir(index_path, must_exist=False)
    return manifest if manifest is not None and manifest.files else None


def _nothing_to_ingest(paths: Sequence[str | os.PathLike[str]], skipped: list[SkippedFile]) -> str:
    reasons: dict[str, int] = {}
    for sk in skipped:
        reasons[sk.reason] = reasons.get(sk.reason, 0) + 1
    why = ", ".join(f"{n} {r}" for r, n in reasons.items()) or "no files"
    return (
        f"nothing to ingest under {[str(p) for p in paths]}: no readable file with text "
        f"(skipped: {why})"
    )


def _lexical_language(
    stemming: str | None, manifest: IndexManifest | None, index_dir: str
) -> str | None:
    """The BM25 stemmer: the index's (a different one is refused), else the one asked for."""
    wanted = None if stemming is None else (None if stemming.lower() == "none" else stemming)
    if manifest is not None:
        if stemming is not None and wanted != manifest.lexical_language:
            raise ValueError(
                f"index {index_dir!r} was built with stemming "
                f"{manifest.lexical_language or 'none'!r}, not {stemming!r}; leave stemming "
                "unset or choose another index_dir"
            )
        return manifest.lexical_language
    language = DEFAULT_LANGUAGE if stemming is None else wanted
    LexicalTokenizer(language=language)  # an unknown language fails now
    return language


def _file_record(entry: FileEntry, chunks: int, **extra: Any) -> dict[str, Any]:
    """The manifest's entry for a file: hash, size, reader and chunk count."""
    return {
        "sha256": entry.sha256,
        "size": entry.size,
        "kind": entry.kind,
        "chunks": chunks,
        **extra,
    }


class _FileProgress:
    """Bytes of one file reported read as its chunks come (a JSONL file's at its end)."""

    def __init__(self, progress: IngestProgress | None, entry: FileEntry) -> None:
        self.progress = progress
        self.entry = entry
        self.done = 0

    def on_piece(self, doc: SourceDocument, end: int) -> None:
        """The chunks of ``doc`` are done up to offset ``end``."""
        if self.progress is not None and self.entry.kind != "jsonl" and doc.text:
            reached = int(self.entry.size * min(1.0, end / len(doc.text)))
            self.progress.advance("read", reached - self.done)
            self.done = reached

    def finish(self) -> None:
        """The file is read (or given up on): report the rest of its bytes."""
        if self.progress is not None:
            self.progress.advance("read", self.entry.size - self.done)


class _Run:
    """One ingest's state: the index, the model, the batch waiting to be written, the counts."""

    def __init__(
        self,
        index_dir: str,
        manifest: IndexManifest | None,
        spec: str,
        settings: ChunkerSettings,
        language: str | None,
        plan: IngestPlan,
        started: float,
        *,
        progress: IngestProgress | None,
        batch_size: int,
        truncate: bool,
    ) -> None:
        self.index_dir = index_dir
        self.index_path = Path(index_dir).expanduser()
        self.manifest = manifest
        self.spec = spec
        self.settings = settings
        self.language = language
        self.plan = plan
        self.started = started
        self.progress = progress
        self.batch_size = batch_size
        self.truncate = truncate
        self.skipped = list(plan.skipped)
        self.known = dict(manifest.files) if manifest is not None else {}
        # Every file found is in the manifest: its chunk counts add up to the index's.
        self.counted = manifest is not None and all(
            f.path.as_posix() in self.known for f in plan.files
        )
        # The model (a spec until load_model: a prune-only run loads none).
        self.encoder: Any = spec
        self.splitter: Any = None
        self.token_limit: int | None = None
        self.tokenizer: Tokenizer | None = None
        # The write.
        self.store: HybridStore | None = None
        self.dim = manifest.dimension if manifest is not None else None
        self.stats = dict.fromkeys(COUNTS, 0)
        self.truncated: list[SkippedFile] = []
        self.pending: list[ChunkRecord] = []
        self.waiting: list[_Waiting] = []
        self.files_out = dict(self.known)
        self.wrote = False
        self.provisional = False  # a first ingest wrote its provisional manifest

    # ------------------------------------------------------------------ the report

    def report(self, **kw: Any) -> IngestReport:
        """The report: nothing done, overridden by ``kw``."""
        base: dict[str, Any] = {
            "index_dir": self.index_dir,
            "model": self.spec,
            "created": self.manifest is None,
            "files": len(self.plan.files),
            **dict.fromkeys(COUNTS, 0),
            "total": sum(int(e.get("chunks", 0)) for e in self.known.values())
            if self.counted
            else 0,
            "seconds": time.perf_counter() - self.started,
            "chunker": self.settings,
            "plan": self.plan,
            "skipped": self.skipped,
        }
        base.update(kw)
        return IngestReport(**base)

    # ------------------------------------------------------------------ the model

    def load_model(self, load: Callable[[str], Any]) -> None:
        """Load the encoder and build the chunker; the settings get its resolved defaults."""
        self.encoder = load(self.spec)
        self.splitter = self.settings.build(self.encoder)
        self.settings = self.settings.effective(self.splitter)
        self.token_limit = model_token_limit(self.encoder)
        self.tokenizer = tokenizer_for(self.encoder)

    # ------------------------------------------------------------------ the write

    def write(self, todo: list[FileEntry], *, prune: bool) -> IngestReport:
        """Ingest the files of ``todo``, prune, save and write the manifest; undo on failure."""
        created = not self.index_path.exists()
        try:
            if self.progress is not None:
                self.progress.start("read", sum(f.size for f in todo))
                self.progress.start("embed", None)
            for entry in todo:
                self._ingest_file(entry)
            self._flush()
            pruned, pruned_files = self._prune() if prune else (0, [])
            if self.store is None:  # every file to read was skipped: nothing written
                if self.manifest is not None and self.files_out != self.known:
                    write_manifest(
                        self.index_path,
                        replace(self.manifest, files=self.files_out, updated=now()),
                    )
                return self.report(created=False, truncated=self.truncated, **self.stats)
            total = self._finish(self.store)
        except BaseException:
            self._undo(created)
            raise
        unread = {
            sk.path for sk in self.skipped[len(self.plan.skipped) :] if sk.reason != "too long"
        }
        return self.report(
            created=created,
            files=len(self.plan.files) - len(unread),
            total=total,
            truncated=self.truncated,
            pruned=pruned,
            pruned_files=pruned_files,
            wrote=self.wrote,
            **self.stats,
        )

    def _open_store(self) -> HybridStore:
        if self.store is None:
            m = self.manifest
            self.store = HybridStore(
                self.encoder,
                path=self.index_path,
                collection_name=m.collection if m else DEFAULT_COLLECTION,
                lexical_variant=m.lexical_variant if m else "lucene",  # type: ignore[arg-type]
                # A new index gets its stemmer; an existing one loads the saved tokenizer.
                tokenizer=None if m else LexicalTokenizer(language=self.language),
                autosave=False,
            )
        return self.store

    def _existing_ids(self, entry: FileEntry) -> set[str]:
        """The ids the index holds for ``entry`` (none to look up in a new index)."""
        if self.manifest is None or (entry.status == "new" and self.counted):
            return set()
        where = {"source": entry.path.as_posix()}
        return {r.id for r in self._open_store().iter_records(filter=where)}

    def _ingest_file(self, entry: FileEntry) -> None:
        """Read, chunk and queue one file; it is settled once its last chunk is written."""
        src = entry.path.as_posix()
        old = self._existing_ids(entry)
        produced: set[str] = set()
        tracker = _FileProgress(self.progress, entry)

        def documents() -> Iterator[SourceDocument]:
            for doc in iter_file_documents(entry.path, entry.kind):
                self.stats["documents"] += 1
                yield doc

        try:
            for rec in iter_chunks(
                documents(),
                self.splitter,
                tokenizer=self.tokenizer,
                token_limit=self.token_limit,
                truncate=self.truncate,
                on_skip=self.skipped.append,
                on_truncate=self.truncated.append,
                on_progress=tracker.on_piece,
            ):
                if rec.id in produced:
                    raise ValueError(f"{src}: two chunks share the id {rec.id}")
                produced.add(rec.id)
                self.stats["chunks"] += 1
                self.stats["tokens"] += rec.token_count
                self.pending.append(rec)
                if len(self.pending) >= self.batch_size:
                    self._flush()
        except SkipFile as exc:
            self._skip(entry, exc, produced, old)
            return
        finally:
            tracker.finish()
        self.waiting.append((entry, produced, old, True))
        if not self.pending:  # all its chunks are written: done now, not at the next batch
            self._flush()

    def _skip(self, entry: FileEntry, exc: SkipFile, produced: set[str], old: set[str]) -> None:
        """A file that failed to read: list it, and settle what it had in the index."""
        src = entry.path.as_posix()
        self.skipped.append(SkippedFile(src, exc.reason, exc.detail))
        if exc.reason == "empty" or produced:
            # Emptied: its old chunks go. Failed half-way: the chunks written stay
            # consistent, and the file is read again next time.
            self.waiting.append((entry, produced, old, exc.reason == "empty"))
            if not self.pending:
                self._flush()
        elif not old:  # remembered, so an unchanged unreadable file is not retried
            self.files_out[src] = _file_record(entry, 0, skipped=exc.reason, detail=exc.detail)

    def _flush(self) -> None:
        """Embed and write the pending chunks, then settle the files they finished."""
        if self.pending:
            self._write_pending()
        self._settle()

    def _write_pending(self) -> None:
        texts = [c.text for c in self.pending]
        vectors = embed_texts(self.encoder, texts, batch_size=len(texts))
        got = int(vectors.shape[1])
        if self.dim is not None and got != self.dim:
            raise ValueError(
                f"{self.spec!r} gives dimension {got}, but index {self.index_dir!r} holds "
                f"dimension {self.dim}; use another index_dir"
            )
        self.dim = got
        if self.manifest is None and not self.provisional:
            self._write_provisional_manifest(got)
        self._open_store().upsert(
            texts,
            [c.metadata for c in self.pending],
            ids=[c.id for c in self.pending],
            embeddings=vectors,
        )
        self.wrote = True
        if self.progress is not None:
            self.progress.advance("embed", len(texts))
        self.pending.clear()

    def _write_provisional_manifest(self, dim: int) -> None:
        """Before a first ingest's first write: a killed run leaves a folder that is
        recognisably ours (no files finished), so the next ingest resumes it."""
        store = self._open_store()
        stamp = now()
        manifest = IndexManifest(
            embedding_model=self.spec,
            dimension=dim,
            collection=store.collection_name,
            lexical_variant=store.lexical_variant,
            chunker=asdict(self.settings),
            files={},
            lexical_language=self.language,
            created=stamp,
            updated=stamp,
        )
        write_manifest(self.index_path, manifest)
        self.provisional = True

    def _settle(self) -> None:
        """Files whose chunks are all written: delete their stale chunks, count, record."""
        for entry, produced, old, done in self.waiting:
            stale = sorted(old - produced)
            if stale:
                self.stats["deleted"] += self._open_store().delete(ids=stale)
                self.wrote = True
            self.stats["replaced"] += len(produced & old)
            self.stats["new"] += len(produced - old)
            src = entry.path.as_posix()
            if not done:  # read again next time
                self.files_out.pop(src, None)
                continue
            self.files_out[src] = _file_record(entry, len(produced))
        self.waiting.clear()

    def _prune(self) -> tuple[int, list[str]]:
        """Delete the chunks of the files gone from the paths: (chunks, files)."""
        pruned, files = 0, []
        for src in self.plan.gone:
            pruned += self._open_store().delete(filter={"source": src})
            files.append(src)
            self.files_out.pop(src, None)
        self.wrote = self.wrote or pruned > 0
        return pruned, files

    def _finish(self, store: HybridStore) -> int:
        """Save the store and write the final manifest; the index's chunk count."""
        store.save()
        total = store.count()
        stamp = now()
        m = self.manifest
        manifest = IndexManifest(
            embedding_model=self.spec,
            dimension=int(self.dim or 0) or (m.dimension if m else 1),
            collection=store.collection_name,
            lexical_variant=store.lexical_variant,
            chunker=asdict(self.settings),
            files=self.files_out,
            lexical_language=self.language,
            fusion=m.fusion if m else None,
            created=m.created if m else stamp,
            updated=stamp,
        )
        write_manifest(self.index_path, manifest)
        return total

    def _undo(self, created: bool) -> None:
        """After a failure: a first ingest removes what it made; else keep what finished."""
        if self.manifest is None:
            _remove_new_index(self.index_path, created)
        elif self.store is not None and self.wrote:
            _save_partial(self.store, self.index_path, self.manifest, self.files_out)


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


def _save_partial(
    store: HybridStore,
    index_path: Path,
    manifest: IndexManifest,
    files: dict[str, dict[str, Any]],
) -> None:
    """After a failure mid-way: keep the files finished so far; the rest is redone later."""
    try:
        store.save()
        write_manifest(index_path, replace(manifest, files=files, updated=now()))
    except Exception:
        pass
