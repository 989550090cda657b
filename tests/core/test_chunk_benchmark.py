"""The chunking benchmark: dataset format, chunk location, chunker specs, and a real run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import REPO_ROOT

from manifold_core.chunk_benchmark import (
    DEFAULT_CHUNKERS,
    ChunkingDataset,
    build_chunker,
    evaluate_chunkers,
    load_chunking_dataset,
    locate_chunks,
    parse_chunker_list,
    parse_chunker_spec,
    write_chunking_dataset,
)
from manifold_core.encoders import RegexTokenizer

EN = REPO_ROOT / "examples" / "chunking-en"
ZH = REPO_ROOT / "examples" / "chunking-zh"


def test_shipped_sets_load_and_every_reference_is_inside_its_document() -> None:
    en = load_chunking_dataset(EN)
    assert (len(en.documents), len(en.queries)) == (2, 132)
    assert sum(len(r) for r in en.references.values()) == 203
    zh = load_chunking_dataset(ZH)
    assert (len(zh.documents), len(zh.queries)) == (40, 152)
    for data in (en, zh):
        for refs in data.references.values():
            for did, start, end in refs:
                assert data.documents[did][start:end].strip()


def test_limits_keep_whole_questions() -> None:
    one = load_chunking_dataset(EN, max_documents=1)
    assert list(one.documents) == ["chatlogs"]
    assert one.queries and all(d == "chatlogs" for r in one.references.values() for d, _, _ in r)
    assert len(load_chunking_dataset(EN, max_queries=7).queries) == 7


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    data = ChunkingDataset(
        name="x",
        documents={"d1": "Alpha beta.\n\nGamma delta.", "d2": "中文句子。第二句。"},
        queries={"q1": "gamma?", "q2": "第二"},
        references={"q1": [("d1", 13, 25)], "q2": [("d2", 5, 9)]},
        titles={"d1": "A", "d2": "B"},
    )
    back = load_chunking_dataset(write_chunking_dataset(data, tmp_path / "set"))
    assert (back.documents, back.queries, back.references, back.titles) == (
        data.documents,
        data.queries,
        data.references,
        data.titles,
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("q1\td1\t0\n", "expected 'query-id corpus-id start end'"),
        ("q1\tnope\t0\t3\n", "document 'nope' is not in the corpus"),
        ("q9\td1\t0\t3\n", "query 'q9' is not in the queries"),
        ("q1\td1\t3\t99\n", "is not inside document 'd1'"),
        ("q1\td1\ta\t3\n", "must be integers"),
    ],
)
def test_malformed_references_are_named_by_line(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "text": "hello world"}\n', "utf-8")
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "hi"}\n', "utf-8")
    (tmp_path / "references.tsv").write_text("query-id\tcorpus-id\tstart\tend\n" + line, "utf-8")
    with pytest.raises(ValueError, match=message) as err:
        load_chunking_dataset(tmp_path)
    assert "references.tsv:2" in str(err.value)


def test_locate_chunks_ignores_white_space_and_follows_order() -> None:
    text = "One. Two.\n\nOne. Two.\n\nThree  four."
    # LangChain's SemanticChunker joins sentences with single spaces
    assert locate_chunks(text, ["One. Two.", "One. Two.", "Three four."]) == [
        (0, 9),
        (11, 20),
        (22, 34),
    ]
    # overlapping pieces are found too
    assert locate_chunks("a b c d", ["a b c", "c d"]) == [(0, 5), (4, 7)]
    with pytest.raises(ValueError, match="not found"):
        locate_chunks(text, ["Five."])


def test_chunker_specs() -> None:
    assert parse_chunker_spec("semantic:max_tokens=200,breakpoint_rule=gradient") == (
        "semantic",
        {"max_tokens": 200, "breakpoint_rule": "gradient"},
    )
    assert parse_chunker_list("fixed:max_tokens=200,overlap=50,semantic,recursive") == [
        "fixed:max_tokens=200,overlap=50",
        "semantic",
        "recursive",
    ]
    assert parse_chunker_list(";".join(DEFAULT_CHUNKERS)) == list(DEFAULT_CHUNKERS)
    with pytest.raises(ValueError, match="unknown chunker 'nope'"):
        parse_chunker_spec("nope")
    with pytest.raises(ValueError, match="unknown setting"):
        build_chunker("fixed:size=3", None, RegexTokenizer())


@pytest.mark.parametrize("spec", ["recursive:chunk_size=40", "li-sentence:chunk_size=40"])
def test_framework_splitters_give_spans_of_the_document(spec: str) -> None:
    text = (REPO_ROOT / "examples" / "docs" / "sourdough.txt").read_text("utf-8")
    tok = RegexTokenizer()
    spans = build_chunker(spec, None, tok)([text])[0]
    assert len(spans) > 3
    assert all(tok.count([text[s:e]])[0] <= 40 for s, e in spans)
    # in order and covering every word of the text
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


@pytest.mark.slow
def test_a_real_run_ranks_and_scores(minilm_encoder: Any, tmp_path: Path) -> None:
    data = load_chunking_dataset(EN, max_documents=1, max_queries=30)
    report = evaluate_chunkers(
        data, ["fixed:max_tokens=100", "fixed:max_tokens=2000"], minilm_encoder, k=3, budget=300
    )
    small, huge = report.results.values()
    assert small.tokens_max <= 101 and huge.over_model_limit > 0
    for r in (small, huge):
        for scores in (r.at_k, r.at_budget):
            assert all(0.0 <= v <= 1.0 for v in scores.values())
            assert scores["iou"] <= min(scores["recall"], scores["precision"]) + 1e-9
    # finds the answers far better than chance (3 of ~100 chunks is 3%)
    assert small.at_k["recall"] > 0.4
    # 3 chunks of 2,000 tokens read most of a 40k-character document: high recall, low IoU
    assert huge.at_k["recall"] > small.at_k["recall"] and huge.at_k["iou"] < small.at_k["iou"]
    # at an equal budget the small chunks read the more relevant text
    assert small.at_budget["iou"] > huge.at_budget["iou"]
    # per-question scores: one per question, in report order, whose means are the table's
    assert report.query_ids == list(data.queries)
    for r in (small, huge):
        for at in ("at_k", "at_budget"):
            for metric, values in r.per_query[at].items():
                assert len(values) == len(data.queries)
                assert np.isclose(np.mean(values), getattr(r, at)[metric])
    # the paired comparison is the difference of those per-question scores
    d = report.compare("fixed:max_tokens=100", "fixed:max_tokens=2000")
    assert np.isclose(d["iou"].mean, small.at_budget["iou"] - huge.at_budget["iou"])
    assert d["iou"].verdict == "better"
    same = report.compare("fixed:max_tokens=100", "fixed:max_tokens=100", at="at_k")
    assert same["recall"].low == same["recall"].high == 0.0
    with pytest.raises(KeyError, match="fixed:max_tokens=7"):
        report.compare("fixed:max_tokens=7", "fixed:max_tokens=100")
    path = report.write_json(tmp_path / "r.json")
    saved = json.loads(path.read_text("utf-8"))
    assert saved["results"]["fixed:max_tokens=100"]["n_chunks"] > 50
    assert saved["query_ids"] == report.query_ids
    assert len(saved["results"]["fixed:max_tokens=100"]["per_query"]["at_budget"]["iou"]) == 30
