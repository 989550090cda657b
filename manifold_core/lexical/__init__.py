"""Lexical retrieval: a tokenizer and a sparse, incremental BM25 index, one concept a module.

* :mod:`.tokenizer`: text to terms (jieba for Chinese, words for Latin scripts, Snowball
  stemming and stop words), :class:`LexicalTokenizer`.
* :mod:`.fingerprints`: 64-bit record digests and the order-free content fingerprint.
* :mod:`.segments`: the engine's data: immutable term-major segments and the snapshot a
  search reads; building, merging, tombstoning, compacting.
* :mod:`.scoring`: BM25 (``lucene`` and ``okapi``) weights of a query's postings.
* :mod:`.selection`: candidates, eligibility (live, filtered) and the exact top k.
* :mod:`.index`: :class:`LexicalIndex`, the thread-safe index tying these together.
* :mod:`.persistence` and :mod:`.files`: atomic, checksummed, pickle-free save and load.

The names below are re-exported so ``from manifold_core.lexical import ...`` keeps working.
"""

from __future__ import annotations

from manifold_core.lexical.fingerprints import content_fingerprint, record_digests
from manifold_core.lexical.index import LexicalIndex
from manifold_core.lexical.tokenizer import (
    DEFAULT_LANGUAGE,
    ENGLISH_STOPWORDS,
    LexicalTokenizer,
    default_tokenize,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "ENGLISH_STOPWORDS",
    "LexicalIndex",
    "LexicalTokenizer",
    "content_fingerprint",
    "default_tokenize",
    "record_digests",
]
