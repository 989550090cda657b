"""Semantic chunking: cut where adjacent text stops being similar, then pack under token limits.

The algorithm (section 6.1 of the seed article, made exact and bounded):

1. Split the text into sentences (:mod:`manifold_core.sentences`). A sentence longer than
   ``max_tokens`` is cut first at clause punctuation, then at token boundaries, so every
   *unit* fits the limit on its own.
2. For each gap between units ``i`` and ``i+1``, compare what comes before the gap with what
   comes after it: unit ``i`` with unit ``i+1`` by default, or, with ``buffer_size=b``, the
   window of units ``i-b..i`` with the window ``i+1..i+1+b``. The windows never straddle the
   gap, so a topic change shows up as a dip exactly at the gap where it happens. Every
   distinct window is embedded once, in batches of ``batch_size`` across all documents, and
   only the similarities are kept: memory is bounded by the batch, not by the document.
3. Choose breakpoints by a rule (``percentile``, ``stddev``, ``interquartile``, ``gradient``,
   ``absolute`` or ``number_of_chunks``; see :class:`SemanticChunker`).
4. Pack: a chunk above ``max_tokens`` is cut at its weakest internal gap (recursively); a
   chunk below ``min_tokens`` is merged into the neighbour it is more similar to, when the
   merge fits ``max_tokens``.
5. Overlap (``overlap_tokens > 0``): the cuts are chosen under ``max_tokens -
   overlap_tokens``, then each chunk also takes the last whole sentences of the chunk
   before it, up to ``overlap_tokens`` tokens, so a passage that straddles a cut is whole
   in one chunk and no chunk exceeds ``max_tokens``.

Every chunk is ``text[start:end]`` of the original, white space inside it kept.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from manifold_core.encoders import Encoder, Tokenizer, resolve_encoder, tokenizer_for
from manifold_core.segments import overlap_starts, size_segments
from manifold_core.sentences import SentenceSplitter, split_sentences, trim_span

__all__ = [
    "BREAKPOINT_RULES",
    "DEFAULT_SIZE_MAX_TOKENS",
    "DEFAULT_THRESHOLDS",
    "Chunk",
    "SemanticChunker",
    "size_segments",
]

BreakpointRule = Literal[
    "size", "percentile", "stddev", "interquartile", "gradient", "absolute", "number_of_chunks"
]
BREAKPOINT_RULES: tuple[str, ...] = (
    "size",
    "percentile",
    "stddev",
    "interquartile",
    "gradient",
    "absolute",
    "number_of_chunks",
)
DEFAULT_THRESHOLDS: dict[str, float] = {
    "size": 0.2,  # the price of one more chunk, in units of cosine similarity (tuned)
    "percentile": 0.2,  # the seed: cut the gaps in the lowest 20% of similarities
    "stddev": 1.0,  # cut below mean - 1 sigma
    "interquartile": 1.5,  # cut below Q1 - 1.5 IQR (Tukey's fence)
    "gradient": 0.2,  # cut the 20% sharpest dips relative to the neighbouring gaps
    "absolute": 0.5,  # cut below cosine 0.5
    "number_of_chunks": 4,  # cut the 3 lowest gaps
}
DEFAULT_MAX_TOKENS = 512
DEFAULT_SIZE_MAX_TOKENS = 300
"""The ``size`` rule's chunk size: 150 tokens of new text and 150 carried from the chunk
before (measured: docs/benchmarks.md, "Default splitter")."""

_CLAUSE_END = re.compile(r"[，,；;：:、]+[\s]*|[\s]+(?=[-–—(])")


@dataclass(frozen=True)
class Chunk:
    """One chunk: ``text == source[start:end]``.

    Attributes:
        text: the chunk's text, exactly as in the source.
        start: character offset of the first character.
        end: character offset one past the last character.
        token_count: tokens of ``text`` (the encoder's tokenizer, no special tokens).
        boundary_similarity: similarity at the gap that opens this chunk (``None`` for the
            first chunk of a document); low values mark "semantic cliffs".
        index: position of the chunk in its document.
    """

    text: str
    start: int
    end: int
    token_count: int
    boundary_similarity: float | None
    index: int


@dataclass
class _Doc:
    text: str
    units: list[tuple[int, int]]
    unit_tokens: list[int]
    sims: np.ndarray


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    return text


class SemanticChunker:
    """Split text where the meaning shifts, under a hard token limit.

    Args:
        encoder: anything :func:`manifold_core.encoders.resolve_encoder` accepts: a model
            name or folder, an :class:`Encoder`, a SentenceTransformer, a LangChain
            ``Embeddings`` or a LlamaIndex ``BaseEmbedding``. ``None`` loads
            ``Qwen/Qwen3-Embedding-0.6B``.
        breakpoint_rule: how gaps become cuts. With ``threshold`` ``t``:

            - ``size`` (default): the cheapest segmentation under ``max_tokens -
              overlap_tokens`` where each chunk costs ``t`` and each cut the similarity at
              its gap (:func:`size_segments`); few chunks near the cap, cut at the weakest
              gaps, each carrying half a chunk of the one before. With its defaults (300
              tokens, 150 overlap) it is the splitter measured best in
              ``docs/benchmarks.md`` (recall and IoU at a token budget, English and Chinese).
            - ``percentile``: cut gaps whose similarity is in the lowest ``t`` fraction
              (``0 <= t <= 1``; the seed's ``percentile_threshold``, the default before).
            - ``stddev``: cut below ``mean - t * std`` (``t >= 0``).
            - ``interquartile``: cut below ``Q1 - t * IQR`` (``t >= 0``).
            - ``gradient``: cut the lowest ``t`` fraction of dips, a dip being a gap's
              similarity minus the mean of its neighbours' (``0 <= t <= 1``); finds cliffs in
              text whose similarity drifts.
            - ``absolute``: cut below similarity ``t`` (``-1 <= t <= 1``).
            - ``number_of_chunks``: cut the ``t - 1`` lowest gaps (``t`` an integer >= 1).
        threshold: see above; ``None`` takes :data:`DEFAULT_THRESHOLDS`.
        buffer_size: units on each side of a gap compared (``b`` gives windows of ``b+1``).
        min_tokens: chunks below this are merged into their more similar neighbour.
        max_tokens: hard limit on a chunk's tokens. ``None``: for the ``size`` rule
            :data:`DEFAULT_SIZE_MAX_TOKENS` (300; at most twice the encoder's
            ``max_seq_length``, so a chunk's new text fits the model); for the other rules
            the encoder's ``max_seq_length`` when it has one, else 512.
        tokenizer: a :class:`Tokenizer` for counts; default the encoder's own tokenizer,
            else :class:`manifold_core.encoders.RegexTokenizer` (one token per CJK
            character, per word and per punctuation mark).
        sentence_splitter: a custom splitter (see :func:`split_sentences`).
        overlap_tokens: each chunk but a document's first also starts with the last whole
            units of the chunk before it, up to this many tokens (:func:`overlap_starts`);
            the cuts are chosen under ``max_tokens - overlap_tokens``, so a chunk still
            fits ``max_tokens``. ``0``: chunks do not overlap. ``None`` (default): half of
            ``max_tokens`` for the ``size`` rule, ``0`` for the others.
        batch_size: windows per embedding call; bounds memory on long documents.

    Raises:
        ValueError: a parameter is out of range (the message names it).
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        breakpoint_rule: BreakpointRule = "size",
        threshold: float | None = None,
        buffer_size: int = 0,
        min_tokens: int = 0,
        max_tokens: int | None = None,
        tokenizer: Tokenizer | None = None,
        sentence_splitter: SentenceSplitter | None = None,
        batch_size: int = 1024,
        overlap_tokens: int | None = None,
    ) -> None:
        if breakpoint_rule not in BREAKPOINT_RULES:
            raise ValueError(
                f"breakpoint_rule must be one of {', '.join(BREAKPOINT_RULES)}; "
                f"got {breakpoint_rule!r}"
            )
        t = DEFAULT_THRESHOLDS[breakpoint_rule] if threshold is None else threshold
        _validate_threshold(breakpoint_rule, t)
        if not isinstance(buffer_size, int) or buffer_size < 0:
            raise ValueError(f"buffer_size must be an int >= 0, got {buffer_size!r}")
        if not isinstance(batch_size, int) or batch_size < 2:
            raise ValueError(f"batch_size must be an int >= 2, got {batch_size!r}")
        if not isinstance(min_tokens, int) or min_tokens < 0:
            raise ValueError(f"min_tokens must be an int >= 0, got {min_tokens!r}")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"max_tokens must be an int >= 1 or None, got {max_tokens!r}")
        if max_tokens is not None and min_tokens > max_tokens:
            raise ValueError(f"min_tokens ({min_tokens}) must not exceed max_tokens ({max_tokens})")
        self.encoder: Encoder = resolve_encoder(encoder)
        self.breakpoint_rule: str = breakpoint_rule
        self.threshold = float(t)
        self.buffer_size = buffer_size
        self.min_tokens = min_tokens
        if max_tokens is None:
            limit = getattr(self.encoder, "max_seq_length", None)
            if breakpoint_rule == "size":
                reads = 2 * limit if limit else DEFAULT_MAX_TOKENS
                max_tokens = min(DEFAULT_SIZE_MAX_TOKENS, reads)
            else:
                max_tokens = limit or DEFAULT_MAX_TOKENS
            if min_tokens > max_tokens:
                raise ValueError(
                    f"min_tokens ({min_tokens}) exceeds the encoder's limit ({max_tokens}); "
                    "lower min_tokens or pass max_tokens"
                )
        self.max_tokens = int(max_tokens)
        if overlap_tokens is None:
            overlap_tokens = self.max_tokens // 2 if breakpoint_rule == "size" else 0
        if (
            isinstance(overlap_tokens, bool)
            or not isinstance(overlap_tokens, int)
            or not 0 <= overlap_tokens < self.max_tokens
        ):
            raise ValueError(
                f"overlap_tokens must be an int >= 0 and below max_tokens ({self.max_tokens}), "
                f"got {overlap_tokens!r}"
            )
        self.overlap_tokens = overlap_tokens
        # the cap the cuts are chosen under; the overlap fills the rest of max_tokens
        self._cap = self.max_tokens - overlap_tokens
        self.tokenizer: Tokenizer = tokenizer or tokenizer_for(self.encoder)
        self.sentence_splitter = sentence_splitter
        self.batch_size = batch_size

    # ------------------------------------------------------------------ public API

    def split_text(self, text: str) -> list[Chunk]:
        """Chunk one text. ``""`` or white space gives ``[]``; one sentence, one chunk."""
        return self.split_texts([text])[0]

    def split_texts(self, texts: Sequence[str]) -> list[list[Chunk]]:
        """Chunk several texts, embedding their windows together in shared batches."""
        if isinstance(texts, str):
            raise TypeError("split_texts takes a list of str; use split_text for one str")
        docs = self._prepare([_check_text(t) for t in texts])
        self._fill_similarities(docs)
        return self._chunks(docs)

    def similarities(self, text: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The units (spans) of ``text`` and the similarity at each gap between them."""
        doc = self._prepare([_check_text(text)])[0]
        self._fill_similarities([doc])
        return doc.units, doc.sims

    def breakpoints(self, sims: np.ndarray) -> np.ndarray:
        """Indices of the gaps the rule cuts (gap ``i`` lies between units ``i``, ``i+1``).

        Not for the ``size`` rule, which needs the units' token counts as well (its cuts
        are the boundaries of :meth:`split_text`'s chunks; see :func:`size_segments`).
        """
        if self.breakpoint_rule == "size":
            raise ValueError("breakpoint_rule='size' cuts by tokens too: use split_text")
        return _breakpoints(self.breakpoint_rule, self.threshold, np.asarray(sims, float))

    # ------------------------------------------------------------------ units

    def _prepare(self, texts: Sequence[str]) -> list[_Doc]:
        """Sentences of every text, cut into units that fit ``max_tokens`` (one count call)."""
        all_spans = [
            [(s.start, s.end) for s in split_sentences(text, self.sentence_splitter)]
            for text in texts
        ]
        flat = [text[s:e] for text, spans in zip(texts, all_spans, strict=True) for s, e in spans]
        flat_counts = iter(self.tokenizer.count(flat) if flat else [])
        docs = []
        for text, spans in zip(texts, all_spans, strict=True):
            units: list[tuple[int, int]] = []
            counts: list[int] = []
            for span in spans:
                count = next(flat_counts)
                if count <= self.max_tokens:
                    units.append(span)
                    counts.append(count)
                else:
                    pieces = self._split_long(text, span)
                    units.extend(pieces)
                    counts.extend(self._count_spans(text, pieces))
            sims = np.zeros(max(len(units) - 1, 0), dtype=np.float32)
            docs.append(_Doc(text, units, counts, sims))
        return docs

    def _count_spans(self, text: str, spans: Sequence[tuple[int, int]]) -> list[int]:
        if not spans:
            return []
        return self.tokenizer.count([text[s:e] for s, e in spans])

    def _split_long(self, text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
        """Cut a too-long sentence at clause punctuation, then at token boundaries."""
        start, end = span
        clauses: list[tuple[int, int]] = []
        cursor = start
        for m in _CLAUSE_END.finditer(text, start, end):
            if m.end() > cursor:
                clauses.append((cursor, m.end()))
                cursor = m.end()
        if cursor < end:
            clauses.append((cursor, end))
        clauses = [c for c in (trim_span(text, s, e) for s, e in clauses) if c]
        counts = self._count_spans(text, clauses)
        pieces: list[tuple[int, int]] = []
        current: tuple[int, int] | None = None
        for (c_start, c_end), count in zip(clauses, counts, strict=True):
            if count > self.max_tokens:
                if current:
                    pieces.append(current)
                    current = None
                pieces.extend(self._split_by_tokens(text, (c_start, c_end)))
                continue
            if current is None:
                current = (c_start, c_end)
                continue
            candidate = (current[0], c_end)
            if self._count_spans(text, [candidate])[0] <= self.max_tokens:
                current = candidate
            else:
                pieces.append(current)
                current = (c_start, c_end)
        if current:
            pieces.append(current)
        return pieces

    def _split_by_tokens(self, text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
        start, end = span
        token_spans = [(s + start, e + start) for s, e in self.tokenizer.spans(text[start:end])]
        pieces: list[tuple[int, int]] = []
        i = 0
        while i < len(token_spans):
            j = min(i + self.max_tokens, len(token_spans))
            # Re-tokenising a piece can differ at its edges: shrink until it truly fits.
            while True:
                piece = trim_span(text, token_spans[i][0], token_spans[j - 1][1])
                if piece is None or j - i == 1:
                    break
                if self._count_spans(text, [piece])[0] <= self.max_tokens:
                    break
                j -= 1
            if piece:
                pieces.append(piece)
            i = j
        return pieces

    # ------------------------------------------------------------------ similarities

    def _windows(self, n_units: int, gap: int) -> tuple[tuple[int, int], tuple[int, int]]:
        b = self.buffer_size
        return (max(0, gap - b), gap), (gap + 1, min(n_units - 1, gap + 1 + b))

    def _gap_tasks(self, docs: Sequence[_Doc]) -> Iterator[tuple[int, int]]:
        for d, doc in enumerate(docs):
            for gap in range(len(doc.units) - 1):
                yield d, gap

    def _fill_similarities(self, docs: Sequence[_Doc]) -> None:
        """Embed each distinct window once, batch by batch, keeping only similarities."""
        cache: dict[tuple[int, int, int], np.ndarray] = {}
        # Past the first block each gap adds about one new window (a right window comes
        # back as a left window b + 1 gaps later); a block of g gaps needs at most
        # g + b + 1 windows, so calls stay within batch_size and are nearly full.
        gaps_per_batch = max(1, self.batch_size - self.buffer_size - 1)
        tasks = self._gap_tasks(docs)
        while True:
            block = list(_take(tasks, gaps_per_batch))
            if not block:
                break
            wanted: dict[tuple[int, int, int], None] = {}
            for d, gap in block:
                left, right = self._windows(len(docs[d].units), gap)
                wanted[(d, *left)] = None
                wanted[(d, *right)] = None
            missing = [key for key in wanted if key not in cache]
            if missing:
                texts = [
                    docs[d].text[docs[d].units[s][0] : docs[d].units[e][1]] for d, s, e in missing
                ]
                vectors = np.asarray(self.encoder.encode_documents(texts), dtype=np.float32)
                if vectors.shape[0] != len(texts):
                    raise ValueError(
                        f"the encoder returned {vectors.shape[0]} vectors for {len(texts)} texts"
                    )
                for key, vector in zip(missing, vectors, strict=True):
                    cache[key] = vector
            for d, gap in block:
                left, right = self._windows(len(docs[d].units), gap)
                docs[d].sims[gap] = float(cache[(d, *left)] @ cache[(d, *right)])
            last_d, last_gap = block[-1]
            # A window ending at unit e can still open the left side of gap e: keep only those.
            cache = {k: v for k, v in cache.items() if k[0] == last_d and k[2] > last_gap}

    # ------------------------------------------------------------------ packing

    def _chunks(self, docs: Sequence[_Doc]) -> list[list[Chunk]]:
        ranges: list[list[tuple[int, int]]] = []
        for doc in docs:
            n = len(doc.units)
            if self.breakpoint_rule == "size":
                ranges.append(
                    size_segments(
                        doc.sims, doc.unit_tokens, self._cap, self.min_tokens, self.threshold
                    )
                )
                continue
            cuts = self.breakpoints(doc.sims) if n > 1 else np.zeros(0, dtype=int)
            bounds = [0, *(int(c) + 1 for c in cuts), n] if n else [0]
            ranges.append([(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)])
        sized = self._enforce_max(docs, ranges)
        out = []
        for doc, (doc_ranges, counts) in zip(docs, sized, strict=True):
            if self.min_tokens > 0 and len(doc_ranges) > 1:
                doc_ranges, counts = self._merge_small(doc, doc_ranges, counts)
            starts = [a for a, _ in doc_ranges]
            if self.overlap_tokens and len(doc_ranges) > 1:
                starts, counts = self._overlap(doc, doc_ranges, counts)
            chunks = []
            for index, ((a, b), s, count) in enumerate(
                zip(doc_ranges, starts, counts, strict=True)
            ):
                start, end = doc.units[s][0], doc.units[b - 1][1]
                boundary = float(doc.sims[a - 1]) if a > 0 else None
                chunks.append(Chunk(doc.text[start:end], start, end, count, boundary, index))
            out.append(chunks)
        return out

    def _overlap(
        self, doc: _Doc, ranges: list[tuple[int, int]], counts: list[int]
    ) -> tuple[list[int], list[int]]:
        """Each range's first unit with the overlap, and its token count (all <= max_tokens).

        Unit counts bound the overlap; a chunk whose joined text still counts over
        ``max_tokens`` gives back its earliest carried unit until it fits.
        """
        starts = overlap_starts(ranges, doc.unit_tokens, self.overlap_tokens)
        counts = list(counts)
        todo = [i for i, (s, (a, _)) in enumerate(zip(starts, ranges, strict=True)) if s < a]
        while todo:
            got = self.tokenizer.count(
                [self._range_text(doc, starts[i], ranges[i][1]) for i in todo]
            )
            retry = []
            for i, count in zip(todo, got, strict=True):
                if count <= self.max_tokens:
                    counts[i] = count
                else:
                    starts[i] += 1
                    if starts[i] < ranges[i][0]:
                        retry.append(i)
            todo = retry
        return starts, counts

    def _range_text(self, doc: _Doc, a: int, b: int) -> str:
        return doc.text[doc.units[a][0] : doc.units[b - 1][1]]

    def _enforce_max(
        self, docs: Sequence[_Doc], ranges: list[list[tuple[int, int]]]
    ) -> list[tuple[list[tuple[int, int]], list[int]]]:
        """Cut every range above ``max_tokens`` at its weakest gap until all fit.

        Each round counts the tokens of all pending ranges of all documents in one call.
        """
        done: list[dict[tuple[int, int], int]] = [{} for _ in docs]
        prefix = [np.concatenate([[0], np.cumsum(doc.unit_tokens)]) for doc in docs]
        todo = [(d, a, b) for d, doc_ranges in enumerate(ranges) for a, b in doc_ranges]
        while todo:
            # A range whose units add up to over twice the limit cannot fit: cut it without
            # tokenising it (joining units changes a count by far less than that).
            to_count: list[tuple[int, int, int]] = []
            to_cut: list[tuple[int, int, int]] = []
            for d, a, b in todo:
                estimate = prefix[d][b] - prefix[d][a]
                (to_cut if estimate > 2 * self._cap and b - a > 1 else to_count).append((d, a, b))
            texts = [self._range_text(docs[d], a, b) for d, a, b in to_count]
            counts = self.tokenizer.count(texts) if texts else []
            for (d, a, b), count in zip(to_count, counts, strict=True):
                if count <= self._cap or b - a == 1:
                    done[d][(a, b)] = count
                else:
                    to_cut.append((d, a, b))
            todo = []
            for d, a, b in to_cut:
                cut = a + int(np.argmin(docs[d].sims[a : b - 1]))
                todo.extend([(d, a, cut + 1), (d, cut + 1, b)])
        result = []
        for sized in done:
            ordered = sorted(sized)
            result.append((ordered, [sized[r] for r in ordered]))
        return result

    def _merge_small(
        self, doc: _Doc, ranges: list[tuple[int, int]], counts: list[int]
    ) -> tuple[list[tuple[int, int]], list[int]]:
        """Merge chunks below ``min_tokens`` into the more similar neighbour that fits."""
        n = len(ranges)
        rng = list(ranges)
        cnt = list(counts)
        prev = list(range(-1, n - 1))
        nxt = [*range(1, n), -1]
        alive = [True] * n
        heap = [(c, i) for i, c in enumerate(cnt) if c < self.min_tokens]
        heapq.heapify(heap)
        while heap:
            c, i = heapq.heappop(heap)
            if not alive[i] or c != cnt[i] or cnt[i] >= self.min_tokens:
                continue
            options = []
            for j in (prev[i], nxt[i]):
                if j < 0:
                    continue
                left, right = (j, i) if j == prev[i] else (i, j)
                sim = float(doc.sims[rng[right][0] - 1])
                options.append((sim, j, left, right))
            options.sort(key=lambda o: -o[0])
            for _sim, _j, left, right in options:
                a, b = rng[left][0], rng[right][1]
                merged = self.tokenizer.count([self._range_text(doc, a, b)])[0]
                if merged > self._cap:
                    continue
                rng[left], cnt[left] = (a, b), merged
                alive[right] = False
                nxt[left] = nxt[right]
                if nxt[right] >= 0:
                    prev[nxt[right]] = left
                if merged < self.min_tokens:
                    heapq.heappush(heap, (merged, left))
                break
        keep = [i for i in range(n) if alive[i]]
        return [rng[i] for i in keep], [cnt[i] for i in keep]


def _take(iterator: Iterator[tuple[int, int]], n: int) -> Iterable[tuple[int, int]]:
    for _ in range(n):
        try:
            yield next(iterator)
        except StopIteration:
            return


def _validate_threshold(rule: str, t: float) -> None:
    if isinstance(t, bool) or not isinstance(t, int | float) or math.isnan(t):
        raise ValueError(f"threshold must be a number, got {t!r}")
    if rule in ("percentile", "gradient") and not 0.0 <= t <= 1.0:
        raise ValueError(
            f"threshold for breakpoint_rule={rule!r} is a fraction in [0, 1] "
            f"(0.2 = the lowest 20%); got {t!r}"
        )
    if rule in ("stddev", "interquartile", "size") and t < 0:
        raise ValueError(f"threshold for breakpoint_rule={rule!r} must be >= 0; got {t!r}")
    if rule == "absolute" and not -1.0 <= t <= 1.0:
        raise ValueError(
            f"threshold for breakpoint_rule='absolute' is a cosine in [-1, 1]; got {t!r}"
        )
    if rule == "number_of_chunks" and (t < 1 or float(t) != int(t)):
        raise ValueError(
            f"threshold for breakpoint_rule='number_of_chunks' is a whole number >= 1; got {t!r}"
        )


def _breakpoints(rule: str, t: float, sims: np.ndarray) -> np.ndarray:
    """Gap indices to cut, ascending."""
    if sims.size == 0:
        return np.zeros(0, dtype=int)
    if rule == "size":
        raise ValueError("breakpoint_rule='size' needs token counts: use size_segments")
    if rule == "percentile":
        if t <= 0:
            return np.zeros(0, dtype=int)
        return np.flatnonzero(sims < np.percentile(sims, t * 100))
    if rule == "stddev":
        return np.flatnonzero(sims < sims.mean() - t * sims.std())
    if rule == "interquartile":
        q1, q3 = np.percentile(sims, [25, 75])
        return np.flatnonzero(sims < q1 - t * (q3 - q1))
    if rule == "gradient":
        if t <= 0 or sims.size < 2:
            return np.zeros(0, dtype=int)
        padded = np.concatenate([sims[:1], sims, sims[-1:]])
        dips = sims - (padded[:-2] + padded[2:]) / 2
        return np.flatnonzero((dips < np.percentile(dips, t * 100)) & (dips < 0))
    if rule == "absolute":
        return np.flatnonzero(sims < t)
    # number_of_chunks: the (t - 1) lowest gaps, earlier gap first among ties
    n_cuts = min(int(t) - 1, sims.size)
    if n_cuts <= 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((np.arange(sims.size), sims))
    return np.sort(order[:n_cuts])
