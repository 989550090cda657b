"""``manifold chunks``: cuts at the topic changes, JSON, the plot, one-line errors."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from topics import EN_TOPICS, ZH_TOPICS, joined
from typer.testing import CliRunner

from manifold_core.cli import app
from manifold_core.plotting import similarity_cutoff

ZH_MODEL = "pkg:multilingual-use"
SEED = ("--rule", "percentile")
"""The seed's rule, which cuts these short three-topic texts at their topics."""


def _invoke(*args: str, columns: int = 200) -> Any:
    return CliRunner().invoke(app, ["chunks", *args], env={"COLUMNS": str(columns)})


@pytest.fixture
def zh_file(tmp_path: Path) -> tuple[Path, list[int]]:
    text, starts = joined(ZH_TOPICS)
    path = tmp_path / "topics.txt"
    path.write_text(text, encoding="utf-8")
    return path, starts


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_json_cuts_at_the_topic_changes(zh_file: tuple[Path, list[int]]) -> None:
    path, starts = zh_file
    result = _invoke(str(path), "--model", ZH_MODEL, "--json", *SEED)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    text = path.read_text(encoding="utf-8")
    chunks = data["chunks"]
    assert [c["start"] for c in chunks[1:]] == starts
    assert "".join(c["text"] for c in chunks) == text
    assert all(text[c["start"] : c["end"]] == c["text"] for c in chunks)
    assert [c["cut"] for c in chunks] == [None, "semantic", "semantic"]
    # The gaps: one per sentence boundary, the cut ones are the two topic changes and
    # lie below the cut-off, which is the 20th percentile of the similarities.
    sims = np.array([g["similarity"] for g in data["gaps"]])
    cut = [g for g in data["gaps"] if g["cut"]]
    assert [g["offset"] for g in cut] == starts
    assert data["rule"] == "percentile" and data["threshold"] == pytest.approx(0.2)
    assert data["cutoff"] == pytest.approx(float(np.percentile(sims, 20)))
    assert all(g["similarity"] < data["cutoff"] for g in cut)
    assert all(g["similarity"] >= data["cutoff"] for g in data["gaps"] if not g["cut"])
    assert data["sentences"] == len(data["gaps"]) + 1 == 9


def test_table_shows_each_chunk_with_its_boundary_similarity(
    zh_file: tuple[Path, list[int]],
) -> None:
    path, _ = zh_file
    result = _invoke(str(path), "-m", ZH_MODEL, *SEED)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "3 chunks" in out
    for topic in ZH_TOPICS:
        assert topic[:12] in out  # each chunk's preview starts with its topic
    assert out.count("│ semantic") == 2
    assert "2 semantic cuts, 0 size-limit cuts" in out
    assert "9 sentences, 8 gaps" in out
    assert "cut-off: 20th percentile = 0." in out


