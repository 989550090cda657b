"""Saving and loading an index snapshot: atomic generations of numpy/JSON files, no pickle.

A save writes a new generation folder (every file fsynced and listed with its size and
CRC32 in ``manifest.json``), then replaces the ``CURRENT`` pointer file atomically, so a
crash at any point leaves the previous index loadable. A load validates every file, then
every array against the manifest and against each other, in the named steps below.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manifold_core.filters import MetadataTable
from manifold_core.lexical import files
from manifold_core.lexical.scoring import BM25
from manifold_core.lexical.segments import Segment, Snapshot
from manifold_core.lexical.tokenizer import saved_tokenizer, tokenizer_config

__all__ = [
    "FORMAT",
    "VERSION",
    "Saved",
    "load",
    "remove_generations",
    "saved_fingerprint",
    "write_generation",
]

FORMAT = "manifold-lexical"
VERSION = 1
_DAY = 86_400


# --- save ----------------------------------------------------------------------------------


def write_generation(
    directory: Path,
    snap: Snapshot,
    vocab: list[str],
    bm25: BM25,
    tokenizer: Callable[[str], list[str]],
    extra: dict[str, Any],
) -> str:
    """Write ``snap`` as a new generation of ``directory`` and point ``CURRENT`` at it.

    Returns the generation's name; on any failure its temporary folder is removed and the
    previous generation stays current.
    """
    directory.mkdir(parents=True, exist_ok=True)
    gen = f"gen-{uuid.uuid4().hex[:16]}"
    tmp = directory / f"{gen}.tmp"
    tmp.mkdir()
    try:
        meta_header, meta_arrays = snap.table.to_arrays()
        written = _write_arrays(tmp, snap, meta_arrays)
        written["vocab.json"] = files.write_json(tmp / "vocab.json", vocab)
        written["ids.json"] = files.write_json(tmp / "ids.json", snap.ids[: snap.n_rows])
        written["meta.json"] = files.write_json(tmp / "meta.json", meta_header)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "variant": bm25.variant,
            "k1": bm25.k1,
            "b": bm25.b,
            "epsilon": bm25.epsilon,
            "tokenizer": tokenizer_config(tokenizer),
            "rows": snap.n_rows,
            "docs": snap.n_docs,
            "segments": len(snap.segments),
            "vocab_size": len(snap.df),
            "fingerprint": snap.fingerprint,
            "files": written,
            "extra": extra,
        }
        files.write_json(tmp / "manifest.json", manifest)
        files.fsync_dir(tmp)
        os.replace(tmp, directory / gen)
        pointer = directory / f"CURRENT.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        files.write_json(pointer, {"format": FORMAT, "generation": gen})
        os.replace(pointer, directory / "CURRENT")
        files.fsync_dir(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return gen


def _write_arrays(
    folder: Path, snap: Snapshot, meta_arrays: Mapping[str, np.ndarray]
) -> dict[str, dict[str, Any]]:
    """The snapshot's ``.npy`` files (rows, segments, metadata columns) and their entries."""
    arrays: dict[str, np.ndarray] = {
        "alive.npy": snap.alive,
        "doc_len.npy": snap.doc_len,
        "digests.npy": snap.digests,
    }
    for i, seg in enumerate(snap.segments):
        arrays[f"seg{i}_indptr.npy"] = seg.indptr
        arrays[f"seg{i}_rows.npy"] = seg.rows
        arrays[f"seg{i}_tfs.npy"] = seg.tfs
    for name, arr in meta_arrays.items():
        arrays[f"meta_{name}.npy"] = arr
    return {
        name: files.write_array(folder / name, np.ascontiguousarray(arr))
        for name, arr in arrays.items()
    }


def remove_generations(directory: Path, old: list[str], current: str) -> None:
    """Remove the generations ``old`` (written by this index) and leftovers of crashed
    processes a day old; never another live process's files."""
    for name in old:
        shutil.rmtree(directory / name, ignore_errors=True)
    day_ago = time.time() - _DAY
    for child in directory.iterdir():
        if child.name.startswith(("gen-", "CURRENT.")) and child.name not in (current, "CURRENT"):
            try:
                if child.stat().st_mtime >= day_ago:
                    continue
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink()
            except OSError:
                pass


