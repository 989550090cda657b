"""Ingest files into a persisted :class:`~manifold_core.store.HybridStore`.

What the ``manifold ingest`` command does, as a library (no CLI framework here), one
concept per module:

- :mod:`~manifold_core.ingest.documents`: :class:`SourceDocument` (a document read from a
  file), :class:`SkippedFile` (a file left out, with its reason) and the metadata keys
  the ingest sets itself.
- :mod:`~manifold_core.ingest.sources`: which files (:func:`scan_sources`: directories
  walked, hidden entries and the index skipped, include/exclude globs) and their documents
  (:func:`iter_file_documents`, :func:`read_file`), through :mod:`manifold_core.readers`.
- :mod:`~manifold_core.ingest.jsonl`: ``.jsonl`` (optionally ``.gz``) files, one document
  per line, BEIR's ``corpus.jsonl`` included; a malformed line is an error naming file and
  line. Metadata values follow :func:`manifold_core.records.clean_metadata`.
- :mod:`~manifold_core.ingest.settings`: :class:`ChunkerSettings`, recorded in the manifest.
- :mod:`~manifold_core.ingest.chunks`: documents into :class:`ChunkRecord` s with ids from
  :func:`chunk_id` (source, document key, position: re-ingesting *replaces*).
- :mod:`~manifold_core.ingest.manifest`: :class:`IndexManifest` (``DIR/manifold-index.json``:
  model, dimension, chunker settings, a SHA-256 per file), the model it names
  (:func:`resolve_model_spec`, :func:`precheck_model`) and :func:`open_index`.
- :mod:`~manifold_core.ingest.plan`: :func:`plan_ingest`, the incremental plan (unchanged
  files are not read; changed ones replace exactly their chunks; gone ones are listed).
- :mod:`~manifold_core.ingest.write_plan`: :func:`plan_write`/:func:`apply_write` for
  chunks held in memory.
- :mod:`~manifold_core.ingest.report` and :mod:`~manifold_core.ingest.run`:
  :func:`run_ingest`, which streams (memory bounded by the largest file plus one batch)
  and writes the manifest last, and its :class:`IngestReport`.

Batched embedding is :func:`manifold_core.embedding.embed_texts` (re-exported here).
"""

from __future__ import annotations

from manifold_core.embedding import embed_texts
from manifold_core.ingest.chunks import (
    SECTION_CHARS,
    ChunkRecord,
    chunk_documents,
    chunk_id,
    iter_chunks,
)
from manifold_core.ingest.documents import RESERVED_KEYS, SkippedFile, SourceDocument
from manifold_core.ingest.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    TOOL_NAME,
    IndexManifest,
    check_index_dir,
    open_index,
    precheck_model,
    read_manifest,
    resolve_model_spec,
    write_manifest,
)
from manifold_core.ingest.plan import FileEntry, IngestPlan, plan_ingest
from manifold_core.ingest.report import IngestProgress, IngestReport
from manifold_core.ingest.run import run_ingest
from manifold_core.ingest.settings import CHUNKER_KINDS, ChunkerSettings, model_token_limit
from manifold_core.ingest.sources import (
    SUPPORTED_SUFFIXES,
    file_sha256,
    find_files,
    iter_file_documents,
    read_file,
    read_sources,
    scan_sources,
)
from manifold_core.ingest.write_plan import WritePlan, apply_write, plan_write

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