def test_plot_writes_a_png(zh_file: tuple[Path, list[int]], tmp_path: Path) -> None:
    path, _ = zh_file
    png = tmp_path / "cliffs.png"
    result = _invoke(str(path), "-m", ZH_MODEL, "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert f"wrote {png}" in " ".join(result.stdout.split())
    width, height = _png_size(png)
    assert 800 <= width <= 6000 and 300 <= height <= 1200
    assert png.stat().st_size > 10_000  # a drawing, not an empty canvas


def test_plot_with_json_keeps_stdout_pure_json(
    zh_file: tuple[Path, list[int]], tmp_path: Path
) -> None:
    path, _ = zh_file
    svg = tmp_path / "cliffs.svg"
    result = _invoke(str(path), "-m", ZH_MODEL, "--json", "--plot", str(svg))
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert "wrote" in result.stderr
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_size_limit_cuts_are_told_apart(zh_file: tuple[Path, list[int]]) -> None:
    path, starts = zh_file
    result = _invoke(str(path), "-m", ZH_MODEL, "--max-tokens", "60", "--json", *SEED)
    assert result.exit_code == 0, result.output
    chunks = json.loads(result.stdout)["chunks"]
    assert all(c["tokens"] <= 60 for c in chunks)
    kinds = {c["start"]: c["cut"] for c in chunks[1:]}
    assert [kinds[s] for s in starts] == ["semantic", "semantic"]
    assert sum(k == "size" for k in kinds.values()) == len(chunks) - 3


@pytest.mark.parametrize(
    ("rule", "threshold"),
    [("number_of_chunks", "3"), ("stddev", "1"), ("absolute", "0.2"), ("gradient", "0.2")],
)
def test_other_rules_find_the_topics_too(
    zh_file: tuple[Path, list[int]], rule: str, threshold: str
) -> None:
    path, starts = zh_file
    result = _invoke(str(path), "-m", ZH_MODEL, "-r", rule, "-t", threshold, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [c["start"] for c in data["chunks"][1:]] == starts
    assert (data["cutoff"] is None) == (rule == "gradient")


@pytest.mark.slow
def test_english_with_the_seed_rule(tmp_path: Path) -> None:
    text, starts = joined(EN_TOPICS, " ")
    path = tmp_path / "en.txt"
    path.write_text(text, encoding="utf-8")
    result = _invoke(str(path), "-m", "pkg:all-MiniLM-L6-v2", "--json", *SEED)
    assert result.exit_code == 0, result.output
    assert [c["start"] for c in json.loads(result.stdout)["chunks"][1:]] == starts


@pytest.mark.slow
def test_the_default_shows_the_splitters_default_chunks(tmp_path: Path) -> None:
    from manifold_core.chunking import SemanticChunker
    from manifold_core.encoders import resolve_encoder

    text = " ".join(EN_TOPICS * 3)
    path = tmp_path / "en.txt"
    path.write_text(text, encoding="utf-8")
    result = _invoke(str(path), "-m", "pkg:all-MiniLM-L6-v2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = SemanticChunker(resolve_encoder("pkg:all-MiniLM-L6-v2")).split_text(text)
    assert data["rule"] == "size"
    assert [(c["start"], c["end"]) for c in data["chunks"]] == [(c.start, c.end) for c in expected]
    # overlapping chunks: each cut is the gap after the previous chunk's last sentence
    cut_offsets = [g["offset"] for g in data["gaps"] if g["cut"]]
    assert len(expected) > 1 and cut_offsets == [
        min(u for u in (g["offset"] for g in data["gaps"]) if u >= c.end) for c in expected[:-1]
    ]


def test_stdin_is_read_with_a_dash() -> None:
    text, starts = joined(ZH_TOPICS)
    result = CliRunner().invoke(
        app, ["chunks", "-", "-m", ZH_MODEL, "--json", *SEED], input=text.encode("utf-8")
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["file"] == "stdin"
    assert [c["start"] for c in data["chunks"][1:]] == starts


def _one_line_error(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_missing_file(tmp_path: Path) -> None:
    _one_line_error(_invoke(str(tmp_path / "nope.txt"), "-m", ZH_MODEL), "nope.txt", "no such")


def test_directory(tmp_path: Path) -> None:
    _one_line_error(_invoke(str(tmp_path), "-m", ZH_MODEL), "is a directory")


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    _one_line_error(_invoke(str(path), "-m", ZH_MODEL), "empty.txt is empty")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("大熊猫吃竹子。红烧肉很好吃。".encode("gbk"))
    _one_line_error(_invoke(str(path), "-m", ZH_MODEL), "gbk.txt is not UTF-8", "iconv")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "img.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    _one_line_error(_invoke(str(path), "-m", ZH_MODEL), "img.png: unsupported type")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--rule", "median"], "--rule must be one of"),
        (["--threshold", "20", *SEED], "fraction in [0, 1]"),
        (["-r", "number_of_chunks", "-t", "2.5"], "whole number"),
        (["--buffer-size", "-1"], "buffer_size"),
        (["--min-tokens", "100", "--max-tokens", "50"], "min_tokens"),
        (["--model", "pkg:no-such-model"], "no-such-model"),
    ],
)
def test_bad_options(zh_file: tuple[Path, list[int]], args: list[str], needle: str) -> None:
    path, _ = zh_file
    _one_line_error(_invoke(str(path), "-m", ZH_MODEL, *args), needle)


@pytest.mark.parametrize(
    ("name", "needle"), [("out.xyz", "use one of the extensions"), ("no/dir/out.png", "folder")]
)
def test_bad_plot_path(
    zh_file: tuple[Path, list[int]], tmp_path: Path, name: str, needle: str
) -> None:
    path, _ = zh_file
    _one_line_error(_invoke(str(path), "-m", ZH_MODEL, "--plot", str(tmp_path / name)), needle)


@pytest.mark.parametrize(
    ("rule", "threshold", "sims", "expected"),
    [
        ("percentile", 0.5, [0.1, 0.2, 0.3, 0.4], 0.25),
        ("stddev", 1.0, [0.0, 1.0], 0.0),
        ("interquartile", 0.0, [0.1, 0.2, 0.3, 0.4, 0.5], 0.2),
        ("absolute", 0.4, [0.1, 0.9], 0.4),
        ("number_of_chunks", 3, [0.5, 0.1, 0.3, 0.9], 0.3),
        ("number_of_chunks", 1, [0.5, 0.1], None),
        ("gradient", 0.2, [0.5, 0.1, 0.3], None),
        ("percentile", 0.2, [], None),
    ],
)
def test_similarity_cutoff(
    rule: str, threshold: float, sims: list[float], expected: float | None
) -> None:
    value, label = similarity_cutoff(rule, threshold, sims)
    assert label
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected)


