"""Checksummed, fsynced files for the saved index: ``.npy`` arrays (never pickled) and JSON,
each written with its size and CRC32 and verified against them when read.

Module-level functions, called through the module, so tests can simulate a crash mid-save.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "finish_file",
    "fsync_dir",
    "read_array",
    "read_json",
    "verify",
    "write_array",
    "write_json",
]


def _crc_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def finish_file(path: Path) -> dict[str, Any]:
    """Fsync a written file and return its manifest entry (size and CRC32)."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    return {"bytes": path.stat().st_size, "crc32": _crc_file(path)}


def write_array(path: Path, array: np.ndarray) -> dict[str, Any]:
    """Write one ``.npy`` (never pickled) and return its size and checksum."""
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
    return finish_file(path)


def write_json(path: Path, obj: Any) -> dict[str, Any]:
    """Write one JSON file (UTF-8, not ASCII-escaped) and return its size and checksum."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    return finish_file(path)


def fsync_dir(path: Path) -> None:
    """Fsync a directory, so the names of the files just written in it are durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def verify(path: Path, info: Any) -> None:
    """Raise ``ValueError`` unless ``path`` has the size and CRC32 of its manifest entry."""
    if not path.is_file():
        raise ValueError(f"{path} is missing; the index is incomplete (rebuild it)")
    try:
        size, crc = int(info["bytes"]), int(info["crc32"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"the manifest entry of {path} is malformed") from None
    if path.stat().st_size != size or _crc_file(path) != crc:
        raise ValueError(f"{path} is corrupt (size or checksum differs from the manifest)")


def read_json(path: Path) -> Any:
    """Parsed JSON of ``path``; ``ValueError`` naming it when missing or invalid."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path} is missing; no lexical index saved there") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


def read_array(path: Path) -> np.ndarray:
    """The ``.npy`` array in ``path``, refusing pickled objects; ``ValueError`` naming it."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path} is not a valid .npy array: {exc}") from None
