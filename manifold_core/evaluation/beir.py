"""BEIR datasets on disk: find, read and check one split (corpus, queries, qrels).

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``), either possibly gzipped, and ``qrels/<split>.tsv`` (a header, then
``query-id  corpus-id  score``). :func:`load_beir` reads one split into a
:class:`BeirDataset`; the row readers are shared with the chunking benchmark.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from manifold_core.beir_text import titled_text
from manifold_core.validation import optional_positive_int

__all__ = ["BeirDataset", "beir_file", "load_beir", "read_beir_rows", "read_qrels"]


@dataclass(frozen=True)
class BeirDataset:
    """One split of a BEIR dataset, ready to index and query.

    Attributes:
        name: the folder name (``scifact``).
        path: the folder.
        split: the qrels split read (``test``).
        corpus: document id -> indexed text: the title, a blank line, then the text
            (:func:`~manifold_core.beir_text.titled_text`, the rule ``manifold ingest``
            follows too); just the text when the title is empty.
        queries: query id -> text, only queries with at least one relevant document
            and some text (CMRC 2018 has a blank one), after ``max_queries``, in qrels
            order.
        qrels: query id -> {document id -> graded relevance > 0}, same keys as ``queries``.
    """

    name: str
    path: Path
    split: str
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def beir_file(root: Path, stem: str) -> Path:
    """``root/<stem>.jsonl``, else ``root/<stem>.jsonl.gz``; ``FileNotFoundError`` if neither."""
    for candidate in (root / f"{stem}.jsonl", root / f"{stem}.jsonl.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{root} has no {stem}.jsonl or {stem}.jsonl.gz (a BEIR folder)")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_beir_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a (gzipped) BEIR JSONL file.

    Raises:
        ValueError: a line that is not JSON or not an object with an ``_id``, or a file
            that cannot be read (named by file, and line).
    """
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict) or "_id" not in row:
                    raise ValueError(f"{path}:{lineno}: expected an object with an '_id'")
                yield lineno, row
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id -> {document id -> relevance} of a qrels TSV, relevance > 0 only.

    Raises:
        ValueError: a line without three fields, or a score that is not a number (the
            first line may be a header).
    """
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3:
                raise ValueError(
                    f"{path}:{lineno}: expected 'query-id corpus-id score', got {line.strip()!r}"
                )
            try:
                score = int(float(parts[2]))
            except ValueError:
                if lineno == 1:  # the header
                    continue
                raise ValueError(f"{path}:{lineno}: score {parts[2]!r} is not a number") from None
            if score > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = score
    return qrels


def load_beir(
    path: str | Path, split: str = "test", *, max_queries: int | None = None
) -> BeirDataset:
    """Read one split of a BEIR-format folder.

    Args:
        path: the folder holding ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]`` and
            ``qrels/<split>.tsv``.
        split: which qrels file to read.
        max_queries: keep only the first ``n`` judged queries (qrels order), for a
            quicker run; ``None`` keeps all.

    Raises:
        FileNotFoundError: the folder, the corpus, the queries or ``qrels/`` is missing.
        ValueError: no qrels for ``split`` (the message lists the splits present), a
            malformed line (named by file and line), an empty corpus, no query with a
            relevant document, or ``max_queries`` not a positive int.
    """
    max_queries = optional_positive_int(max_queries, "max_queries")
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist (or is not a folder)")
    corpus_path = beir_file(root, "corpus")
    queries_path = beir_file(root, "queries")
    qrels_dir = root / "qrels"
    if not qrels_dir.is_dir():
        raise FileNotFoundError(f"{root} has no qrels/ folder (qrels/<split>.tsv)")
    qrels_path = qrels_dir / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = sorted(p.stem for p in qrels_dir.glob("*.tsv"))
        raise ValueError(
            f"no qrels for split {split!r}: {qrels_path} does not exist; "
            f"splits present: {', '.join(splits) or 'none'}"
        )

    corpus: dict[str, str] = {}
    for _, row in read_beir_rows(corpus_path):
        corpus[str(row["_id"])] = titled_text(row.get("title"), str(row.get("text") or ""))
    if not corpus:
        raise ValueError(f"the corpus {corpus_path} holds no documents")

    qrels = read_qrels(qrels_path)
    all_queries: dict[str, str] = {}
    for _, row in read_beir_rows(queries_path):
        qid = str(row["_id"])
        text = str(row.get("text") or "")
        if qid in qrels and text.strip():  # a blank query cannot be searched: skipped
            all_queries[qid] = text
    judged = [q for q in qrels if q in all_queries]
    if not judged:
        raise ValueError(
            f"no query of {queries_path} has a relevant document in {qrels_path} "
            f"({len(qrels)} judged query ids, {len(all_queries)} of them found)"
        )
    if max_queries is not None:
        judged = judged[:max_queries]
    return BeirDataset(
        name=root.resolve().name,
        path=root,
        split=split,
        corpus=corpus,
        queries={q: all_queries[q] for q in judged},
        qrels={q: qrels[q] for q in judged},
    )