def test_profile_embeds_each_window_once_and_matches_split_text() -> None:
    from manifold_core.chunking import SemanticChunker
    from manifold_core.encoders import CallableEncoder
    from manifold_core.plotting import chunking_profile

    seen: list[str] = []

    def embed(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        rng = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=16) for t in texts]
        return np.array([v / np.linalg.norm(v) for v in rng], dtype=np.float32)

    text, _ = joined(EN_TOPICS, " ")
    chunker = SemanticChunker(CallableEncoder(embed), max_tokens=40, min_tokens=10)
    profile = chunking_profile(chunker, text)
    assert len(seen) == len(set(seen)) == len(profile.units)
    assert chunker.encoder.__class__ is CallableEncoder  # restored
    assert profile.chunks == chunker.split_text(text)
    assert sorted(profile.semantic_cuts + profile.size_cuts) == profile.boundaries
    assert set(profile.merged_gaps) == set(profile.rule_cuts) - set(profile.boundaries)


def test_chunks_reads_every_format_like_ingest(tmp_path: Path) -> None:
    """A PDF gives its text with pages; a JSONL file its records' text, not raw JSON."""
    from file_makers import PAGES, make_pdf

    pdf = make_pdf(tmp_path / "topics.pdf", PAGES)
    result = _invoke(str(pdf), "-m", ZH_MODEL, "--json")
    assert result.exit_code == 0, result.output
    chunks = json.loads(result.stdout)["chunks"]

    # The PDF's extracted text (as ingest reads it), each chunk with the page it starts on.
    def squeeze(text: str) -> str:
        return "".join(text.split())

    assert squeeze("".join(c["text"] for c in chunks)) == squeeze("".join(PAGES))
    pages = [c["page"] for c in chunks]
    assert pages[0] == 1 and pages == sorted(pages)
    assert {c["page"] for c in chunks} <= {1, 2, 3}
    cars = tmp_path / "cars.jsonl"
    cars.write_text(
        json.dumps({"_id": "x1", "text": "The 2022 BMW X1 is quiet."}) + "\n"
        + json.dumps({"_id": "c", "text": "大熊猫吃竹子。"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    first = _invoke(str(cars), "-m", ZH_MODEL, "--json")
    assert first.exit_code == 0, first.output
    assert [c["text"] for c in json.loads(first.stdout)["chunks"]] == ["The 2022 BMW X1 is quiet."]
    assert "first of 2 records" in first.stderr
    second = _invoke(str(cars), "-m", ZH_MODEL, "--json", "--doc", "c")
    assert [c["text"] for c in json.loads(second.stdout)["chunks"]] == ["大熊猫吃竹子。"]
