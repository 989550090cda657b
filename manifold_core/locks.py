"""One process per embedded Chroma directory, enforced with an OS file lock.

Chroma's embedded ``PersistentClient`` is not process-safe (its docs say so; measured: a
second process does not see the first one's writes, and concurrent saves of our lexical
snapshots fought over the same files). A store on a persistent directory therefore holds
an exclusive ``flock`` on the directory itself for the life of the process (no file is
written, so a read-only store leaves the folder untouched); any store of another process on
the same directory is refused with the fix (a ``chroma run`` server and
``chromadb.HttpClient``). Stores of one process share the lock. The OS releases it when the
process ends, even by ``kill -9``, so a crash never leaves a stale lock. (SQLite's own locks
are POSIX record locks, independent of ``flock``.)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

__all__ = ["DirectoryInUseError", "hold_directory"]

_held: dict[str, int] = {}
_guard = threading.Lock()


class DirectoryInUseError(RuntimeError):
    """Another process has this embedded Chroma directory open."""


def hold_directory(path: str | os.PathLike[str]) -> None:
    """Take (or re-use) this process's exclusive lock on an embedded Chroma directory.

    Raises:
        DirectoryInUseError: another process holds it.
    """
    directory = Path(path).resolve()
    key = str(directory)
    with _guard:
        if key in _held:
            return
        directory.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock, no check
            _held[key] = -1
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DirectoryInUseError(
                f"the embedded Chroma directory {directory} is open in another process. "
                "Chroma's embedded mode is not process-safe: for several workers or "
                f"processes run a server (`chroma run --path {directory}`) and connect "
                "with chromadb.HttpClient(host=..., port=...)"
            ) from None
        _held[key] = fd
