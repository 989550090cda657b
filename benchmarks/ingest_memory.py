"""Peak memory of ``manifold ingest`` on one large generated ``.txt`` file, per chunker.

Each run is a fresh process (``run_ingest`` into a new index), so its peak RSS
(``VmHWM`` in ``/proc/self/status``) is the ingest's own: reading, sectioning, chunking,
embedding in batches,
writing to Chroma and the BM25 index. The embedding model is either a real packaged one
(``--model pkg:all-MiniLM-L6-v2``: honest, slow on big files) or ``hash``, a hashed
bag-of-words encoder that costs next to nothing, so that a 50 MB file runs in minutes
and what is measured is the pipeline around the model, not the model. Prints a table:
file size, chunker, chunks, seconds and peak RSS (MiB), and the ratio of peak RSS to
file size. Run:

    python benchmarks/ingest_memory.py --mb 50 --chunkers fixed semantic none
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCES = [
    "Rooftop solar panels turn sunlight into direct current with silicon cells.",
    "An inverter converts the direct current into alternating current for the house.",
    "Sourdough bread rises slowly with a starter of flour, water and wild yeast.",
    "Bake the loaf in a preheated Dutch oven at 250 degrees for forty minutes.",
    "Giant pandas spend most of the day eating bamboo in the mountain forests.",
    "大熊猫一天中的大部分时间都在山林里吃竹子。",
    "The new BMW X1 stays quiet at 120 km/h; wind and tyre noise are low.",
]


def generate(path: Path, mb: float) -> None:
    """About ``mb`` MiB of prose in paragraphs of five sentences (deterministic)."""
    target = int(mb * 1024 * 1024)
    size, i = 0, 0
    with open(path, "w", encoding="utf-8") as fh:
        while size < target:
            para = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(5)) + f" ({i})\n\n"
            fh.write(para)
            size += len(para.encode("utf-8"))
            i += 1


CHILD = r"""
import hashlib, json, re, sys, time
import numpy as np
from manifold_core.encoders import CallableEncoder
from manifold_core.ingest import run_ingest

path, index, kind, model = sys.argv[1:5]
def hashed(texts):
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for tok in re.findall(r"\w+", t[:2000].lower()):
            out[i, hash(tok) % 64] += 1.0
        out[i, 0] += 1e-3
    return out / np.linalg.norm(out, axis=1, keepdims=True)
if model == "hash":
    enc = CallableEncoder(hashed)
    enc.max_seq_length = 256
    load = lambda spec: enc
else:
    load = None
t0 = time.perf_counter()
report = run_ingest([path], index, model=None if model == "hash" else model,
                    default_model=model, chunker={"kind": kind}, load_encoder=load,
                    truncate=True)
seconds = time.perf_counter() - t0
# VmHWM: the peak RSS of this process image. ru_maxrss would not do: Linux carries it
# over from the parent through fork and exec, so a child of a large pytest reports that.
with open("/proc/self/status") as fh:
    peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
print(json.dumps({"chunks": report.chunks, "seconds": seconds, "peak_mib": peak}))
"""


def measure(path: Path, kind: str, model: str, timeout: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
        repo = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(Path(tmp) / "index"), kind, model],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise SystemExit(f"{kind}: the ingest failed:\n{out.stderr[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["wall"] = time.perf_counter() - t0
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the generated file")
    parser.add_argument("--chunkers", nargs="+", default=["fixed", "semantic", "none"])
    parser.add_argument("--model", default="hash", help="'hash' or a model spec")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.txt"
        generate(path, args.mb)
        size_mib = path.stat().st_size / 2**20
        print(f"file: {size_mib:.1f} MiB of generated prose; model: {args.model}")
        print("| chunker | chunks | seconds | peak RSS (MiB) | peak / file size |")
        print("|---|---:|---:|---:|---:|")
        for kind in args.chunkers:
            r = measure(path, kind, args.model, args.timeout)
            print(
                f"| {kind} | {int(r['chunks']):,} | {r['seconds']:.0f} | "
                f"{r['peak_mib']:.0f} | {r['peak_mib'] / size_mib:.1f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
