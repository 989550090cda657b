"""manifold_core.ingest: sources, ids, the manifest and the replace-on-reingest plan.

No model is loaded here: the store gets precomputed embeddings.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.ingest import (
    MANIFEST_NAME,
    ChunkerSettings,
    ChunkRecord,
    IndexManifest,
    SourceDocument,
    apply_write,
    check_index_dir,
    chunk_documents,
    chunk_id,
    find_files,
    plan_write,
    read_file,
    read_manifest,
    read_sources,
    resolve_model_spec,
    scan_sources,
    write_manifest,
)

# --------------------------------------------------------------------------- ids


@given(
    st.lists(
        st.tuples(st.text(max_size=12), st.text(max_size=6), st.integers(0, 50)),
        unique=True,
        max_size=40,
    )
)
@settings(max_examples=200, deadline=None)
def test_chunk_ids_are_deterministic_and_unique(triples: list[tuple[str, str, int]]) -> None:
    ids = [chunk_id(s, k, i) for s, k, i in triples]
    assert ids == [chunk_id(s, k, i) for s, k, i in triples]
    assert len(set(ids)) == len(ids)


def test_chunk_id_separates_source_and_key_unambiguously() -> None:
    assert chunk_id("a\0b", "c", 0) != chunk_id("a", "b\0c", 0)
    assert chunk_id("a", "1", 2) != chunk_id("a", "12", 0)
    with pytest.raises(ValueError, match="chunk index"):
        chunk_id("a", "", -1)


# ----------------------------------------------------------------------- sources


def test_find_files_walks_directories_skips_hidden_and_dedups(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / ".git").mkdir()
    for name in ("d/a.md", "d/sub/b.txt", "d/sub/c.jsonl.gz", "d/.git/x.txt", "d/.h.md", "d/i.png"):
        (tmp_path / name).write_bytes(b"")
    files = find_files([tmp_path / "d", tmp_path / "d" / "a.md"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "d/a.md",
        "d/sub/b.txt",
        "d/sub/c.jsonl.gz",
    ]
    with pytest.raises(FileNotFoundError, match="nope"):
        find_files([tmp_path / "nope"])
    # Named explicitly or not, a binary type is skipped with its reason, not read.
    found, skipped = scan_sources([tmp_path / "d" / "i.png"])
    assert found == []
    assert [(Path(s.path).name, s.reason) for s in skipped] == [("i.png", "unsupported type")]


def test_jsonl_records_carry_metadata_title_and_ids(tmp_path: Path) -> None:
    path = tmp_path / "cars.jsonl"
    path.write_text(
        json.dumps(
            {
                "text": "Quiet at 120 km/h.",
                "title": "X1 noise",
                "brand": "BMW",
                "year": 2023,
                "nested": {"ignored": True},
                "metadata": {"tags": ["suv"], "score": 0.5, "gone": None},
            }
        )
        + "\n\n"
        + json.dumps({"_id": 7, "text": "Another."})
        + "\n",
        encoding="utf-8",
    )
    first, second = read_file(path)
    source = path.resolve().as_posix()
    assert first.text == "X1 noise\n\nQuiet at 120 km/h."
    assert first.key == "line:1"
    assert first.metadata == {
        "source": source,
        "file_name": "cars.jsonl",
        "line": 1,
        "title": "X1 noise",
        "brand": "BMW",
        "year": 2023,
        "tags": ["suv"],
        "score": 0.5,
    }
    assert second.key == "7"
    assert second.metadata["doc_id"] == "7" and second.metadata["line"] == 3


def test_beir_corpus_gz_is_read(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl.gz"
    rows = [
        {"_id": "d1", "title": "Aspirin", "text": "Aspirin thins blood.", "metadata": {}},
        {"_id": "d2", "title": "", "text": "No title here.", "metadata": {"url": "u"}},
    ]
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    docs = read_file(path)
    assert [(d.key, d.text) for d in docs] == [
        ("d1", "Aspirin\n\nAspirin thins blood."),
        ("d2", "No title here."),
    ]
    assert docs[1].metadata["url"] == "u"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"title": "no text"}', r"bad\.jsonl:2: the record has no 'text' field"),
        ('{"text": 5}', r"bad\.jsonl:2: 'text' must be a string"),
        ('{"text": "x",', r"bad\.jsonl:2: invalid JSON"),
        ("[1, 2]", r"bad\.jsonl:2: expected a JSON object"),
        ('{"text": "x", "source": "web"}', r"bad\.jsonl:2: metadata key 'source' is reserved"),
        ('{"text": "x", "metadata": {"a": {"b": 1}}}', r"metadata\['a'\] is a dict"),
        ('{"text": "x", "metadata": {"a": [1, "b"]}}', r"mixes value types"),
        ('{"text": "x", "metadata": {"a": 99999999999999999999}}', r"does not fit in 64 bits"),
        ('{"_id": "a", "text": "x"}', r"id 'a' was already used on line 1"),
    ],
)
def test_bad_jsonl_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"_id": "a", "text": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_file(path)


def test_non_utf8_text_is_refused_with_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt: not UTF-8 text \(byte 0xe9 at offset 3\)"):
        read_file(path)


# ------------------------------------------------------------------------ chunks


def test_chunker_none_keeps_documents_whole_with_positions(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("One document. Two sentences.", encoding="utf-8")
    (tmp_path / "blank.md").write_text("  \n", encoding="utf-8")
    _, docs = read_sources([tmp_path])
    records = chunk_documents(docs, None)
    assert len(records) == 1
    (rec,) = records
    assert rec.text == "One document. Two sentences."
    assert rec.metadata["chunk_index"] == 0
    assert (rec.metadata["start"], rec.metadata["end"]) == (0, len(rec.text))
    assert rec.id == chunk_id(docs[0].source, "", 0)
    assert rec.token_count == 6  # RegexTokenizer: 4 words + 2 full stops


def test_chunker_settings_merge_over_the_previous_ones() -> None:
    previous = {
        "kind": "semantic",
        "breakpoint_rule": "stddev",
        "threshold": 1.5,
        "max_tokens": 128,
    }
    merged = ChunkerSettings.merged(previous, min_tokens=10, threshold=None)
    assert merged == ChunkerSettings("semantic", "stddev", 1.5, 0, 10, 128)
    # a new rule takes the new rule's defaults (threshold, size, overlap), not the old ones
    assert ChunkerSettings.merged(previous, breakpoint_rule="percentile").threshold is None
    resized = ChunkerSettings.merged({**previous, "overlap": 0}, breakpoint_rule="size")
    assert (resized.max_tokens, resized.overlap) == (None, None)
    kept = ChunkerSettings.merged({**previous, "overlap": 0}, breakpoint_rule="size", max_tokens=90)
    assert (kept.max_tokens, kept.overlap) == (90, None)
    # the default: the size rule, its size and overlap left to the chunker (300 / 150)
    assert ChunkerSettings() == ChunkerSettings("semantic", "size", None, 0, 0, None, None)
    with pytest.raises(ValueError, match="breakpoint rule must be one of"):
        ChunkerSettings(breakpoint_rule="nope")
    with pytest.raises(ValueError, match="chunker must be"):
        ChunkerSettings(kind="sliding")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"breakpoint_rule": "percentile", "threshold": 3.0},
        {"threshold": -1.0},
        {"max_tokens": 100, "overlap": 100},
        {"min_tokens": -1},
        {"min_tokens": 50, "max_tokens": 10},
        {"kind": "fixed", "max_tokens": 10, "overlap": 10},
        {"kind": "fixed", "overlap": -1},
    ],
)
def test_chunker_settings_are_validated_without_a_model(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ChunkerSettings(**kwargs).validate()


# ---------------------------------------------------------------------- manifest


def test_manifest_round_trip_and_directory_checks(tmp_path: Path) -> None:
    new = tmp_path / "new"
    assert check_index_dir(new, must_exist=False) is None
    with pytest.raises(FileNotFoundError, match="no index at"):
        check_index_dir(new, must_exist=True)
    new.mkdir()
    assert check_index_dir(new, must_exist=False) is None  # empty: fine for a new index
    manifest = IndexManifest("pkg:all-MiniLM-L6-v2", 384, chunker={"kind": "none"})
    write_manifest(new, manifest)
    assert read_manifest(new) == manifest
    assert check_index_dir(new, must_exist=True) == manifest
    assert not list(new.glob(".*tmp"))

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "chroma.sqlite3").write_bytes(b"x")
    with pytest.raises(ValueError, match="not a manifold index"):
        check_index_dir(foreign, must_exist=False)
    (foreign / MANIFEST_NAME).write_text('{"tool": "other"}', encoding="utf-8")
    with pytest.raises(ValueError, match="was not written by manifold-rag"):
        check_index_dir(foreign, must_exist=False)
    (foreign / MANIFEST_NAME).write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="unreadable"):
        read_manifest(foreign)
    future = {**manifest.to_dict(), "format": 99}
    (foreign / MANIFEST_NAME).write_text(json.dumps(future), encoding="utf-8")
    with pytest.raises(ValueError, match="upgrade"):
        read_manifest(foreign)


def test_model_spec_comes_from_the_manifest_and_a_mismatch_is_refused(tmp_path: Path) -> None:
    manifest = IndexManifest("pkg:all-MiniLM-L6-v2", 384)
    assert resolve_model_spec(None, None, "default/model") == "default/model"
    assert resolve_model_spec(None, manifest, "default/model") == "pkg:all-MiniLM-L6-v2"
    assert resolve_model_spec("pkg:all-MiniLM-L6-v2", manifest, "x") == "pkg:all-MiniLM-L6-v2"
    with pytest.raises(ValueError, match="was built with 'pkg:all-MiniLM-L6-v2'"):
        resolve_model_spec("other/model", manifest, "x")
    # a local folder is recorded absolute, so the index works from any directory
    folder = tmp_path / "model"
    folder.mkdir()
    assert resolve_model_spec(str(folder), None, "x") == folder.resolve().as_posix()


# -------------------------------------------------------------------- write plan


def _records(source: str, texts: list[str], key: str = "") -> list[ChunkRecord]:
    doc = SourceDocument("".join(texts), source, key, {"source": source, "file_name": "f"})
    return [
        ChunkRecord(chunk_id(source, key, i), t, {**doc.metadata, "chunk_index": i}, 1)
        for i, t in enumerate(texts)
    ]


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    from manifold_core.store import HybridStore

    return HybridStore(None, path=tmp_path / "ix")


def test_reingest_replaces_and_deletes_only_stale_chunks_of_the_same_source(store: Any) -> None:
    a = _records("/a.md", ["alpha one", "alpha two", "alpha three"])
    b = _records("/b.md", ["beta one", "beta two"])
    apply_write(store, plan_write(store, a + b, _vectors(5), {"/a.md", "/b.md"}))
    assert store.count() == 5

    same = plan_write(store, a, _vectors(3, 1), {"/a.md"})
    assert (same.replaced, same.stale_ids) == (3, [])
    apply_write(store, same)
    assert store.count() == 5

    shorter = _records("/a.md", ["alpha only"])
    plan = plan_write(store, shorter, _vectors(1, 2), {"/a.md"})
    assert plan.replaced == 1
    assert sorted(plan.stale_ids) == sorted(r.id for r in a[1:])
    apply_write(store, plan)
    assert sorted(r.id for r in store.iter_records()) == sorted([shorter[0].id] + [r.id for r in b])
    assert store.get(ids=[shorter[0].id])[0].text == "alpha only"
    assert [h[0] for h in store.lexical_search("alpha", 10)] == [shorter[0].id]


# ------------------------------------------------- one metadata rule, no CLI wording


def test_jsonl_metadata_reads_the_way_the_store_adds_it(tmp_path: Path) -> None:
    """The rule is records.clean_metadata (what HybridStore.add applies), with file and line.

    ``[]`` and ``None`` mean "no value" in both; keys with a prefix the store reserves are
    refused at read time, naming the line, not deep inside a write.
    """
    from manifold_core.records import clean_metadata

    record = {"text": "x", "metadata": {"tags": [], "gone": None, "ok": ["a", "b"], "n": 1.5}}
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    (doc,) = read_file(path)
    user = {k: v for k, v in doc.metadata.items() if k not in ("source", "file_name", "line")}
    assert user == clean_metadata(record["metadata"], 0) == {"ok": ["a", "b"], "n": 1.5}

    for bad, message in [
        ({"$k": 1}, r"m\.jsonl:1: metadata key '\$k' starts with a prefix the store reserves"),
        ({"chroma:k": 1}, r"m\.jsonl:1: metadata key 'chroma:k' starts with a prefix"),
        ({"a": [[1]]}, r"m\.jsonl:1: metadata\['a'\]\[0\] has type list"),
        ({"a": [1.0, float("nan")]}, r"m\.jsonl:1: metadata\['a'\]\[1\] is not finite"),
    ]:
        path.write_text(json.dumps({"text": "x", "metadata": bad}) + "\n", encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            read_file(path)
        with pytest.raises(ValueError):  # the store refuses the same value
            clean_metadata(bad, 0)


def test_library_errors_name_parameters_not_cli_flags(tmp_path: Path) -> None:
    from manifold_core.ingest import embed_texts, run_ingest

    manifest = IndexManifest("pkg:all-MiniLM-L6-v2", 384)
    messages = []
    for call in (
        lambda: resolve_model_spec(" ", None, "x"),
        lambda: resolve_model_spec("other/model", manifest, "x"),
        lambda: check_index_dir(tmp_path / "none", must_exist=True),
        lambda: embed_texts(None, ["a"], batch_size=0),  # type: ignore[arg-type]
        lambda: run_ingest(
            [tmp_path], tmp_path / "ix", default_model="x", load_encoder=str, embedding_batch_size=0
        ),
    ):
        with pytest.raises((ValueError, FileNotFoundError)) as info:
            call()
        messages.append(str(info.value))
    assert not [m for m in messages if "--" in m], messages
    assert messages[0] == "model must not be empty"
    assert "batch_size must be a positive int, got 0" in messages[3]
    assert messages[4] == "embedding_batch_size must be a positive int, got 0"
