"""``manifold ingest`` and ``manifold query`` end to end, with the real offline MiniLM.

One index is built per module and copied for the tests that change it (a copy is a
new Chroma path, so nothing is re-embedded).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from manifold_core.cli import app
from manifold_core.ingest import MANIFEST_NAME, read_manifest, read_sources

MODEL = "pkg:all-MiniLM-L6-v2"
ENV = {"COLUMNS": "160", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}

SOLAR = (
    "Rooftop solar panels turn sunlight into direct current with silicon photovoltaic cells. "
    "An inverter converts the direct current into alternating current for the household.\n\n"
    "A home battery stores the midday surplus of the panels for the evening. "
    "Under net metering the utility credits the power sent back to the grid."
)
BREAD = (
    "Sourdough bread rises with a starter of flour and water full of wild yeast. "
    "Bake the loaf in a preheated Dutch oven at 250 degrees Celsius for forty minutes, "
    "first with the lid on to trap steam."
)
CARS = [
    {
        "text": "The new BMW X1 stays quiet at 120 km/h; wind and tyre noise are low.",
        "brand": "BMW",
        "year": 2023,
        "metadata": {"topic": "noise", "tags": ["suv"]},
    },
    {
        "text": "The 2022 BMW X1 starts at about 38,600 dollars before options.",
        "brand": "BMW",
        "year": 2022,
        "metadata": {"topic": "price"},
    },
    {
        "text": "Our 2023 Mercedes-Benz C-Class review: a firm ride and a large touchscreen.",
        "brand": "Mercedes-Benz",
        "year": 2023,
        "metadata": {"topic": "review"},
    },
]


def run(*args: str) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def one_line_error(result: Result, needle: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and needle in lines[0], lines[0]


def write_corpus(root: Path) -> Path:
    docs = root / "docs"
    (docs / "notes").mkdir(parents=True)
    (docs / "solar.md").write_text("# Solar\n\n" + SOLAR + "\n", encoding="utf-8")
    (docs / "notes" / "bread.txt").write_text(BREAD + "\n", encoding="utf-8")
    (docs / "cars.jsonl").write_text("".join(json.dumps(r) + "\n" for r in CARS), encoding="utf-8")
    return docs


def snapshot(index: Path) -> dict[str, str]:
    return {
        p.relative_to(index).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(index.rglob("*"))
        if p.is_file()
    }


def query_json(index: Path, *args: str) -> list[dict[str, Any]]:
    return json.loads(ok("query", *args, "--index", index, "--json").stdout)


def count(index: Path) -> int:
    import chromadb

    client = chromadb.PersistentClient(path=str(index))
    return int(client.get_collection("manifold").count())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def built(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    index = tmp_path_factory.mktemp("built") / "index"
    result = ok("ingest", corpus, "--index", index, "--model", MODEL)
    return index, result.stdout


@pytest.fixture
def index_copy(built: tuple[Path, str], tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(built[0], target)
    return target


# ------------------------------------------------------------------------ ingest


def test_ingest_folder_gives_the_chunker_s_chunks_and_metadata(
    built: tuple[Path, str], corpus: Path, minilm_encoder: Any
) -> None:
    from manifold_core.chunking import SemanticChunker
    from manifold_core.store import HybridStore

    index, stdout = built
    manifest = read_manifest(index)
    assert manifest is not None
    assert (manifest.embedding_model, manifest.dimension) == (MODEL, 384)
    assert manifest.chunker["kind"] == "semantic" and manifest.chunker["max_tokens"] == 300
    assert manifest.chunker["breakpoint_rule"] == "size" and manifest.chunker["overlap"] == 150

    _, docs = read_sources([corpus])
    assert len(docs) == 5
    chunker = SemanticChunker(minilm_encoder)  # the default: size rule, 300 / 150
    expected = sum(len(c) for c in chunker.split_texts([d.text for d in docs]))
    assert count(index) == expected
    assert f"5 documents from 3 files, {expected} chunks" in " ".join(stdout.split())

    records = list(HybridStore(None, path=index).iter_records())
    by_file: dict[str, list[Any]] = {}
    for r in records:
        by_file.setdefault(r.metadata["file_name"], []).append(r)
    assert set(by_file) == {"solar.md", "bread.txt", "cars.jsonl"}
    by_key = {(d.source, d.metadata.get("line")): d for d in docs}
    for r in records:
        source = Path(r.metadata["source"])
        assert source.is_absolute() and source.name == r.metadata["file_name"]
        doc = by_key[(r.metadata["source"], r.metadata.get("line"))]
        assert doc.text[r.metadata["start"] : r.metadata["end"]] == r.text
    noise = next(r for r in by_file["cars.jsonl"] if r.metadata["line"] == 1)
    assert noise.metadata["brand"] == "BMW" and noise.metadata["year"] == 2023
    assert noise.metadata["topic"] == "noise" and noise.metadata["tags"] == ["suv"]
    solar = sorted(by_file["solar.md"], key=lambda r: r.metadata["chunk_index"])
    assert [r.metadata["chunk_index"] for r in solar] == list(range(len(solar)))


def test_chunker_none_gives_one_chunk_per_document(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "whole"
    ok("ingest", corpus, "--index", index, "--model", MODEL, "--chunker", "none")
    assert count(index) == 5
    manifest = read_manifest(index)
    assert manifest is not None and manifest.chunker["kind"] == "none"
    hits = query_json(index, "Dutch oven sourdough", "--k", "1")
    assert hits[0]["text"] == BREAD + "\n"
    assert (hits[0]["metadata"]["start"], hits[0]["metadata"]["end"]) == (0, len(BREAD) + 1)


def test_reingesting_a_file_replaces_its_chunks(index_copy: Path, corpus: Path) -> None:
    before = count(index_copy)
    bread = corpus / "notes" / "bread.txt"
    result = ok("ingest", bread, "--index", index_copy)  # model taken from the manifest
    assert count(index_copy) == before
    assert "0 new" in result.stdout and "0 stale deleted" in result.stdout


def test_a_shorter_file_loses_its_stale_chunks(index_copy: Path, tmp_path: Path) -> None:
    from manifold_core.store import HybridStore

    docs = write_corpus(tmp_path / "changed")
    ok("ingest", docs, "--index", index_copy)  # a second folder: new sources, new chunks
    total = count(index_copy)
    solar = docs / "solar.md"
    bread = docs / "notes" / "bread.txt"
    store = HybridStore(None, path=index_copy)
    old = [r.id for r in store.iter_records({"source": str(solar)})]
    old_bread = [r.id for r in store.iter_records({"source": str(bread)})]
    assert len(old) >= 1 and len(old_bread) >= 1
    solar.write_text("Solar panels are now one short sentence.\n", encoding="utf-8")
    cars = docs / "cars.jsonl"
    cars.write_text(json.dumps(CARS[0]) + "\n", encoding="utf-8")  # two records removed
    bread.write_text("\n", encoding="utf-8")  # emptied: all its chunks go
    result = ok("ingest", solar, cars, bread, "--index", index_copy)
    assert count(index_copy) == total - len(old) + 1 - 2 - len(old_bread)
    assert f"{len(old) - 1 + 2 + len(old_bread)} stale deleted" in result.stdout
    fresh = HybridStore(None, path=index_copy)
    assert [r.text for r in fresh.iter_records({"source": str(solar)})] == [
        "Solar panels are now one short sentence."
    ]
    hits = query_json(
        index_copy, "Mercedes C-Class review", "--filter", json.dumps({"source": str(cars)})
    )
    assert [h["metadata"]["line"] for h in hits] == [1]


# ------------------------------------------------------------------------- query


def test_query_puts_the_right_document_first(built: tuple[Path, str]) -> None:
    index, _ = built
    top = query_json(index, "how long do I bake sourdough in a Dutch oven", "--k", "3")
    assert top[0]["metadata"]["file_name"] == "bread.txt"
    top = query_json(index, "inverter turns direct current into alternating current")
    assert top[0]["metadata"]["file_name"] == "solar.md"


def test_json_output_has_ids_texts_metadata_and_scores(built: tuple[Path, str]) -> None:
    index, _ = built
    hits = query_json(index, "BMW X1 price", "--k", "4")
    assert len(hits) == 4
    assert [h["rank"] for h in hits] == [1, 2, 3, 4]
    first = hits[0]
    assert set(first) == {"rank", "id", "text", "chars", "metadata", "scores", "ranks"}
    assert first["chars"] == len(first["text"])  # short texts come whole
    assert set(first["scores"]) == {"fused", "dense", "lexical"}
    assert first["metadata"]["topic"] == "price"
    fused = [h["scores"]["fused"] for h in hits]
    assert fused == sorted(fused, reverse=True)


def test_filter_restricts_both_sides(built: tuple[Path, str]) -> None:
    index, _ = built
    # The query names Mercedes: unfiltered, the Mercedes review is the best match of both sides.
    text = "Mercedes-Benz C-Class review touchscreen"
    assert query_json(index, text, "--k", "1")[0]["metadata"]["brand"] == "Mercedes-Benz"
    hits = query_json(index, text, "--k", "10", "--filter", '{"brand": "BMW"}')
    assert len(hits) == 2
    assert all(h["metadata"]["brand"] == "BMW" for h in hits)
    # The 2022 price record is the best match of both sides, and neither may return it.
    text = "BMW X1 price in dollars"
    assert query_json(index, text, "--k", "1")[0]["metadata"]["topic"] == "price"
    recent = query_json(index, text, "--k", "10", "--filter", '{"year": {"$gte": 2023}}')
    assert {h["metadata"]["topic"] for h in recent} == {"noise", "review"}
    assert any(h["ranks"]["lexical"] is not None for h in recent)


def test_table_output_and_reranking(built: tuple[Path, str]) -> None:
    index, _ = built
    table = ok("query", "sourdough starter", "--index", index, "--k", "2").stdout
    assert "fused" in table and "bm25" in table and "rerank" not in table
    assert "bread.txt" in table
    reranked = ok(
        "query",
        "What does an inverter do?",
        "--index",
        index,
        "--k",
        "2",
        "--reranker",
        "pkg:ms-marco-MiniLM-L-12-v2",
    ).stdout
    assert "rerank" in reranked and "solar.md" in reranked
    hits = query_json(
        index,
        "What does an inverter do?",
        "--k",
        "2",
        "--rerank",
        "--reranker",
        "pkg:ms-marco-MiniLM-L-12-v2",
    )
    assert "rerank" in hits[0]["scores"] and hits[0]["metadata"]["file_name"] == "solar.md"
    rerank_scores = [h["scores"]["rerank"] for h in hits]
    assert rerank_scores == sorted(rerank_scores, reverse=True)


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ingest", "{tmp}/missing.md"], "no such file or directory"),
        (["ingest", "{tmp}/bad.jsonl"], "bad.jsonl:2: the record has no 'text' field"),
        (["ingest", "{tmp}/empty"], "nothing to ingest"),
        (["ingest", "{tmp}/ok.md", "--model", "{minilm}"], "was built with 'pkg:all-MiniLM-L6-v2'"),
        (["ingest", "{tmp}/ok.md", "--rule", "percentile", "--threshold", "3"], "threshold"),
        (["ingest", "{tmp}/ok.md", "--chunker", "sliding"], "chunker must be"),
        (["query", "sun", "--filter", '{"brand": "BMW"'], "not valid JSON"),
        (["query", "sun", "--filter", '{"brand": {"$like": "B"}}'], "unknown operator '$like'"),
        (["query", "sun", "--model", "{minilm}"], "was built with 'pkg:all-MiniLM-L6-v2'"),
        (["query", "sun", "--k", "0"], "--k must be a positive number"),
    ],
)
def test_errors_are_one_line_exit_2_and_leave_the_index_untouched(
    index_copy: Path, tmp_path: Path, minilm_path: str, args: list[str], needle: str
) -> None:
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{"title": "no text"}\n')
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text("\n  \n")
    (tmp_path / "ok.md").write_text("A new file that must not be written.\n")
    n = count(index_copy)  # opening with Chroma first: its first open rewrites some files
    before = snapshot(index_copy)
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{minilm}", minilm_path) for a in args]
    one_line_error(run(*argv, "--index", index_copy), needle)
    assert snapshot(index_copy) == before
    assert count(index_copy) == n
    assert query_json(index_copy, "sourdough", "--k", "1")[0]["metadata"]["file_name"] == (
        "bread.txt"
    )


def test_a_failing_ingest_never_creates_the_index(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"title": "no text"}\n')
    index = tmp_path / "new-index"
    # a valid model: a model-name error would come first (it is checked before any work)
    result = run("ingest", tmp_path / "bad.jsonl", "--index", index, "--model", MODEL)
    one_line_error(result, "bad.jsonl:1")
    assert not index.exists()


def test_another_tool_s_directory_is_refused(corpus: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.bin").write_bytes(b"\x00\x01")
    result = run("ingest", corpus, "--index", foreign, "--model", MODEL)
    one_line_error(result, "not a manifold index")
    assert sorted(p.name for p in foreign.iterdir()) == ["data.bin"]
    one_line_error(run("query", "sun", "--index", foreign), "not a manifold index")
    one_line_error(run("query", "sun", "--index", tmp_path / "none"), "no index at")
    assert not (foreign / MANIFEST_NAME).exists()


def test_a_manifest_naming_a_missing_collection_is_an_error(
    index_copy: Path,
) -> None:
    manifest = json.loads((index_copy / MANIFEST_NAME).read_text())
    manifest["collection"] = "not-there"
    (index_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    one_line_error(run("query", "sun", "--index", index_copy), "'not-there'")


def test_a_first_ingest_killed_mid_way_is_resumed_by_the_next(corpus: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    big = tmp_path / "big"
    big.mkdir()
    for i in range(40):
        (big / f"f{i:02d}.txt").write_text(
            " ".join(f"Sentence {j} of file {i} about topic {j % 7}." for j in range(60))
        )
    index = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "manifold_core",
            "ingest",
            str(big),
            "--index",
            str(index),
            "--model",
            MODEL,
            "--chunker",
            "fixed",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (index / MANIFEST_NAME).exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    # the folder is recognisably ours; the next ingest finishes it
    result = run("ingest", big, "--index", index, "--model", MODEL, "--chunker", "fixed")
    assert result.exit_code == 0, result.output
    files = json.loads((index / MANIFEST_NAME).read_text())["files"]
    assert len(files) == 40
    result = run("query", "topic 3", "--index", index, "--json")
    assert result.exit_code == 0, result.output
