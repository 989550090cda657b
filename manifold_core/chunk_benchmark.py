"""Compare chunkers on long documents with reference excerpts: the ``manifold eval-chunks`` engine.

A chunking dataset is a folder of

- ``corpus.jsonl[.gz]``: ``_id``, ``title``, ``text`` (long documents; spans index ``text``),
- ``queries.jsonl[.gz]``: ``_id``, ``text``,
- ``references.tsv``: a header, then ``query-id  corpus-id  start  end``: the excerpts that
  answer each question, as ``text[start:end]`` of that document (one or more per question).

For each chunker, :func:`evaluate_chunkers` chunks every document, embeds every chunk with
one encoder, and retrieves for each question the chunks of the *whole corpus* most similar
by cosine (as the Chroma report does). The retrieved text is scored against the question's
references with :mod:`manifold_core.chunk_eval` (recall, precision, IoU; characters and
tokens of the encoder's tokenizer), twice:

- at ``k``: the top ``k`` chunks, whatever their size;
- at a ``budget`` of retrieved tokens: chunks in rank order until ``budget`` tokens are read,
  the last one cut to fit (:func:`~manifold_core.chunk_eval.budget_spans`), so large and
  small chunks are compared at equal reading cost.

Chunkers are named by a spec ``kind`` or ``kind:key=value,...`` (see :data:`CHUNKER_KINDS`);
LangChain and LlamaIndex splitters live in the adapter packages
(:data:`FRAMEWORK_CHUNKERS`), are imported only when asked for, and their chunks are located
in the document by :func:`locate_chunks` (they return text, not offsets).
"""

from __future__ import annotations

import csv
import importlib
import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manifold_core.chunk_eval import (
    Span,
    SpanScores,
    TokenSpans,
    budget_spans,
    span_scores,
    token_span_scores,
)
from manifold_core.chunk_report import ChunkerResult, ChunkEvalReport
from manifold_core.evaluation import ProgressCallback, beir_file, read_beir_rows
from manifold_core.ingest import embed_texts
from manifold_core.plotting import font_families

__all__ = [
    "CHUNKER_KINDS",
    "DEFAULT_CHUNKERS",
    "FRAMEWORK_CHUNKERS",
    "SENTENCE_REGEX",
    "SEPARATORS",
    "ChunkEvalReport",
    "ChunkerResult",
    "ChunkingDataset",
    "build_chunker",
    "evaluate_chunkers",
    "load_chunking_dataset",
    "locate_chunks",
    "parse_chunker_list",
    "parse_chunker_spec",
    "plot_chunk_report",
    "reject_unknown_settings",
    "token_length",
    "write_chunking_dataset",
]

CHUNKER_KINDS: dict[str, str] = {
    "fixed": "manifold FixedTokenChunker: max_tokens (200), overlap (0)",
    "semantic": "manifold SemanticChunker (ours): any of its arguments, e.g. max_tokens, "
    "min_tokens, breakpoint_rule, threshold, buffer_size, overlap_tokens; defaults are its "
    "defaults",
    "recursive": "LangChain RecursiveCharacterTextSplitter, token length: chunk_size (200), "
    "chunk_overlap (0)",
    "lc-semantic": "LangChain SemanticChunker (langchain-experimental): breakpoint_threshold_type "
    "(percentile), breakpoint_threshold_amount",
    "li-semantic": "LlamaIndex SemanticSplitterNodeParser: buffer_size (1), "
    "breakpoint_percentile_threshold (95)",
    "li-sentence": "LlamaIndex SentenceSplitter, token length: chunk_size (200), chunk_overlap (0)",
}
"""Chunker kinds :func:`build_chunker` knows, with their settings."""

DEFAULT_CHUNKERS: tuple[str, ...] = (
    "fixed:max_tokens=200",
    "fixed:max_tokens=200,overlap=50",
    "fixed:max_tokens=400",
    "recursive:chunk_size=200",
    "recursive:chunk_size=400",
    "li-sentence:chunk_size=200",
    "lc-semantic",
    "li-semantic",
    "semantic",
    "semantic:max_tokens=200",
    "semantic:overlap_tokens=0",
    "semantic:breakpoint_rule=percentile",
    "semantic:breakpoint_rule=percentile,max_tokens=200,min_tokens=50",
)
"""What ``manifold eval-chunks`` compares when no ``--chunkers`` are given."""

