"""QA data with answer strings -> chunking dataset: articles, located answers, sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from manifold_core.chunk_benchmark import load_chunking_dataset, write_chunking_dataset
from manifold_core.qa_to_chunks import locate_answer, qa_to_chunking


def _jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


@pytest.fixture
def qa_folder(tmp_path: Path) -> Path:
    _jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"_id": "p1", "title": "长城", "text": "长城是古代的防御工程。它始建于春秋战国时期。"},
            {"_id": "p2", "title": "黄河", "text": "黄河是中国第二长河。全长约5464公里。"},
            {"_id": "p3", "title": "长城", "text": "明长城东起虎山。西至嘉峪关。"},
        ],
    )
    _jsonl(
        tmp_path / "queries.jsonl",
        [
            {"_id": "q1", "text": "长城始建于何时？", "metadata": {"answers": ["春秋战国时期"]}},
            {"_id": "q2", "text": "明长城西至哪里？", "metadata": {"answers": ["甘肃", "嘉峪关"]}},
            {"_id": "q3", "text": "黄河多长？", "metadata": {"answers": ["5464公里"]}},
            {"_id": "q4", "text": "找不到的答案？", "metadata": {"answers": ["不存在"]}},
        ],
    )
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\tp1\t1\nq2\tp3\t1\nq3\tp2\t1\nq4\tp2\t1\n", "utf-8"
    )
    return tmp_path


def test_one_document_per_article_and_answers_located(qa_folder: Path) -> None:
    data = qa_to_chunking(qa_folder, "test", context="answer")
    assert data.documents == {
        "p1": "长城是古代的防御工程。它始建于春秋战国时期。\n\n明长城东起虎山。西至嘉峪关。",
        "p2": "黄河是中国第二长河。全长约5464公里。",
    }
    assert data.titles == {"p1": "长城", "p2": "黄河"}
    assert list(data.queries) == ["q1", "q2", "q3"]  # q4's answer occurs nowhere
    text = {q: data.documents[d][s:e] for q, [(d, s, e)] in data.references.items()}
    # q2's first answer is absent; the second is found in the article's second paragraph
    assert text == {"q1": "春秋战国时期", "q2": "嘉峪关", "q3": "5464公里"}


def test_sentence_context_widens_to_the_answers_sentence(qa_folder: Path) -> None:
    data = qa_to_chunking(qa_folder, "test")
    text = {q: data.documents[d][s:e] for q, [(d, s, e)] in data.references.items()}
    assert text == {"q1": "它始建于春秋战国时期。", "q2": "西至嘉峪关。", "q3": "全长约5464公里。"}
    assert locate_answer("A b. C d e. F.", ["d"]) == (5, 11)
    assert locate_answer("A b.", ["zzz", ""]) is None


def test_limits_and_round_trip(qa_folder: Path, tmp_path: Path) -> None:
    one = qa_to_chunking(qa_folder, "test", max_documents=1)
    assert list(one.documents) == ["p1"] and list(one.queries) == ["q1", "q2"]
    assert list(qa_to_chunking(qa_folder, max_queries=1).queries) == ["q1"]
    back = load_chunking_dataset(write_chunking_dataset(one, tmp_path / "out"))
    assert back.references == one.references and back.documents == one.documents
    with pytest.raises(ValueError, match="context"):
        qa_to_chunking(qa_folder, context="paragraph")  # type: ignore[arg-type]


def test_shipped_chinese_set_references_are_whole_sentences() -> None:
    data = load_chunking_dataset(REPO_ROOT / "examples" / "chunking-zh")
    ends = 0
    for refs in data.references.values():
        for did, start, end in refs:
            ref = data.documents[did][start:end]
            assert ref == ref.strip() and len(ref) >= 2
            ends += ref[-1] in "。！？；”」"
    assert ends / len(data.references) > 0.8
