"""HybridStore: one Chroma collection and its lexical (BM25) index over the same ids.

Chroma is the one source of truth, shared by any number of processes and machines (a
``chroma run`` server); each store's lexical index is a cache of it that converges by
itself (:mod:`manifold_core.mirror`): our writers leave entries in a write journal
(:mod:`manifold_core.journal`) that readers catch up from within ``max_staleness``, writes by
other tools are detected by the count and a periodic repair scan, and a saved snapshot is
loaded, then caught up. Every search result is read back from Chroma under the query's
filter, so a stale index can cost a candidate, never a wrong hit.

The class is assembled from one module per concern: collection access and Chroma's limits
(:mod:`~manifold_core.store.chroma`), the lexical side index
(:mod:`~manifold_core.store.lexical_side`), the read path
(:mod:`~manifold_core.store.reads`) and the journaled write path
(:mod:`~manifold_core.store.writes`).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from manifold_core.encoders import Encoder
from manifold_core.journal import Journal
from manifold_core.lexical import DEFAULT_LANGUAGE, LexicalTokenizer
from manifold_core.locks import hold_directory
from manifold_core.mirror import LexicalMirror
from manifold_core.store.lexical_side import ChromaSource
from manifold_core.store.reads import ReadPath
from manifold_core.store.writes import WritePath

__all__ = ["DEFAULT_COLLECTION", "HybridStore"]

DEFAULT_COLLECTION = "manifold"


class HybridStore(WritePath, ReadPath):
    """A Chroma collection plus a BM25 index over the same ids, kept converging.

    Args:
        encoder: the embedding model: anything :func:`resolve_encoder` accepts (a name, an
            ``Encoder``, a ``SentenceTransformer``, a LangChain ``Embeddings``, a LlamaIndex
            ``BaseEmbedding``). Resolved on first use, so a store fed only precomputed
            embeddings never loads a model. ``None`` means the default Qwen3 model.
        path: directory of the embedded ``chromadb.PersistentClient`` (default
            ``"manifold_db"``); ignored when ``client`` is given. One process at a time:
            a second one is refused (use a ``chroma run`` server for several).
        client: a ready Chroma client: ``EphemeralClient``, ``PersistentClient`` or
            ``HttpClient`` (a ``chroma run`` server, for several processes or machines).
        collection_name: the Chroma collection. It is created (cosine space) by the first
            write; reading a collection that does not exist raises
            :class:`CollectionNotFoundError`, so a typo is never an empty result.
        lexical_variant: ``"lucene"`` (default) or ``"okapi"`` BM25.
        tokenizer: a callable ``str -> list[str]`` for the lexical index (default: jieba
            for CJK, words for Latin scripts). A ``LexicalTokenizer`` is saved with the
            snapshot; any other callable is not persisted, so the
            index is rebuilt from Chroma when the store opens.
        lexical_dir: where to save lexical snapshots. Default: inside the persistent
            client's directory; for an ``HttpClient`` or ``EphemeralClient`` the index is
            kept in memory and built from Chroma when the store opens.
        autosave: save the lexical snapshot after every write.
        embedding_batch_size: texts handed to the encoder per call.
        max_staleness: seconds a search may run on an index that has not checked Chroma
            for other processes' writes (0: check before every search).
        verify_interval: seconds between background repair scans, which catch writes by
            other tools that keep the count (an upsert of an existing id).
        journal_retention: seconds journal entries are kept; a store that was not checked
            for longer re-verifies everything.
        intent_timeout: seconds after which a write that journaled its start but not its
            end (a writer killed mid-write) is re-read anyway.
        read_only: never write to Chroma or to disk (write methods raise
            ``PermissionError``); the lexical index lives in memory.
        hidden_keys: metadata keys that are storage internals of another tool: not
            mirrored into the lexical index, refused in filters, still returned by
            :meth:`get`.

    Every filter argument (:meth:`get`, :meth:`delete`, :meth:`iter_records`,
    :meth:`dense_search`, :meth:`lexical_search`) is spelled ``filter=``; the older
    ``where=`` of the first three still works, with a ``DeprecationWarning``.
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        path: str | os.PathLike[str] | None = None,
        client: Any = None,
        collection_name: str = DEFAULT_COLLECTION,
        lexical_variant: Literal["lucene", "okapi"] = "lucene",
        tokenizer: Any = None,
        lexical_dir: str | os.PathLike[str] | None = None,
        autosave: bool = True,
        embedding_batch_size: int = 256,
        max_staleness: float = 1.0,
        verify_interval: float = 300.0,
        journal_retention: float = 3600.0,
        intent_timeout: float = 30.0,
        read_only: bool = False,
        hidden_keys: Iterable[str] = (),
    ) -> None:
        if lexical_variant not in ("lucene", "okapi"):
            raise ValueError(
                f"lexical_variant must be 'lucene' or 'okapi', got {lexical_variant!r}"
            )
        if embedding_batch_size <= 0:
            raise ValueError(f"embedding_batch_size must be positive, got {embedding_batch_size}")
        if isinstance(hidden_keys, str):
            raise TypeError("hidden_keys must be a collection of str, not a single str")
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb

        if client is None:
            client = chromadb.PersistentClient(
                path=str(path if path is not None else "manifold_db")
            )
        self.client = client
        self.collection_name = collection_name
        self.read_only = bool(read_only)
        self.hidden_keys = frozenset(hidden_keys)
        settings = client.get_settings()
        self._persist_dir = (
            Path(settings.persist_directory)
            if getattr(settings, "is_persistent", False) and settings.persist_directory
            else None
        )
        if self._persist_dir is not None:
            hold_directory(self._persist_dir)
        self._collection = None
        self._find_collection()
        self.lexical_variant = lexical_variant
        self.tokenizer = tokenizer
        self.autosave = autosave
        self.embedding_batch_size = embedding_batch_size
        self._encoder_spec = encoder
        self._encoder = encoder if isinstance(encoder, Encoder) else None
        self._dimension = None
        self._write_lock = threading.RLock()  # one writer at a time in this process
        self.lexical_dir = None if self.read_only else self._default_lexical_dir(lexical_dir)
        self.journal = Journal(client, collection_name, retention=journal_retention)
        self.mirror = LexicalMirror(
            ChromaSource(self),
            self.journal,
            self._new_lexical,
            max_staleness=max_staleness,
            verify_interval=verify_interval,
            on_change=self._autosave,
        )
        self.mirror.cursor.intent_timeout = float(intent_timeout)
        self._open_lexical()

    @classmethod
    def from_collection(cls, collection: Any, encoder: Any = None, **kwargs: Any) -> HybridStore:
        """Open an existing ``chromadb.Collection`` (of any tool) as a hybrid store.

        Takes every keyword of the constructor except ``client``/``path``/
        ``collection_name``, which come from the collection.
        """
        api = getattr(collection, "_client", None)
        if api is None or not hasattr(collection, "name"):
            raise TypeError(f"expected a chromadb Collection, got {type(collection).__name__}")
        for key in ("client", "path", "collection_name"):
            if key in kwargs:
                raise TypeError(f"from_collection() takes the {key} from the collection")
        from chromadb.api.client import Client

        # A public client on the same Chroma system (in process: the very same one).
        client = Client(
            tenant=collection.tenant, database=collection.database, settings=api.get_settings()
        )
        return cls(encoder, client=client, collection_name=collection.name, **kwargs)

    @classmethod
    def for_documents(
        cls,
        encoder: Any = None,
        *,
        path: str | os.PathLike[str] | None = None,
        client: Any = None,
        collection_name: str | None = None,
        lexical_variant: Literal["lucene", "okapi"] = "lucene",
        stemming: str | None = DEFAULT_LANGUAGE,
        stopwords: Sequence[str] | str | None = None,
        tokenizer: Callable[[str], list[str]] | None = None,
        **kwargs: Any,
    ) -> HybridStore:
        """A store for documents about to be added (the adapters' ``from_documents``).

        Without ``path`` or ``client`` it lives in memory: a fresh ``EphemeralClient``
        and, unless named, a unique collection (so two in-memory stores never share one);
        otherwise the collection defaults to ``"manifold"``. The BM25 tokenizer is a
        :class:`~manifold_core.lexical.LexicalTokenizer` of ``stopwords`` and the
        ``stemming`` language, unless ``tokenizer`` is given. ``kwargs``: the
        constructor's other options (``hidden_keys``...).
        """
        if client is None and path is None:
            import chromadb

            client = chromadb.EphemeralClient()
            collection_name = collection_name or f"manifold-{uuid.uuid4().hex[:12]}"
        return cls(
            encoder,
            path=path,
            client=client,
            collection_name=collection_name or DEFAULT_COLLECTION,
            lexical_variant=lexical_variant,
            tokenizer=tokenizer or LexicalTokenizer(stopwords, language=stemming),
            **kwargs,
        )