FRAMEWORK_CHUNKERS = {
    "recursive": "langchain_manifold.chunkers:recursive_chunker",
    "lc-semantic": "langchain_manifold.chunkers:semantic_chunker",
    "li-sentence": "llamaindex_manifold.chunkers:sentence_chunker",
    "li-semantic": "llamaindex_manifold.chunkers:semantic_chunker",
}
"""Chunker kinds a framework provides: ``module:factory`` in that framework's adapter
package (the core never imports a framework). A factory takes ``(spec, params, encoder,
tokenizer)`` and returns a :data:`ChunkFn`."""

# Sentence ends of English and Chinese, for the splitters whose separators we choose.
SEPARATORS = ["\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ", ""]
SENTENCE_REGEX = r"(?<=[.?!])\s+|(?<=[。！？])"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ChunkingDataset:
    """Documents, questions and the character spans that answer them.

    Attributes:
        name: the folder name.
        documents: document id -> text (``text`` of the corpus; the title is not part of
            it, since spans index ``text``).
        queries: query id -> text, only queries with a reference, in file order.
        references: query id -> ``[(document id, start, end), ...]``.
        titles: document id -> title.
    """

    name: str
    documents: dict[str, str]
    queries: dict[str, str]
    references: dict[str, list[tuple[str, int, int]]]
    titles: dict[str, str] = field(default_factory=dict)

    def only_queries(self, keep: Iterable[str]) -> ChunkingDataset:
        """The same documents with only the questions in ``keep`` (e.g. a held-out half)."""
        ids = set(keep)
        return ChunkingDataset(
            self.name,
            self.documents,
            {q: t for q, t in self.queries.items() if q in ids},
            {q: r for q, r in self.references.items() if q in ids},
            self.titles,
        )


def load_chunking_dataset(
    path: str | Path, *, max_queries: int | None = None, max_documents: int | None = None
) -> ChunkingDataset:
    """Read a chunking dataset folder (see the module docstring for the format).

    ``max_documents`` keeps the first ``n`` documents of the corpus and the questions
    whose references all lie in them; ``max_queries`` then keeps the first ``n`` questions
    (file order). Both are for quicker runs.

    Raises:
        FileNotFoundError: the folder or one of its three files is missing.
        ValueError: a malformed line (file and line named), a reference to an unknown
            document or query, or a span outside its document.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist (or is not a folder)")
    refs_path = root / "references.tsv"
    if not refs_path.is_file():
        raise FileNotFoundError(
            f"{root} has no references.tsv (query-id, corpus-id, start, end per line)"
        )
    documents: dict[str, str] = {}
    titles: dict[str, str] = {}
    for _, row in read_beir_rows(beir_file(root, "corpus")):
        documents[str(row["_id"])] = str(row.get("text") or "")
        titles[str(row["_id"])] = str(row.get("title") or "")
    all_queries = {
        str(row["_id"]): str(row.get("text") or "")
        for _, row in read_beir_rows(beir_file(root, "queries"))
    }
    references: dict[str, list[tuple[str, int, int]]] = {}
    with open(refs_path, encoding="utf-8", newline="") as fh:
        for lineno, parts in enumerate(csv.reader(fh, delimiter="\t"), 1):
            if not parts or (lineno == 1 and parts[0] == "query-id"):
                continue
            where = f"{refs_path}:{lineno}"
            if len(parts) != 4:
                raise ValueError(f"{where}: expected 'query-id corpus-id start end'")
            qid, did = parts[0], parts[1]
            try:
                start, end = int(parts[2]), int(parts[3])
            except ValueError:
                raise ValueError(f"{where}: start and end must be integers") from None
            if did not in documents:
                raise ValueError(f"{where}: document {did!r} is not in the corpus")
            if qid not in all_queries:
                raise ValueError(f"{where}: query {qid!r} is not in the queries")
            if not 0 <= start < end <= len(documents[did]):
                raise ValueError(
                    f"{where}: span ({start}, {end}) is not inside document {did!r} "
                    f"({len(documents[did])} characters)"
                )
            references.setdefault(qid, []).append((did, start, end))
    if not references:
        raise ValueError(f"{refs_path} holds no reference")
    if max_documents is not None:
        documents = dict(list(documents.items())[:max_documents])
        titles = {d: titles[d] for d in documents}
    kept = [
        q
        for q in all_queries
        if q in references
        and all_queries[q].strip()
        and all(d in documents for d, _, _ in references[q])
    ]
    if max_queries is not None:
        kept = kept[:max_queries]
    return ChunkingDataset(
        name=root.resolve().name,
        documents=documents,
        queries={q: all_queries[q] for q in kept},
        references={q: references[q] for q in kept},
        titles=titles,
    )


def write_chunking_dataset(dataset: ChunkingDataset, path: str | Path) -> Path:
    """Write ``dataset`` as a chunking folder (plain ``.jsonl``), the inverse of loading it."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for did, text in dataset.documents.items():
            row = {"_id": did, "title": dataset.titles.get(did, ""), "text": text}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in dataset.queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with open(root / "references.tsv", "w", encoding="utf-8", newline="") as fh:
        fh.write("query-id\tcorpus-id\tstart\tend\n")
        for qid, refs in dataset.references.items():
            for did, start, end in refs:
                fh.write(f"{qid}\t{did}\t{start}\t{end}\n")
    return root


