"""Several processes against one real `chroma run` server: writers, readers, kill -9.

Each process is a real OS process (``mp_worker.py``), bounded in time; the parent checks
what they report: no hit ever fails its filter, nothing deleted long ago is returned, and
once the writers stop every reader's lexical index equals Chroma's content.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from hybrid_helpers import HashEncoder

from manifold_core.lexical import content_fingerprint
from manifold_core.store import HybridStore

pytestmark = [pytest.mark.server, pytest.mark.timeout(240)]

WORKER = Path(__file__).with_name("mp_worker.py")
STALENESS = 0.5  # mp_worker.STALENESS
MARGIN = 2.0  # seconds on top of max_staleness: process scheduling on 2 busy cores


def _spawn(
    role: str,
    port: int,
    name: str,
    out: Path,
    seed: int,
    duration: float,
    extra: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(WORKER), role, str(port), name, str(out), str(seed), str(duration)]
    if extra:
        args.append(extra)
    return subprocess.Popen(args, env={**os.environ, **(env or {})})


SEEDED = 60  # records every test collection starts with (:func:`_seed_collection`)


def _seed_collection(port: int, name: str) -> None:
    store = HybridStore(
        HashEncoder(), client=chromadb.HttpClient(host="127.0.0.1", port=port), collection_name=name
    )
    ids = [f"d{i}" for i in range(SEEDED)]
    texts = [f"red green seed{i}" for i in range(SEEDED)]
    store.add(texts, [{"g": i % 3} for i in range(SEEDED)], ids=ids)


def _truth(port: int, name: str) -> str:
    col = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(name)
    res = col.get(include=["documents", "metadatas"])
    return content_fingerprint(res["ids"], res["documents"], res["metadatas"])


def _deleted_for_good(logs: list[list[Any]]) -> dict[str, float]:
    """id -> time of its last delete, for ids never written again after it."""
    last_write: dict[str, float] = {}
    last_delete: dict[str, float] = {}
    for op, t, ids in logs:
        for i in ids:
            latest = last_delete if op == "delete" else last_write
            latest[i] = max(t, latest.get(i, t))
    return {i: t for i, t in last_delete.items() if last_write.get(i, -1.0) < t}


def _run(
    tmp_path: Path,
    port: int,
    writers: list[str],
    env: dict[str, str] | None = None,
    duration: float = 8.0,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    name = f"mp-{uuid.uuid4().hex[:8]}"
    _seed_collection(port, name)
    stop = tmp_path / f"{name}.stop"
    readers = [
        _spawn("reader", port, name, tmp_path / f"{name}-r{i}.json", 100 + i, 60.0, str(stop), env)
        for i in range(3)
    ]
    time.sleep(3.0)  # let the readers import and open
    procs = [
        _spawn(role, port, name, tmp_path / f"{name}-w{i}.json", i, duration, env=env)
        for i, role in enumerate(writers)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    stop.write_text("done")
    for p in readers:
        assert p.wait(timeout=120) == 0
    w = [json.loads((tmp_path / f"{name}-w{i}.json").read_text()) for i in range(len(writers))]
    r = [json.loads((tmp_path / f"{name}-r{i}.json").read_text()) for i in range(3)]
    return w, r, _truth(port, name)


def _check_readers(
    writers: list[dict[str, Any]], readers: list[dict[str, Any]], truth: str
) -> None:
    gone = _deleted_for_good([e for w in writers for e in w["log"]])
    for r in readers:
        assert r["searches"] > 20, r["searches"]
        assert r["violations"] == 0
        for started, ids in r["seen"]:
            for i in ids:
                assert not (i in gone and started > gone[i] + STALENESS + MARGIN), (i, started)
        assert r["lexical"] == r["truth"] == truth, r


def test_two_writers_and_three_readers_converge(
    chroma_server: tuple[str, int], tmp_path: Path
) -> None:
    _, port = chroma_server
    writers, readers, truth = _run(tmp_path, port, ["writer", "writer"])
    _check_readers(writers, readers, truth)
    for r in readers:  # our writers are followed through the journal, not by scans
        assert r["stats"]["reread"] > 0


def test_a_foreign_writer_is_detected_and_repaired(
    chroma_server: tuple[str, int], tmp_path: Path
) -> None:
    _, port = chroma_server
    env = {"MP_VERIFY_INTERVAL": "3"}
    writers, readers, truth = _run(tmp_path, port, ["writer", "foreign"], env=env)
    _check_readers(writers, readers, truth)
    for r in readers:
        assert r["stats"]["scans"] >= 1


@pytest.mark.parametrize("kill_at", [0, 400, 1200])
def test_a_writer_killed_mid_write_leaves_no_reader_behind(
    chroma_server: tuple[str, int], tmp_path: Path, kill_at: int
) -> None:
    """kill -9 of a 2,000-record upsert once ``kill_at`` of them are in Chroma.

    The kill point is the writer's progress, not a clock (a fast machine finished the whole
    upsert within a fixed 2.5 s); ``0`` kills it 0.3 s after it starts, before or during
    its first batch.
    """
    _, port = chroma_server
    name = f"kill-{uuid.uuid4().hex[:8]}"
    _seed_collection(port, name)
    env = {"MP_INTENT_TIMEOUT": "2"}
    client = chromadb.HttpClient(host="127.0.0.1", port=port)
    reader = HybridStore(
        HashEncoder(), client=client, collection_name=name, max_staleness=0, intent_timeout=2.0
    )
    started = tmp_path / "started"
    bulk = _spawn("bulk", port, name, tmp_path / "bulk.json", 7, 60.0, str(started), env)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if kill_at == 0:
        time.sleep(0.3)
    col = client.get_collection(name)
    while col.count() - SEEDED < kill_at and bulk.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    bulk.send_signal(signal.SIGKILL)
    bulk.wait(timeout=30)
    written = reader.count() - SEEDED
    assert 0 <= written < 2000  # killed part-way (or before its first batch)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reader.sync(0)
        reader.wait_for_repairs(30)
        if reader.lexical.fingerprint == _truth(port, name):
            break
        time.sleep(0.3)
    assert reader.lexical.fingerprint == _truth(port, name)
    held = set(col.get(include=[])["ids"])
    assert held == set(reader.lexical.ids)  # nothing Chroma holds is missing from the index
    # a reader opened after the kill agrees too
    late = HybridStore(HashEncoder(), client=client, collection_name=name)
    assert late.lexical.fingerprint == _truth(port, name)
    assert np.isfinite(reader.count())
