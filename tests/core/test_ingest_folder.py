"""run_ingest on a real mixed folder: every format read, every skip listed, incremental
re-ingest, --prune, --dry-run, globs and the token limit of ``--chunker none``.

The embeddings come from a counting bag-of-words encoder (so the test can count calls);
files, readers and the Chroma + BM25 store are the real ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from file_makers import HTML, PAGES, make_docx, make_pdf

from manifold_core.encoders import CallableEncoder
from manifold_core.ingest import read_file, read_manifest, run_ingest
from manifold_core.store import HybridStore

DIM = 64


class CountingEncoder(CallableEncoder):
    """Hashed bag of words (CJK characters one by one); counts every call."""

    def __init__(self, max_seq_length: int | None = None) -> None:
        super().__init__(self._embed)
        self.calls = 0
        if max_seq_length is not None:
            self.max_seq_length = max_seq_length

    def _embed(self, texts: Any) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in re.findall(r"[\u4e00-\u9fff]|\w+", text.lower()):
                out[i, int(hashlib.md5(tok.encode()).hexdigest(), 16) % DIM] += 1.0
            out[i, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def build_folder(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    make_pdf(docs / "topics.pdf", PAGES)
    (docs / "x1.html").write_text(HTML, encoding="utf-8")
    make_docx(docs / "sub" / "panda.docx")
    (docs / "guide.md").write_text(
        "# Setup\n\nInstall the package.\n\n## Offline\n\n离线模型随包提供。\n", encoding="utf-8"
    )
    (docs / "README").write_text("A readme without a suffix is text.\n", encoding="utf-8")
    (docs / "notes.bak").write_text("备份的笔记也是文本。\n", encoding="utf-8")
    (docs / "image.bak").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (docs / "empty.txt").write_text("  \n", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 not really")
    records = [{"_id": "a", "text": "The 2022 BMW X1 costs 38,600 dollars."}, {"text": "熊猫。"}]
    (docs / "cars.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return docs


def ingest(docs: Path, index: Path, enc: CountingEncoder, **kw: Any) -> Any:
    kw.setdefault("chunker", {"max_tokens": 64})
    return run_ingest([docs], index, default_model="counting", load_encoder=lambda _: enc, **kw)


def records(index: Path) -> dict[str, Any]:
    return {r.id: r for r in HybridStore(None, path=index).iter_records()}


def snapshot(index: Path) -> dict[str, str]:
    return {
        p.relative_to(index).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(index.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path, Any]:
    docs = build_folder(tmp_path)
    index = tmp_path / "index"
    report = ingest(docs, index, CountingEncoder())
    return docs, index, report


def test_every_format_is_read_with_its_metadata(built: tuple[Path, Path, Any]) -> None:
    docs, index, report = built
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert skipped == {
        "image.bak": "not text",
        "logo.png": "unsupported type",
        "empty.txt": "empty",
        "broken.pdf": "unreadable",
    }
    assert report.files == 7 and report.documents == 8  # cars.jsonl holds two
    stored = list(records(index).values())
    by_file: dict[str, list[Any]] = {}
    for r in stored:
        by_file.setdefault(r.metadata["file_name"], []).append(r)
        doc = next(
            d
            for d in read_file(r.metadata["source"])
            if d.metadata.get("line") == r.metadata.get("line")
        )
        assert doc.text[r.metadata["start"] : r.metadata["end"]] == r.text
    assert set(by_file) == {
        "topics.pdf",
        "x1.html",
        "panda.docx",
        "guide.md",
        "README",
        "notes.bak",
        "cars.jsonl",
    }
    pages = {r.metadata["page"]: r.text for r in by_file["topics.pdf"]}
    assert sorted(pages) == [1, 2, 3]
    assert "大熊猫" in pages[3] and "Sourdough" in pages[2]
    html = by_file["x1.html"]
    assert {r.metadata["title"] for r in html} == {"宝马 X1 评测"}
    price = [r for r in html if "38,600 USD" in r.text]
    assert price and price[0].metadata["heading"] == "宝马 X1 > 价格"
    assert not any("Log in" in r.text for r in html)
    headings = {r.metadata.get("heading") for r in by_file["panda.docx"]}
    assert {"饮食", "饮食 > Bamboo species", "栖息地"} <= headings
    assert {r.metadata.get("heading") for r in by_file["guide.md"]} == {"Setup", "Setup > Offline"}
    manifest = read_manifest(index)
    assert manifest is not None
    indexed = {Path(p).name for p, e in manifest.files.items() if not e.get("skipped")}
    assert indexed == set(by_file)
    # A file that could not be read is remembered, so it is not retried while unchanged.
    assert manifest.files[(docs / "broken.pdf").as_posix()]["skipped"] == "unreadable"
    assert sum(e["chunks"] for e in manifest.files.values()) == len(stored) == report.total


def test_unchanged_folder_costs_no_embedding_and_no_write(
    built: tuple[Path, Path, Any],
) -> None:
    docs, index, _ = built
    before = snapshot(index)
    enc = CountingEncoder()
    report = ingest(docs, index, enc)
    assert enc.calls == 0
    assert not report.wrote and report.chunks == 0
    assert len(report.plan.with_status("unchanged")) == 7
    assert snapshot(index) == before


def test_a_changed_file_replaces_exactly_its_chunks(built: tuple[Path, Path, Any]) -> None:
    docs, index, _ = built
    before = records(index)
    guide = (docs / "guide.md").as_posix()
    (docs / "guide.md").write_text("# Setup\n\nOnly one short line now.\n", encoding="utf-8")
    enc = CountingEncoder()
    report = ingest(docs, index, enc)
    assert enc.calls > 0
    assert [f.path.name for f in report.plan.with_status("changed")] == ["guide.md"]
    after = records(index)
    untouched = {
        i: (r.text, r.metadata) for i, r in before.items() if r.metadata["source"] != guide
    }
    assert {i: (r.text, r.metadata) for i, r in after.items() if i in untouched} == untouched
    assert set(after) - set(untouched) == {
        i for i, r in after.items() if r.metadata["source"] == guide
    }
    assert [r.text for r in after.values() if r.metadata["source"] == guide] == [
        "# Setup\n\nOnly one short line now."
    ]
    old_guide = [i for i, r in before.items() if r.metadata["source"] == guide]
    assert report.deleted == len(old_guide) - 1 and report.replaced == 1


def test_prune_removes_exactly_the_deleted_file_s_chunks(
    built: tuple[Path, Path, Any],
) -> None:
    docs, index, _ = built
    before = records(index)
    gone = (docs / "sub" / "panda.docx").as_posix()
    n_gone = sum(1 for r in before.values() if r.metadata["source"] == gone)
    (docs / "sub" / "panda.docx").unlink()
    kept = ingest(docs, index, CountingEncoder())
    assert kept.plan.gone == [gone] and kept.pruned == 0
    assert set(records(index)) == set(before)  # without --prune they stay
    enc = CountingEncoder()
    pruned = ingest(docs, index, enc, prune=True)
    assert enc.calls == 0
    assert pruned.pruned == n_gone and pruned.pruned_files == [gone]
    assert set(records(index)) == {i for i, r in before.items() if r.metadata["source"] != gone}
    manifest = read_manifest(index)
    assert manifest is not None and gone not in manifest.files


def test_dry_run_loads_no_model_and_writes_nothing(built: tuple[Path, Path, Any]) -> None:
    docs, index, _ = built
    (docs / "new.txt").write_text("A new file.\n", encoding="utf-8")
    (docs / "README").unlink()
    before = snapshot(index)

    def no_model(_: str) -> Any:
        raise AssertionError("a dry run must not load the model")

    report = run_ingest(
        [docs], index, default_model="counting", load_encoder=no_model, dry_run=True, prune=True
    )
    assert report.dry_run and not report.wrote
    assert [f.path.name for f in report.plan.with_status("new")] == ["new.txt"]
    assert [Path(g).name for g in report.plan.gone] == ["README"]
    assert snapshot(index) == before
    data = report.to_dict()
    assert [Path(p).name for p in data["files_new"]] == ["new.txt"]
    assert {s["reason"] for s in data["skipped"]} == {
        "not text",
        "unsupported type",
        "empty",
        "unreadable",
    }


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    docs = build_folder(tmp_path)
    report = ingest(
        docs, tmp_path / "i1", CountingEncoder(), include=["*.md", "*.docx"], exclude=["sub"]
    )
    assert [f.path.name for f in report.plan.files] == ["guide.md"]
    assert all(s.reason == "excluded" for s in report.skipped if Path(s.path).suffix != ".docx")


def test_chunker_none_refuses_or_truncates_long_documents(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "short.txt").write_text("Short enough.", encoding="utf-8")
    (docs / "long.txt").write_text("word " * 500, encoding="utf-8")
    enc = CountingEncoder(max_seq_length=100)
    refused = ingest(docs, tmp_path / "a", enc, chunker={"kind": "none"})
    assert [(Path(s.path).name, s.reason) for s in refused.skipped] == [("long.txt", "too long")]
    assert refused.chunks == 1
    cut = ingest(
        docs, tmp_path / "b", CountingEncoder(100), chunker={"kind": "none"}, truncate=True
    )
    assert [Path(t.path).name for t in cut.truncated] == ["long.txt"] and cut.chunks == 2
    long_chunk = [
        r for r in records(tmp_path / "b").values() if r.metadata["file_name"] == "long.txt"
    ]
    assert long_chunk[0].text == ("word " * 100).strip()


def test_fixed_chunker_windows_overlap(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    words = [f"w{i}" for i in range(300)]
    (docs / "a.txt").write_text(" ".join(words), encoding="utf-8")
    report = ingest(
        docs,
        tmp_path / "i",
        CountingEncoder(),
        chunker={"kind": "fixed", "max_tokens": 50, "overlap": 10},
    )
    chunks = sorted(records(tmp_path / "i").values(), key=lambda r: r.metadata["chunk_index"])
    assert report.chunker.kind == "fixed" and report.chunker.overlap == 10
    assert len(chunks) == 8  # starts every 40 tokens: 0, 40, ..., 280
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert len(first) == 50 and first[-10:] == second[:10]


def test_a_bad_model_name_fails_before_any_slow_work(tmp_path: Path) -> None:
    """No torch import, no file read: the name is checked against the cache and packages."""
    code = (
        "import sys\n"
        "from manifold_core.ingest import precheck_model\n"
        "from manifold_core.packaged import ModelLoadError\n"
        "for spec in ['Qwen/No-Such-Model-0.6B', 'pkg:no-such-model', './no/such/folder']:\n"
        "    try:\n"
        "        precheck_model(spec)\n"
        "    except ModelLoadError as exc:\n"
        "        print(spec, '->', str(exc)[:40])\n"
        "precheck_model('pkg:all-MiniLM-L6-v2')\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    ).stdout.splitlines()
    assert [line.split(" -> ")[0] for line in out[:-1]] == [
        "Qwen/No-Such-Model-0.6B",
        "pkg:no-such-model",
        "./no/such/folder",
    ]
    assert out[-1] == "False False"


def test_new_indexes_stem_english_and_keep_their_stemmer(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "car.txt").write_text("Wind and tyre noise stay low at speed.", encoding="utf-8")
    (docs / "bread.txt").write_text("Bake the loaves in a Dutch oven.", encoding="utf-8")
    stemmed = tmp_path / "stemmed"
    ingest(docs, stemmed, CountingEncoder())
    manifest = read_manifest(stemmed)
    assert manifest is not None and manifest.lexical_language == "english"
    store = HybridStore(CountingEncoder(), path=stemmed)  # reopened: the saved tokenizer

    def names(query: str) -> list[str]:
        return [store.get([i])[0].metadata["file_name"] for i, _ in store.lexical_search(query, 5)]

    assert names("tyres") == ["car.txt"]
    assert names("baking") == ["bread.txt"]  # bake, baking -> bake
    plain = tmp_path / "plain"
    ingest(docs, plain, CountingEncoder(), stemming="none")
    assert HybridStore(CountingEncoder(), path=plain).lexical_search("tyres", 5) == []
    with pytest.raises(ValueError, match="was built with stemming 'english'"):
        ingest(docs, stemmed, CountingEncoder(), stemming="none")


def test_a_failure_midway_keeps_the_files_finished_and_redoes_the_rest(
    built: tuple[Path, Path, Any],
) -> None:
    docs, index, _ = built
    (docs / "a-first.txt").write_text("Finished before the failure.\n", encoding="utf-8")
    (docs / "zz-last.txt").write_text("The model fails on this one.\n", encoding="utf-8")

    class Failing(CountingEncoder):
        def _embed(self, texts: Any) -> np.ndarray:
            if any("fails" in t for t in texts):
                raise RuntimeError("the model crashed")
            return super()._embed(texts)

    with pytest.raises(RuntimeError, match="crashed"):
        ingest(docs, index, Failing(), embedding_batch_size=1)
    manifest = read_manifest(index)
    assert manifest is not None
    assert (docs / "a-first.txt").as_posix() in manifest.files  # kept, not redone
    assert (docs / "zz-last.txt").as_posix() not in manifest.files
    enc = CountingEncoder()
    again = ingest(docs, index, enc)
    assert [f.path.name for f in again.plan.files if f.status != "unchanged"] == ["zz-last.txt"]
    names = {r.metadata["file_name"] for r in records(index).values()}
    assert {"a-first.txt", "zz-last.txt"} <= names
