"""Fixtures for the core tests: a cheap deterministic encoder and a real `chroma run` server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hybrid_helpers import HashEncoder


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()


@pytest.fixture
def ephemeral_client() -> Any:
    """An in-memory Chroma client; each test gets fresh collection names via `unique_name`."""
    import chromadb

    return chromadb.EphemeralClient()


@pytest.fixture
def unique_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[tuple[str, int]]:
    """A real `chroma run` server on 127.0.0.1, started once per session and torn down."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        found = shutil.which("chroma")
        if found is None:
            pytest.skip("the `chroma` command (shipped with chromadb) is not installed")
        exe = Path(found)
    port = _free_port()
    data = tempfile.mkdtemp(prefix="chroma-server-")
    log = open(os.path.join(data, "server.log"), "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(exe), "run", "--host", "127.0.0.1", "--port", str(port), "--path", data + "/db"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        import chromadb

        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with {proc.returncode}; see {log.name}")
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not answer within 60 s; see {log.name}")
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def http_client(chroma_server: tuple[str, int]) -> Any:
    import chromadb

    host, port = chroma_server
    return chromadb.HttpClient(host=host, port=port)
