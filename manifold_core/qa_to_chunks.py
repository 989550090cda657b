"""Turn question answering data with answer strings into a chunking dataset (spans).

Input: a BEIR folder whose corpus paragraphs carry a ``title`` (the article they come
from), whose queries carry ``metadata.answers`` (answer strings, as in CMRC 2018 or
SQuAD-style sets), and whose ``qrels/<split>.tsv`` name each question's gold paragraph.

Output: a :class:`~manifold_core.chunk_benchmark.ChunkingDataset`: one document per article
(its paragraphs in corpus order, joined by a blank line), and for each question one
reference span, found by looking for its answers in its gold paragraph:

- the first answer string (in the order given) that occurs in the paragraph, at its first
  occurrence there (the data hold no answer offsets; answers that occur nowhere drop the
  question);
- with ``context="sentence"`` (the default) the span is widened to the sentence(s) holding
  the answer (:func:`~manifold_core.sentences.split_sentences`), like the excerpts of the
  Chroma set; ``context="answer"`` keeps the bare answer.

Everything is deterministic: articles in corpus order, questions in file order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from manifold_core.chunk_benchmark import ChunkingDataset
from manifold_core.evaluation import beir_file, read_beir_rows, read_qrels
from manifold_core.sentences import split_sentences

__all__ = ["ARTICLE_SEPARATOR", "locate_answer", "qa_to_chunking"]

ARTICLE_SEPARATOR = "\n\n"
"""What joins the paragraphs of one article."""


def locate_answer(
    paragraph: str,
    answers: list[str],
    context: Literal["sentence", "answer"] = "sentence",
) -> tuple[int, int] | None:
    """The reference span of a question in its paragraph, or ``None`` when no answer occurs."""
    for answer in answers:
        answer = answer.strip()
        at = paragraph.find(answer) if answer else -1
        if at < 0:
            continue
        start, end = at, at + len(answer)
        if context == "answer":
            return start, end
        around = [s for s in split_sentences(paragraph) if s.start < end and s.end > start]
        if not around:
            return start, end
        return min(start, around[0].start), max(end, around[-1].end)
    return None


def qa_to_chunking(
    path: str | Path,
    split: str | None = None,
    *,
    context: Literal["sentence", "answer"] = "sentence",
    max_documents: int | None = None,
    max_queries: int | None = None,
) -> ChunkingDataset:
    """Build a chunking dataset from a BEIR QA folder (see the module docstring).

    Args:
        path: the BEIR folder.
        split: the qrels split whose questions are used; ``None`` reads every split.
        context: ``"sentence"`` or ``"answer"`` (the reference span).
        max_documents: keep the first ``n`` articles that have a located question.
        max_queries: then keep at most ``n`` questions (file order), and only the
            articles they need.

    Raises:
        FileNotFoundError: a file of the folder is missing.
        ValueError: ``context`` is unknown, or no question could be located.
    """
    if context not in ("sentence", "answer"):
        raise ValueError(f"context must be 'sentence' or 'answer', got {context!r}")
    root = Path(path)
    qrels_dir = root / "qrels"
    files = [qrels_dir / f"{split}.tsv"] if split else sorted(qrels_dir.glob("*.tsv"))
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"{root} has no qrels/{split or '*'}.tsv")
    gold: dict[str, str] = {}
    for f in files:
        for qid, docs in read_qrels(f).items():
            gold.setdefault(qid, next(iter(docs)))

    # article of each paragraph, and the paragraph's offset inside it
    articles: dict[str, list[str]] = {}
    article_of: dict[str, tuple[str, int]] = {}
    paragraphs: dict[str, str] = {}
    titles: dict[str, str] = {}
    key_to_id: dict[str, str] = {}
    for _, row in read_beir_rows(beir_file(root, "corpus")):
        pid, text = str(row["_id"]), str(row.get("text") or "")
        title = str(row.get("title") or "").strip()
        key = title or f"\x00{pid}"  # an untitled paragraph is its own article
        did = key_to_id.setdefault(key, pid)
        parts = articles.setdefault(did, [])
        offset = sum(len(p) + len(ARTICLE_SEPARATOR) for p in parts)
        parts.append(text)
        article_of[pid] = (did, offset)
        paragraphs[pid] = text
        titles[did] = title

    located: list[tuple[str, str, str, int, int]] = []  # (article, qid, text, start, end)
    for _, row in read_beir_rows(beir_file(root, "queries")):
        qid, text = str(row["_id"]), str(row.get("text") or "").strip()
        meta = row.get("metadata") or {}
        answers = [str(a) for a in meta.get("answers", [])] if isinstance(meta, dict) else []
        gold_pid = gold.get(qid)
        if not text or not answers or gold_pid is None or gold_pid not in paragraphs:
            continue
        span = locate_answer(paragraphs[gold_pid], answers, context)
        if span is None:
            continue
        did, offset = article_of[gold_pid]
        located.append((did, qid, text, offset + span[0], offset + span[1]))
    if not located:
        raise ValueError(f"no question of {root} has an answer found in its gold paragraph")

    with_questions = {r[0] for r in located}
    keep = set([d for d in articles if d in with_questions][:max_documents])
    rows = [r for r in located if r[0] in keep][:max_queries]
    used = {r[0] for r in rows}
    documents = {d: ARTICLE_SEPARATOR.join(articles[d]) for d in articles if d in used}
    return ChunkingDataset(
        name=root.resolve().name,
        documents=documents,
        queries={qid: text for _, qid, text, _, _ in rows},
        references={qid: [(did, s, e)] for did, qid, _, s, e in rows},
        titles={d: titles[d] for d in documents},
    )
