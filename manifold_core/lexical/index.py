"""The :class:`LexicalIndex`: a thread-safe, incremental BM25 index over the segment engine.

Writers serialise on a lock and publish a new immutable snapshot; searches read the current
snapshot without taking the lock, so they never wait for a writer and never see half an
update. Scoring (:mod:`.scoring`), top-k selection (:mod:`.selection`) and saving
(:mod:`.persistence`) are pure functions of a snapshot; this class owns the mutable parts:
the vocabulary, the id-to-row map and the metadata table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from manifold_core.filters import MetadataFilter, MetadataTable
from manifold_core.lexical import persistence
from manifold_core.lexical.fingerprints import record_digests, token_digests
from manifold_core.lexical.scoring import BM25, Variant, accumulate, query_terms
from manifold_core.lexical.segments import (
    Snapshot,
    build_segment,
    compact,
    empty_snapshot,
    local_term_ids,
    merge_small,
    tombstone,
)
from manifold_core.lexical.selection import Scratch, select
from manifold_core.lexical.tokenizer import LexicalTokenizer
from manifold_core.validation import positive_int

__all__ = ["LexicalIndex"]


class LexicalIndex:
    """A BM25 index with upsert, delete, metadata filters, and atomic numpy/json persistence.

    Args:
        variant: ``"lucene"`` (Elasticsearch's BM25, default) or ``"okapi"`` (exactly
            ``rank_bm25.BM25Okapi``).
        k1: term-frequency saturation; default 1.2 for lucene, 1.5 for okapi.
        b: length normalisation.
        epsilon: okapi only: a negative idf is replaced by ``epsilon * mean idf``.
        tokenizer: ``text -> list[str]``; default :class:`LexicalTokenizer` (jieba + words).

    Search results are ``(id, score)`` pairs, best first, only documents with a positive
    score that satisfy the filter; equal scores are ordered by id (ascending), so results
    do not depend on insertion history. All methods are thread-safe: writers serialise on a
    lock, searches read an immutable snapshot without taking it.
    """

    FORMAT: ClassVar[str] = persistence.FORMAT
    VERSION: ClassVar[int] = persistence.VERSION
    MAX_SEGMENTS: ClassVar[int] = 8
    MERGE_RATIO: ClassVar[int] = 4
    COMPACT_DEAD_FRACTION: ClassVar[float] = 1 / 3

    def __init__(
        self,
        variant: Variant = "lucene",
        *,
        k1: float | None = None,
        b: float = 0.75,
        epsilon: float = 0.25,
        tokenizer: Callable[[str], list[str]] | None = None,
    ) -> None:
        self._bm25 = BM25.checked(variant, k1, b, epsilon)
        if tokenizer is not None and not callable(tokenizer):
            raise TypeError(f"tokenizer must be callable (text -> list[str]), got {tokenizer!r}")
        self.tokenizer: Callable[[str], list[str]] = tokenizer or LexicalTokenizer()
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()
        self._snap = empty_snapshot()
        self._vocab: dict[str, int] = self._snap.vocab
        self._row_of: dict[str, int] = {}
        self._table = MetadataTable()
        self._scratch = Scratch()
        self._generations: list[str] = []  # generation folders this index saved
        self.saved_extra: dict[str, Any] = {}

    # --- introspection -------------------------------------------------------------------

    @property
    def variant(self) -> Variant:
        """``"lucene"`` or ``"okapi"``."""
        return self._bm25.variant

    @property
    def k1(self) -> float:
        """Term-frequency saturation."""
        return self._bm25.k1

    @property
    def b(self) -> float:
        """Length normalisation."""
        return self._bm25.b

    @property
    def epsilon(self) -> float:
        """Okapi's floor for negative idfs, as a fraction of the mean idf."""
        return self._bm25.epsilon

    def __len__(self) -> int:
        return self._snap.n_docs

    def __contains__(self, id: object) -> bool:
        return id in self._row_of

    @property
    def ids(self) -> list[str]:
        """Live ids in row order (insertion order; an upserted id moves to the end)."""
        snap = self._snap
        rows = np.flatnonzero(snap.alive)
        return [snap.ids[r] for r in rows.tolist()]

    @property
    def fingerprint(self) -> str:
        """Cheap content identity: count + order-free sum of (id, text, metadata) digests.

        Equal to :func:`content_fingerprint` over the same records, so a store can tell
        whether the saved index still mirrors its collection.
        """
        return self._snap.fingerprint

    @property
    def vocabulary_size(self) -> int:
        """Number of distinct terms with at least one live document."""
        return int(np.count_nonzero(self._snap.df))

    def digests_of(self, ids: Sequence[str]) -> np.ndarray:
        """Record digests (see :func:`record_digests`) of ``ids``; 0 where an id is absent."""
        snap = self._snap
        row_of = self._row_of
        out = np.zeros(len(ids), dtype=np.uint64)
        for n, i in enumerate(ids):
            row = row_of.get(i)
            if row is not None and row < snap.n_rows and snap.alive[row]:
                out[n] = snap.digests[row]
        return out

    def get_metadata(self, id: str) -> dict[str, Any]:
        """The metadata stored for ``id`` (as Chroma returns it: absent keys dropped)."""
        with self._lock:
            row = self._row_of.get(id)
            if row is None:
                raise KeyError(id)
            return self._table.get(row)

    def __repr__(self) -> str:
        return (
            f"LexicalIndex(variant={self.variant!r}, k1={self.k1}, b={self.b}, "
            f"docs={len(self)}, terms={self.vocabulary_size})"
        )

    # --- writes --------------------------------------------------------------------------

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None:
        """Add or replace documents (upsert: an existing id is replaced).

        Raises:
            ValueError: on mismatched lengths, duplicate ids in one call, non-str ids or
                texts, or metadata Chroma would reject; nothing is written then.
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str, not one str")
        if len(ids) != len(texts):
            raise ValueError(f"got {len(ids)} ids but {len(texts)} texts")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be str, got {type(t).__name__}")
        metas = self._check_batch(ids, metadatas)
        tokens = [self.tokenizer(t) for t in texts]
        digests = record_digests(list(ids), list(texts), metas)
        self._add_tokens(list(ids), tokens, metas, digests)

    def add_tokenized(
        self,
        ids: Sequence[str],
        tokens: Sequence[Sequence[str]],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        texts: Sequence[str] | None = None,
    ) -> None:
        """Like :meth:`add` for documents tokenized already (benchmarks, custom pipelines).

        ``texts``, when given, only feed the fingerprint (so it equals
        :func:`content_fingerprint` over the texts); otherwise a hash of each token sequence
        stands in for the text.
        """
        if len(ids) != len(tokens):
            raise ValueError(f"got {len(ids)} ids but {len(tokens)} token lists")
        if texts is not None and len(texts) != len(ids):
            raise ValueError(f"got {len(ids)} ids but {len(texts)} texts")
        metas = self._check_batch(ids, metadatas)
        digests = None if texts is None else record_digests(list(ids), list(texts), metas)
        self._add_tokens(list(ids), tokens, metas, digests)

    @staticmethod
    def _check_batch(
        ids: Sequence[str], metadatas: Sequence[Mapping[str, Any] | None] | None
    ) -> list[Mapping[str, Any] | None]:
        """Checked ids (non-empty str, unique in the batch) and one metadata slot per id."""
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of str, not one str")
        for i in ids:
            if not isinstance(i, str) or not i:
                raise ValueError(f"ids must be non-empty str, got {i!r}")
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    raise ValueError(f"duplicate id {i!r} in one add; Chroma rejects it too")
                seen.add(i)
        if metadatas is None:
            return [None] * len(ids)
        if len(metadatas) != len(ids):
            raise ValueError(f"got {len(ids)} ids but {len(metadatas)} metadatas")
        return list(metadatas)

    def _add_tokens(
        self,
        ids: list[str],
        tokens: Sequence[Sequence[str]],
        metas: list[Mapping[str, Any] | None],
        digests: np.ndarray | None,
    ) -> None:
        """Append a checked batch as one new segment and publish the snapshot."""
        if not ids:
            return
        lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
        local_ids, local_terms = local_term_ids(tokens, int(lengths.sum()))
        if digests is None:
            digests = token_digests(ids, local_ids, local_terms, lengths, metas)
        with self._lock:
            snap = self._snap
            vocab = self._vocab
            new_terms = [t for t in local_terms if t not in vocab]
            for t in new_terms:
                if not isinstance(t, str):
                    raise TypeError(f"tokens must be str, got {t!r} ({type(t).__name__})")
            # Metadata next: it validates everything before writing, so a bad value
            # leaves the index untouched.
            self._table.append(metas)
            replaced = [self._row_of[i] for i in ids if i in self._row_of]
            if replaced:  # upsert: tombstone the old rows in the snapshot we publish below
                snap = self._delete_rows(snap, replaced)
            for t in new_terms:  # new terms get ids in first-seen order
                vocab[t] = len(vocab)
            to_global = np.fromiter(
                map(vocab.__getitem__, local_terms), dtype=np.int32, count=len(local_terms)
            )
            vsize = len(vocab)
            row_start = snap.n_rows
            segment, df_inc = build_segment(to_global[local_ids], lengths, row_start, vsize)
            df = np.zeros(vsize, dtype=np.int64)
            df[: len(snap.df)] = snap.df
            df += df_inc
            ids_list = snap.ids
            if len(ids_list) != snap.n_rows:  # a compaction dropped the tail; never shared
                ids_list = ids_list[: snap.n_rows]
            ids_list.extend(ids)
            for offset, i in enumerate(ids):
                self._row_of[i] = row_start + offset
            new = Snapshot(
                segments=(*snap.segments, segment),
                n_rows=row_start + len(ids),
                alive=np.concatenate([snap.alive, np.ones(len(ids), dtype=bool)]),
                doc_len=np.concatenate([snap.doc_len, lengths]),
                digests=np.concatenate([snap.digests, digests]),
                ids=ids_list,
                table=self._table.view(),
                df=df,
                n_docs=snap.n_docs + len(ids),
                vocab=vocab,
                total_len=snap.total_len + int(lengths.sum()),
            )
            self._snap = self._maintain(new)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents; unknown ids are ignored."""
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of str, not one str")
        with self._lock:
            rows = [self._row_of[i] for i in set(ids) if i in self._row_of]
            if rows:
                self._snap = self._maintain(self._delete_rows(self._snap, rows))

    def clear(self) -> None:
        """Remove every document (keeps the configuration)."""
        with self._lock:
            # A new vocabulary object: searches still running on an old snapshot keep
            # reading the old one, whose term ids match their segments.
            self._snap = empty_snapshot()
            self._vocab = self._snap.vocab
            self._row_of = {}
            self._table = MetadataTable()

    def _delete_rows(self, snap: Snapshot, rows: list[int]) -> Snapshot:
        """``snap`` with ``rows`` tombstoned; their ids leave the id-to-row map."""
        marked = np.asarray(sorted(rows), dtype=np.int64)
        for r in marked.tolist():
            self._row_of.pop(snap.ids[r], None)
        return tombstone(snap, marked)

    def _maintain(self, snap: Snapshot) -> Snapshot:
        """Merge small segments geometrically; compact when many rows are dead."""
        dead = snap.n_rows - snap.n_docs
        if dead and dead >= self.COMPACT_DEAD_FRACTION * snap.n_rows:
            snap, self._table = compact(snap, self._table)
            self._row_of = {i: r for r, i in enumerate(snap.ids)}
            return snap
        return merge_small(snap, self.MERGE_RATIO, self.MAX_SEGMENTS)

    # --- search --------------------------------------------------------------------------

    def _tokens(self, query: str | Sequence[str]) -> list[str]:
        """The query's terms: a str through the tokenizer, a token list as it is."""
        if isinstance(query, str):
            return self.tokenizer(query)
        if isinstance(query, Sequence) and all(isinstance(t, str) for t in query):
            return list(query)
        raise TypeError(f"query must be a str or a list of str tokens, got {query!r}")

    def get_scores(self, query: str | Sequence[str]) -> np.ndarray:
        """BM25 score of every live document, aligned with :attr:`ids` (zeros included).

        ``query`` is a string (tokenized) or a token list. In okapi mode this equals
        ``rank_bm25.BM25Okapi(corpus).get_scores(tokens)`` for the same corpus order.
        """
        snap = self._snap
        tokens = self.tokenizer(query) if isinstance(query, str) else list(query)
        full = np.zeros(snap.n_rows, dtype=np.float64)
        terms = query_terms(snap, tokens)
        if terms and snap.n_docs:
            accumulate(full, terms, self._bm25.postings(snap, terms))
        return full[snap.alive]

    def search(
        self,
        query: str | Sequence[str],
        k: int,
        where: Mapping[str, Any] | MetadataFilter | None = None,
    ) -> list[tuple[str, float]]:
        """Top ``k`` documents for ``query``: ``(id, score)``, best first, score > 0 only.

        Args:
            query: text (tokenized with the index's tokenizer) or a token list.
            k: number of results wanted (fewer come back when fewer documents match).
            where: a Chroma ``where`` dict or :class:`MetadataFilter`; only documents that
                satisfy it are scored into the result (the same semantics as Chroma's).

        Raises:
            ValueError: for ``k < 1`` or an invalid filter.
        """
        k = positive_int(k, "k")
        flt = MetadataFilter.parse(where)
        tokens = self._tokens(query)
        snap = self._snap
        terms = query_terms(snap, tokens)
        if not terms or not snap.n_docs:
            return []
        return select(snap, terms, self._bm25.postings(snap, terms), k, flt, self._scratch)

    # --- persistence ---------------------------------------------------------------------

    def save(self, directory: str | Path, extra: Mapping[str, Any] | None = None) -> None:
        """Write the index to ``directory`` atomically (numpy ``.npy`` and JSON, no pickle).

        A new generation folder is written and fsynced, then a ``CURRENT`` pointer file is
        replaced atomically; a crash at any point leaves the previous index loadable.
        Temporary names are private to this process, and a save removes only generations
        this index wrote itself (or leftovers a day old), never another process's files.
        ``extra`` is stored in the manifest and comes back as :attr:`saved_extra`.
        """
        directory = Path(directory)
        with self._save_lock:  # concurrent saves would clean up each other's generations
            with self._lock:  # one consistent state; searches continue on their snapshot
                snap = self._snap
                vocab = list(snap.vocab)[: len(snap.df)]
            gen = persistence.write_generation(
                directory, snap, vocab, self._bm25, self.tokenizer, dict(extra or {})
            )
            old, self._generations = self._generations, [gen]
            persistence.remove_generations(directory, old, gen)

    @staticmethod
    def saved_fingerprint(directory: str | Path) -> str | None:
        """The fingerprint recorded in a saved index, without loading it (None if absent)."""
        return persistence.saved_fingerprint(Path(directory))

    @classmethod
    def load(
        cls, directory: str | Path, *, tokenizer: Callable[[str], list[str]] | None = None
    ) -> LexicalIndex:
        """Load an index saved by :meth:`save`, validating every file.

        Args:
            directory: the folder given to :meth:`save`.
            tokenizer: required when the index was built with a custom tokenizer.

        Raises:
            ValueError: naming the file that is missing, corrupt, or not ours.
        """
        saved = persistence.load(Path(directory), tokenizer)
        bm25 = saved.bm25
        index = cls(
            bm25.variant, k1=bm25.k1, b=bm25.b, epsilon=bm25.epsilon, tokenizer=saved.tokenizer
        )
        index._snap = saved.snapshot
        index._vocab = saved.snapshot.vocab
        index._row_of = saved.row_of
        index._table = saved.table
        index.saved_extra = saved.extra
        return index