# --- load ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    """A validated saved index: what :meth:`LexicalIndex.load` installs."""

    bm25: BM25
    tokenizer: Callable[[str], list[str]]
    snapshot: Snapshot
    table: MetadataTable
    row_of: dict[str, int]
    extra: dict[str, Any]


@dataclass(frozen=True)
class _Header:
    """The manifest's fields, typed."""

    root: Path
    files: dict[str, Any]
    rows: int
    docs: int
    segments: int
    vocab_size: int
    tokenizer: dict[str, Any]
    fingerprint: object
    extra: dict[str, Any]


def saved_fingerprint(directory: Path) -> str | None:
    """The fingerprint recorded in a saved index, without loading it (None if absent)."""
    try:
        pointer = json.loads((directory / "CURRENT").read_text(encoding="utf-8"))
        manifest = json.loads(
            (directory / str(pointer["generation"]) / "manifest.json").read_text("utf-8")
        )
        return str(manifest["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load(directory: Path, tokenizer: Callable[[str], list[str]] | None) -> Saved:
    """Read and validate the current generation of ``directory``.

    Raises:
        ValueError: naming the file that is missing, corrupt, or not ours.
    """
    root = _generation(directory)
    head, bm25 = _header(root, _manifest(root))
    for name, info in head.files.items():
        files.verify(head.root / name, info)
    if tokenizer is None:
        tokenizer = saved_tokenizer(head.tokenizer, directory)
    alive, doc_len, digests, vocab, ids = _rows(head)
    segments, df = _segments(head, alive)
    table = _table(head)
    term_ids, row_of = _lookups(head, vocab, ids, alive)
    snap = Snapshot(
        segments=segments,
        n_rows=head.rows,
        alive=alive,
        doc_len=doc_len,
        digests=digests,
        ids=ids,
        table=table.view(),
        df=df,
        n_docs=head.docs,
        vocab=term_ids,
        total_len=int(doc_len[alive].sum()),
    )
    if snap.fingerprint != head.fingerprint:
        raise ValueError(f"{head.root / 'digests.npy'} does not match the manifest's fingerprint")
    return Saved(bm25, tokenizer, snap, table, row_of, head.extra)


def _generation(directory: Path) -> Path:
    """The folder of the generation ``CURRENT`` points at."""
    pointer = files.read_json(directory / "CURRENT")
    if not isinstance(pointer, dict) or pointer.get("format") != FORMAT:
        raise ValueError(f"{directory / 'CURRENT'} is not a {FORMAT} pointer file")
    gen = pointer.get("generation")
    if not isinstance(gen, str) or not re.fullmatch(r"gen-[0-9a-f]+", gen):
        raise ValueError(f"{directory / 'CURRENT'} names an invalid generation {gen!r}")
    return directory / gen


def _manifest(root: Path) -> dict[str, Any]:
    """The generation's manifest, checked for our format and version."""
    mpath = root / "manifest.json"
    manifest = files.read_json(mpath)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{mpath} is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise ValueError(
            f"{mpath} has format version {manifest.get('version')!r}; this code reads "
            f"version {VERSION} (rebuild the index from the collection)"
        )
    return manifest


def _header(root: Path, manifest: dict[str, Any]) -> tuple[_Header, BM25]:
    """The manifest's fields and BM25 parameters, or ``ValueError`` naming it."""
    try:
        head = _Header(
            root=root,
            files=dict(manifest["files"]),
            rows=int(manifest["rows"]),
            docs=int(manifest["docs"]),
            segments=int(manifest["segments"]),
            vocab_size=int(manifest["vocab_size"]),
            tokenizer=dict(manifest["tokenizer"]),
            fingerprint=manifest.get("fingerprint"),
            extra=_extra(manifest.get("extra", {})),
        )
        variant = manifest["variant"]
        k1, b, eps = float(manifest["k1"]), float(manifest["b"]), float(manifest["epsilon"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{root / 'manifest.json'} is malformed: {exc}") from None
    return head, BM25.checked(variant, k1, b, eps)


def _extra(extra: object) -> dict[str, Any]:
    return dict(extra) if isinstance(extra, Mapping) else {}


def _array(head: _Header, name: str, dtype: Any, length: int | None = None) -> np.ndarray:
    """One listed 1-d array of ``dtype`` (and ``length``, if given)."""
    if name not in head.files:
        raise ValueError(f"{head.root / name} is missing from the manifest")
    a = files.read_array(head.root / name)
    if a.dtype != np.dtype(dtype) or a.ndim != 1 or (length is not None and len(a) != length):
        raise ValueError(
            f"{head.root / name} holds {a.dtype}{list(a.shape)}, expected {np.dtype(dtype)}"
            f"[{length if length is not None else 'n'}]"
        )
    return a


def _rows(
    head: _Header,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    """The per-row arrays, the vocabulary and the ids, consistent with the manifest."""
    root, rows, vsize = head.root, head.rows, head.vocab_size
    alive = _array(head, "alive.npy", np.bool_, rows)
    doc_len = _array(head, "doc_len.npy", np.int64, rows)
    digests = _array(head, "digests.npy", np.uint64, rows)
    vocab = files.read_json(root / "vocab.json")
    ids = files.read_json(root / "ids.json")
    if not (
        isinstance(vocab, list) and len(vocab) == vsize and all(isinstance(t, str) for t in vocab)
    ):
        raise ValueError(f"{root / 'vocab.json'} is not a list of {vsize} terms")
    if not (isinstance(ids, list) and len(ids) == rows and all(isinstance(i, str) for i in ids)):
        raise ValueError(f"{root / 'ids.json'} is not a list of {rows} ids")
    if int(alive.sum()) != head.docs or (doc_len < 0).any():
        raise ValueError(f"{root / 'alive.npy'} disagrees with the manifest's document count")
    return alive, doc_len, digests, vocab, ids


def _segments(head: _Header, alive: np.ndarray) -> tuple[tuple[Segment, ...], np.ndarray]:
    """The segments, each checked for consistent postings, and the live document
    frequencies they add up to."""
    segments = []
    df = np.zeros(head.vocab_size, dtype=np.int64)
    for i in range(head.segments):
        indptr = _array(head, f"seg{i}_indptr.npy", np.int64)
        srows = _array(head, f"seg{i}_rows.npy", np.int32)
        tfs = _array(head, f"seg{i}_tfs.npy", np.int32, len(srows))
        if (
            len(indptr) < 1
            or len(indptr) > head.vocab_size + 1
            or indptr[0] != 0
            or indptr[-1] != len(srows)
            or np.any(np.diff(indptr) < 0)
            or (len(srows) and (srows.min() < 0 or srows.max() >= head.rows))
            or (len(tfs) and tfs.min() < 1)
        ):
            name = f"seg{i}_indptr.npy"
            raise ValueError(f"{head.root / name} and its postings are inconsistent")
        seg = Segment(
            indptr,
            srows,
            tfs,
            int(srows.min()) if len(srows) else 0,
            int(srows.max()) if len(srows) else -1,
        )
        live = alive[srows]
        counts = np.bincount(seg.term_of_postings()[live], minlength=len(indptr) - 1)
        df[: len(counts)] += counts
        segments.append(seg)
    return tuple(segments), df


def _table(head: _Header) -> MetadataTable:
    """The metadata table: ``meta.json`` and its ``meta_*.npy`` columns, one row per row."""
    root = head.root
    meta_header = files.read_json(root / "meta.json")
    meta_arrays = {
        name[len("meta_") : -len(".npy")]: files.read_array(root / name)
        for name in head.files
        if name.startswith("meta_") and name.endswith(".npy")
    }
    try:
        table = MetadataTable.from_arrays(meta_header, meta_arrays)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{root / 'meta.json'} or its columns are invalid: {exc}") from None
    if len(table) != head.rows:
        raise ValueError(f"{root / 'meta.json'} has {len(table)} rows, expected {head.rows}")
    return table


def _lookups(
    head: _Header, vocab: list[str], ids: list[str], alive: np.ndarray
) -> tuple[dict[str, int], dict[str, int]]:
    """Term -> term id and live id -> row; a repeated term or live id is refused."""
    term_ids = {t: i for i, t in enumerate(vocab)}
    if len(term_ids) != len(vocab):
        raise ValueError(f"{head.root / 'vocab.json'} repeats a term")
    live_rows = np.flatnonzero(alive).tolist()
    row_of = {ids[r]: r for r in live_rows}
    if len(row_of) != len(live_rows):
        raise ValueError(f"{head.root / 'ids.json'} repeats a live id")
    return term_ids, row_of