# --------------------------------------------------------------------------- chunkers


def parse_chunker_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"semantic:max_tokens=200,breakpoint_rule=gradient"`` -> kind and typed settings."""
    kind, _, rest = spec.strip().partition(":")
    if kind not in CHUNKER_KINDS:
        raise ValueError(f"unknown chunker {kind!r}; kinds: {', '.join(CHUNKER_KINDS)}")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"chunker setting {item!r} of {spec!r} is not key=value")
        params[key.strip()] = _parse_value(raw.strip())
    return kind, params


def parse_chunker_list(text: str) -> list[str]:
    """Split ``"fixed:max_tokens=200,overlap=50,semantic,recursive"`` into chunker specs.

    A comma starts a new spec when what follows it is a chunker kind (``kind`` or
    ``kind:...``); otherwise it separates the settings of one spec. ``;`` always separates.
    """
    specs: list[str] = []
    for group in text.split(";"):
        for piece in (p.strip() for p in group.split(",")):
            if not piece:
                continue
            if piece.partition(":")[0] in CHUNKER_KINDS or not specs:
                specs.append(piece)
            else:
                specs[-1] += "," + piece
    for spec in specs:
        parse_chunker_spec(spec)
    if not specs:
        raise ValueError("no chunker given")
    return specs


def _parse_value(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return {"none": None, "true": True, "false": False}.get(raw.lower(), raw)


def locate_chunks(text: str, pieces: Sequence[str]) -> list[Span]:
    """Character spans of ``pieces`` (chunks in document order) in ``text``.

    For splitters that return text only. White space is ignored when matching (LangChain's
    ``SemanticChunker`` joins sentences with one space), each piece is searched after the
    previous one (from its end, then from just after its start, for overlapping
    splitters), and the span runs from the piece's first to its last non-space character.

    Raises:
        ValueError: a piece is not found in order.
    """
    keep = [i for i, ch in enumerate(text) if not ch.isspace()]
    squeezed = "".join(text[i] for i in keep)
    spans: list[Span] = []
    prev_start = prev_end = 0
    for piece in pieces:
        needle = "".join(piece.split())
        if not needle:
            continue
        at = squeezed.find(needle, prev_end)
        if at < 0:
            at = squeezed.find(needle, prev_start + 1 if spans else 0)
        if at < 0:
            raise ValueError(f"chunk {piece[:40]!r}... is not found in the document in order")
        spans.append((keep[at], keep[at + len(needle) - 1] + 1))
        prev_start, prev_end = at, at + len(needle)
    return spans


ChunkFn = Callable[[list[str]], list[list[Span]]]


def token_length(tokenizer: Any) -> Callable[[str], int]:
    """A text's length in ``tokenizer``'s tokens, as the frameworks' splitters want it."""
    return lambda t: tokenizer.count([t])[0]


def build_chunker(spec: str, encoder: Any, tokenizer: Any) -> ChunkFn:
    """A function: documents -> each document's chunk spans, for one chunker ``spec``.

    ``encoder`` embeds for the semantic chunkers (the same model that retrieves);
    ``tokenizer`` measures token lengths.

    Raises:
        ValueError: an unknown kind or setting.
        ImportError: the framework a kind needs is not installed.
    """
    kind, params = parse_chunker_spec(spec)
    if kind == "fixed":
        from manifold_core.windows import FixedTokenChunker

        fixed = FixedTokenChunker(
            tokenizer, int(params.pop("max_tokens", 200)), int(params.pop("overlap", 0))
        )
        reject_unknown_settings(spec, params)
        return lambda docs: [[(c.start, c.end) for c in fixed.split_text(d)] for d in docs]
    if kind == "semantic":
        from manifold_core.chunking import SemanticChunker

        ours = SemanticChunker(encoder, tokenizer=tokenizer, **params)
        return lambda docs: [[(c.start, c.end) for c in cs] for cs in ours.split_texts(docs)]
    module_name, _, factory = FRAMEWORK_CHUNKERS[kind].partition(":")
    module = importlib.import_module(module_name)  # the adapter package owns the framework
    chunker: ChunkFn = getattr(module, factory)(spec, params, encoder, tokenizer)
    return chunker


def reject_unknown_settings(spec: str, params: dict[str, Any]) -> None:
    """Raise if a chunker spec has settings its kind did not take."""
    if params:
        raise ValueError(f"chunker {spec!r}: unknown setting(s) {', '.join(sorted(params))}")


# --------------------------------------------------------------------------- evaluation


def _per_query(scores: Iterable[tuple[SpanScores, SpanScores]]) -> dict[str, list[float]]:
    """Metric name (``recall``, ..., ``iou_tokens``) -> one score per question."""
    chars, toks = zip(*scores, strict=True)
    out: dict[str, list[float]] = {}
    for suffix, group in (("", chars), ("_tokens", toks)):
        for metric in ("recall", "precision", "iou"):
            out[metric + suffix] = [float(getattr(s, metric)) for s in group]
    return out


def _means(per_query: dict[str, list[float]]) -> dict[str, float]:
    return {metric: float(np.mean(values)) for metric, values in per_query.items()}


def evaluate_chunkers(
    dataset: ChunkingDataset,
    chunkers: Sequence[str],
    encoder: Any,
    *,
    k: int = 5,
    budget: int = 1000,
    tokenizer: Any = None,
    model_name: str | None = None,
    batch_size: int = 64,
    skip_missing: bool = True,
    progress: ProgressCallback | None = None,
) -> ChunkEvalReport:
    """Chunk, embed, retrieve and score with every chunker spec in ``chunkers``.

    Args:
        dataset: from :func:`load_chunking_dataset`.
        chunkers: specs (:func:`parse_chunker_spec`).
        encoder: an :class:`~manifold_core.encoders.Encoder`: it embeds chunks and
            questions, and the semantic chunkers' sentences.
        k: chunks retrieved per question for the ``at_k`` scores.
        budget: retrieved tokens per question for the ``at_budget`` scores.
        tokenizer: counts tokens (chunk sizes, budget, token scores); default the
            encoder's own (:func:`~manifold_core.encoders.tokenizer_for`).
        skip_missing: a chunker whose framework is not installed is listed in
            ``skipped`` instead of failing the run.

    Returns:
        A :class:`ChunkEvalReport`, chunkers in the order given.
    """
    from manifold_core.encoders import tokenizer_for

    for value, name in ((k, "k"), (budget, "budget"), (batch_size, "batch_size")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if not dataset.queries:
        raise ValueError("the dataset has no question with a reference")
    tok = tokenizer or tokenizer_for(encoder)
    doc_ids = list(dataset.documents)
    texts = [dataset.documents[d] for d in doc_ids]
    # every document on one line of positions, so spans of different documents never meet
    offsets: dict[str, int] = {}
    token_spans: list[Span] = []
    at = 0
    for did, text in zip(doc_ids, texts, strict=True):
        offsets[did] = at
        token_spans.extend((s + at, e + at) for s, e in tok.spans(text))
        at += len(text) + 1
    token_index = TokenSpans(token_spans)  # indexed once: every lookup below is a bisection
    qids = list(dataset.queries)
    refs = {
        q: [(offsets[d] + s, offsets[d] + e) for d, s, e in dataset.references[q]] for q in qids
    }
    query_vecs = np.asarray(encoder.encode_queries([dataset.queries[q] for q in qids]), np.float32)
    limit = getattr(encoder, "max_seq_length", None)

    report = ChunkEvalReport(
        dataset=dataset.name,
        model=model_name,
        k=k,
        budget=budget,
        n_documents=len(doc_ids),
        n_queries=len(qids),
        n_references=sum(len(r) for r in refs.values()),
        query_ids=qids,
    )
    for spec in chunkers:
        try:
            chunk = build_chunker(spec, encoder, tok)
        except ImportError as exc:
            if not skip_missing:
                raise
            report.skipped[spec] = f"not installed ({exc.name or exc})"
            continue
        if progress is not None:
            progress(spec, 0, 1)
        t0 = time.perf_counter()
        per_doc = chunk(texts)
        chunk_seconds = time.perf_counter() - t0
        spans = [
            (offsets[did] + s, offsets[did] + e)
            for did, doc_spans in zip(doc_ids, per_doc, strict=True)
            for s, e in doc_spans
        ]
        if not spans:
            raise ValueError(f"chunker {spec!r} returned no chunk")
        chunk_texts = [texts[i][s:e] for i, doc_spans in enumerate(per_doc) for s, e in doc_spans]
        counts = tok.count(chunk_texts)
        t0 = time.perf_counter()
        vecs = embed_texts(encoder, chunk_texts, batch_size=batch_size)
        embed_seconds = time.perf_counter() - t0
        ranked = np.argsort(-(query_vecs @ vecs.T), axis=1, kind="stable")
        k_scores, b_scores = [], []
        for row, qid in zip(ranked, qids, strict=True):
            top = [spans[i] for i in row[:k]]
            k_scores.append(
                (span_scores(top, refs[qid]), token_span_scores(top, refs[qid], token_index))
            )
            read = budget_spans(((*spans[i], counts[i]) for i in row), budget, token_index)
            b_scores.append(
                (span_scores(read, refs[qid]), token_span_scores(read, refs[qid], token_index))
            )
        per_query = {"at_k": _per_query(k_scores), "at_budget": _per_query(b_scores)}
        report.results[spec] = ChunkerResult(
            name=spec,
            at_k=_means(per_query["at_k"]),
            at_budget=_means(per_query["at_budget"]),
            n_chunks=len(spans),
            tokens_mean=float(np.mean(counts)),
            tokens_median=float(statistics.median(counts)),
            tokens_max=int(max(counts)),
            over_model_limit=sum(c > limit for c in counts) if limit else 0,
            chunk_seconds=chunk_seconds,
            embed_seconds=embed_seconds,
            per_query=per_query,
        )
        if progress is not None:
            progress(spec, 1, 1)
    return report


# --------------------------------------------------------------------------- plot


def plot_chunk_report(report: ChunkEvalReport, path: str | Path) -> Path:
    """Write a PNG: recall against IoU, one point per chunker, at ``k`` and at the budget."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not report.results:
        raise ValueError("the report has no chunker to plot")
    fig = Figure(figsize=(12, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    panels = fig.subplots(1, 2)
    families = font_families()
    for ax, attr, title in (
        (panels[0], "at_k", f"top {report.k} chunks"),
        (panels[1], "at_budget", f"{report.budget} retrieved tokens"),
    ):
        for i, (name, result) in enumerate(report.results.items()):
            scores = getattr(result, attr)
            ax.scatter(scores["recall"], scores["iou"], color=f"C{i % 10}", s=40, zorder=3)
            ax.annotate(
                name,
                (scores["recall"], scores["iou"]),
                fontsize=7,
                xytext=(4, 3),
                textcoords="offset points",
                fontfamily=families,
            )
        ax.set_xlabel("recall (characters)")
        ax.set_ylabel("IoU (characters)")
        ax.grid(alpha=0.3)
        ax.set_title(title, fontsize=10)
    model = f", {report.model}" if report.model else ""
    fig.suptitle(
        f"{report.dataset}: {report.n_queries} questions, {report.n_documents} documents{model}",
        fontsize=11,
        fontfamily=families,
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out
