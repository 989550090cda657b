"""HybridStore: Chroma and the lexical index stay on the same ids and texts, whatever happens."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hybrid_helpers import HashEncoder
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import manifold_core.store.chroma as store_mod
from manifold_core.lexical import LexicalIndex, content_fingerprint
from manifold_core.mirror import LexicalMirror
from manifold_core.store import HybridStore, PartialWriteError

DOCS = [
    ("a", "the cat sat on the mat", {"kind": "pet", "year": 2021}),
    ("b", "a dog chased the ball", {"kind": "pet", "year": 2022, "none": None}),
    ("c", "stock markets fell sharply", {"kind": "finance", "year": 2022}),
    ("d", "bond yields rose again", {}),
]


def _make(client: Any, name: str, **kwargs: Any) -> HybridStore:
    return HybridStore(HashEncoder(), client=client, collection_name=name, **kwargs)


def _filled(client: Any, name: str, **kwargs: Any) -> HybridStore:
    store = _make(client, name, **kwargs)
    ids, texts, metas = zip(*DOCS, strict=True)
    store.add(list(texts), list(metas), ids=list(ids))
    return store


def _chroma_state(store: HybridStore) -> dict[str, str]:
    return {r.id: r.text for r in store.iter_records()}


def _assert_in_sync(store: HybridStore) -> None:
    assert sorted(store.lexical.ids) == sorted(_chroma_state(store))
    assert len(store.lexical) == store.count()


def test_add_get_count_round_trip(ephemeral_client: Any, unique_name: str) -> None:
    store = _filled(ephemeral_client, unique_name)
    assert store.count() == 4
    got = store.get(ids=["d", "b", "missing", "a"])
    assert [r.id for r in got] == ["d", "b", "a"]
    assert got[0].metadata == {}  # empty dict stored as None, read back as {}
    assert got[1].metadata == {"kind": "pet", "year": 2022}  # None value dropped
    assert got[2].text == "the cat sat on the mat"
    assert [r.id for r in store.get(filter={"kind": "finance"})] == ["c"]
    _assert_in_sync(store)


def test_embeddings_are_computed_in_batches(ephemeral_client: Any, unique_name: str) -> None:
    enc = HashEncoder()
    store = HybridStore(
        enc, client=ephemeral_client, collection_name=unique_name, embedding_batch_size=3
    )
    store.add([f"text number {i}" for i in range(10)])
    assert enc.calls == 4
    assert store.count() == 10


def test_precomputed_embeddings_never_touch_the_encoder(
    ephemeral_client: Any, unique_name: str
) -> None:
    store = HybridStore(
        "no/such/model", client=ephemeral_client, collection_name=unique_name
    )  # resolved lazily: never loaded
    vectors = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    store.add(["x y", "y z", "z x"], ids=["1", "2", "3"], embeddings=vectors)
    got = store.get(ids=["2"], include_embeddings=True)[0]
    assert got.embedding is not None and got.embedding.shape == (8,)
    assert store.dimension == 8


def test_chroma_batch_limit_is_respected(
    ephemeral_client: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _make(ephemeral_client, unique_name)
    calls: list[int] = []
    real_add = store.collection.add

    def spy(**kw: Any) -> Any:
        calls.append(len(kw["ids"]))
        return real_add(**kw)

    monkeypatch.setattr(store.collection, "add", spy)
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 4)
    store.add([f"doc {i}" for i in range(10)])
    assert calls == [4, 4, 2]
    _assert_in_sync(store)


def test_id_lists_are_chunked(
    ephemeral_client: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma's SQLite fails above 32,766 ids per call; the store never sends that many."""
    monkeypatch.setattr(store_mod, "_ID_CHUNK", 3)
    monkeypatch.setattr(store_mod, "_PAGE", 4)
    store = _make(ephemeral_client, unique_name)
    ids = [f"id{i:02d}" for i in range(11)]
    store.add([f"word{i} common" for i in range(11)], ids=ids)
    seen: list[int] = []
    real_get = store.collection.get

    def spy(*a: Any, **kw: Any) -> Any:
        if kw.get("ids") is not None:
            seen.append(len(kw["ids"]))
        return real_get(*a, **kw)

    monkeypatch.setattr(store.collection, "get", spy)
    assert [r.id for r in store.get(ids=ids)] == ids
    assert max(seen) <= 3
    assert store.delete(ids=ids[:7]) == 7
    assert max(seen) <= 3
    assert store.refresh(force=True)
    _assert_in_sync(store)
    assert store.count() == 4


def test_add_of_an_existing_id_raises_and_writes_nothing(
    ephemeral_client: Any, unique_name: str
) -> None:
    store = _filled(ephemeral_client, unique_name)
    with pytest.raises(ValueError, match=r"'a'.*upsert"):
        store.add(["new one", "other"], ids=["new", "a"])
    assert store.count() == 4 and "new" not in store.lexical
    _assert_in_sync(store)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"ids": ["x", "x"]}, "duplicate ids"),
        ({"ids": ["x"]}, "1 ids for 2 texts"),
        ({"ids": ["x", ""]}, r"ids\[1\]"),
        ({"metadatas": [{"ok": 1}, {"bad": {"nested": 1}}]}, r"metadatas\[1\]\['bad'\]"),
        ({"metadatas": [{"ok": 1}, {"mixed": [1, "a"]}]}, "mixes value types"),
        ({"metadatas": [{"big": 2**63}, None]}, "does not fit in 64 bits"),
        ({"metadatas": [None, {"big": [1, -(2**63) - 1]}]}, "does not fit in 64 bits"),
        ({"embeddings": np.ones((2, 5))}, "dimension 5"),
        ({"embeddings": np.full((2, 64), np.nan)}, "NaN"),
        ({"embeddings": np.ones((3, 64))}, r"shape \(3, 64\) for 2 texts"),
    ],
)
def test_bad_input_is_rejected_before_anything_is_written(
    ephemeral_client: Any, unique_name: str, kwargs: dict[str, Any], needle: str
) -> None:
    store = _filled(ephemeral_client, unique_name)
    before = _chroma_state(store)
    with pytest.raises(ValueError, match=needle):
        store.upsert(["first new text", "second new text"], **kwargs)
    assert _chroma_state(store) == before
    _assert_in_sync(store)


def test_store_and_a_lone_lexical_index_follow_one_metadata_value_rule(
    ephemeral_client: Any, unique_name: str
) -> None:
    # The rule lives in records.metadata_value: [] is "no value" (the lexical index used to
    # raise on it while the store dropped it), a tuple or array is a list, numpy scalars are
    # Python ones. Both sides hold the same metadata and the same fingerprint.
    meta = {"empty": [], "tup": ("a", "b"), "arr": np.array([1, 2]), "n": np.int64(3)}
    store = _make(ephemeral_client, unique_name)
    store.add(["one text"], [meta], ids=["x"])
    index = LexicalIndex()
    index.add(["x"], ["one text"], [meta])
    expected = {"tup": ["a", "b"], "arr": [1, 2], "n": 3}
    assert store.get(ids=["x"])[0].metadata == expected
    assert store.lexical.get_metadata("x") == index.get_metadata("x") == expected
    assert store.lexical.fingerprint == index.fingerprint
    assert content_fingerprint(["x"], ["one text"], [expected]) == index.fingerprint


@pytest.mark.parametrize(
    "bad",
    [np.float32("nan"), np.float64("inf"), [np.float32(1.0), np.float32("nan")], float("nan")],
)
def test_a_nan_of_any_float_type_is_refused_on_write(
    ephemeral_client: Any, unique_name: str, bad: Any
) -> None:
    # numpy scalars become Python ones before the finite check, so numpy.float32('nan')
    # cannot slip past it; the write path (records.clean_metadata) refuses NaN, while the
    # lexical mirror holds what Chroma holds: a NaN is an absent key there.
    store = _make(ephemeral_client, unique_name)
    with pytest.raises(ValueError, match=r"metadatas\[0\]\['f'\].*not finite"):
        store.add(["text"], [{"f": bad, "k": 1}], ids=["x"])
    assert store.count() == 0 and len(store.lexical) == 0
    index = LexicalIndex()
    index.add(["x"], ["text"], [{"f": bad, "k": 1}])
    assert index.get_metadata("x") == {"k": 1}


def test_wrong_dimension_from_the_encoder_loses_nothing(
    ephemeral_client: Any, unique_name: str
) -> None:
    _filled(ephemeral_client, unique_name)
    other = HybridStore(HashEncoder(dim=16), client=ephemeral_client, collection_name=unique_name)
    with pytest.raises(ValueError, match=r"dimension 16 .* holds dimension 64"):
        other.add(["more"], ids=["e"])
    assert other.count() == 4
    assert _chroma_state(other) == {d[0]: d[1] for d in DOCS}


def test_existing_l2_collection_still_reports_cosine(
    ephemeral_client: Any, unique_name: str
) -> None:
    ephemeral_client.create_collection(unique_name, embedding_function=None)  # default l2
    store = _filled(ephemeral_client, unique_name)
    assert store.space == "l2"
    q = HashEncoder().encode_queries(["cat mat"])[0]
    (doc_id, sim), *_ = store.dense_search(q, 1)
    d = HashEncoder().encode_documents([store.get(ids=[doc_id])[0].text])[0]
    assert sim == pytest.approx(float(q @ d), abs=1e-5)


def test_upsert_replaces_text_on_both_sides(ephemeral_client: Any, unique_name: str) -> None:
    store = _filled(ephemeral_client, unique_name)
    store.upsert(["a parrot on the perch"], [{"kind": "bird"}], ids=["a"])
    assert store.get(ids=["a"])[0].text == "a parrot on the perch"
    assert store.lexical_search("cat", 5) == []
    assert [i for i, _ in store.lexical_search("parrot", 5)] == ["a"]
    assert store.count() == 4


def test_delete_by_ids_where_and_both(ephemeral_client: Any, unique_name: str) -> None:
    store = _filled(ephemeral_client, unique_name)
    with pytest.raises(ValueError, match="needs ids or where"):
        store.delete()
    assert store.delete(ids=["a", "zzz"]) == 1
    assert store.delete(ids=["b", "c"], filter={"year": 2021}) == 0  # neither matches
    assert store.delete(filter={"kind": "pet"}) == 1
    assert sorted(_chroma_state(store)) == ["c", "d"]
    _assert_in_sync(store)


def test_unexpressible_where_raises(ephemeral_client: Any, unique_name: str) -> None:
    store = _filled(ephemeral_client, unique_name)
    with pytest.raises(ValueError, match=r"\$regex"):
        store.delete(filter={"kind": {"$regex": "p.*"}})
    assert store.count() == 4


def test_where_is_a_deprecated_alias_of_filter(ephemeral_client: Any, unique_name: str) -> None:
    """Every filter argument is spelled filter=; the old where= still works, with a warning."""
    store = _filled(ephemeral_client, unique_name)
    with pytest.warns(DeprecationWarning, match=r"get\(where=...\) is deprecated"):
        assert [r.id for r in store.get(where={"kind": "finance"})] == ["c"]
    with pytest.warns(DeprecationWarning, match="iter_records"):
        assert [r.id for r in store.iter_records(where={"year": 2021})] == ["a"]
    assert [r.id for r in store.iter_records(filter={"year": 2021})] == ["a"]
    with pytest.raises(TypeError, match="both filter= and where="):
        store.get(filter={"kind": "pet"}, where={"kind": "pet"})
    with pytest.warns(DeprecationWarning, match="delete"):
        assert store.delete(where={"kind": "finance"}) == 1
    assert store.delete(filter={"year": 2022}) == 1
    assert sorted(_chroma_state(store)) == ["a", "d"]
    _assert_in_sync(store)


def test_persisted_index_is_reused_not_rebuilt(
    tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    store.add(["alpha beta", "gamma delta"], ids=["1", "2"])
    assert (tmp_path / "manifold_lexical" / unique_name).is_dir()
    rebuilt: list[int] = []
    real = LexicalMirror.rebuild
    monkeypatch.setattr(LexicalMirror, "rebuild", lambda self: rebuilt.append(1) or real(self))
    again = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    assert rebuilt == []
    assert [i for i, _ in again.lexical_search("gamma", 3)] == ["2"]


def test_external_write_makes_the_index_stale_and_it_is_rebuilt(
    tmp_path: Path, unique_name: str
) -> None:
    store = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    store.add(["alpha beta"], ids=["1"])
    # another program writes to the collection directly, behind the store's back
    store.collection.add(ids=["2"], documents=["zeta eta"], embeddings=np.ones((1, 64)))
    assert store.is_stale()
    again = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    assert [i for i, _ in again.lexical_search("zeta", 3)] == ["2"]
    assert store.refresh() and not store.is_stale()


def test_deep_check_sees_an_external_upsert_that_keeps_the_count(
    ephemeral_client: Any, unique_name: str
) -> None:
    store = _filled(ephemeral_client, unique_name)
    store.collection.upsert(ids=["a"], documents=["quokka"], embeddings=np.ones((1, 64)))
    assert not store.is_stale()  # the quick check cannot see it
    assert store.is_stale(deep=True)
    assert store.refresh(deep=True)
    assert [i for i, _ in store.lexical_search("quokka", 3)] == ["a"]
    assert not store.is_stale(deep=True)


def test_crash_between_chroma_write_and_index_save_is_repaired(
    tmp_path: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    store.add(["alpha beta"], ids=["1"])

    def crash(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(type(store.lexical), "save", crash)
    with pytest.raises(KeyboardInterrupt):
        store.upsert(["omega psi"], ids=["1"])  # same count: only the marker can tell
    monkeypatch.undo()
    again = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    assert [i for i, _ in again.lexical_search("omega", 3)] == ["1"]
    assert again.lexical_search("alpha", 3) == []


def test_chroma_failing_mid_write_leaves_both_sides_on_what_was_written(
    ephemeral_client: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _filled(ephemeral_client, unique_name)
    monkeypatch.setattr(store.client, "get_max_batch_size", lambda: 2)
    real_upsert = store.collection.upsert
    calls = {"n": 0}

    def flaky(**kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("server went away")
        return real_upsert(**kw)

    monkeypatch.setattr(store.collection, "upsert", flaky)
    with pytest.raises(PartialWriteError, match="call upsert") as info:
        store.upsert(["n1 text", "n2 text", "n3 text", "n4 text"], ids=["n1", "n2", "n3", "n4"])
    assert info.value.written == ["n1", "n2"]
    assert isinstance(info.value.__cause__, ConnectionError)
    assert sorted(_chroma_state(store)) == ["a", "b", "c", "d", "n1", "n2"]
    _assert_in_sync(store)
    assert not store.is_stale(deep=True)
    # the documented retry: the same upsert again finishes the write
    monkeypatch.setattr(store.collection, "upsert", real_upsert)
    store.upsert(["n1 text", "n2 text", "n3 text", "n4 text"], ids=["n1", "n2", "n3", "n4"])
    assert sorted(_chroma_state(store)) == ["a", "b", "c", "d", "n1", "n2", "n3", "n4"]
    _assert_in_sync(store)


def test_corrupt_index_files_are_rebuilt_from_chroma(
    tmp_path: Path, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    store.add(["alpha beta", "gamma delta"], ids=["1", "2"])
    lexdir = tmp_path / "manifold_lexical" / unique_name
    files = [p for p in lexdir.rglob("*") if p.is_file()]
    assert files
    for p in files:
        p.write_bytes(b"\x00garbage{")
    with caplog.at_level(logging.WARNING, logger="manifold_core.store"):
        again = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    assert "unreadable" in caplog.text
    assert [i for i, _ in again.lexical_search("delta", 3)] == ["2"]
    _assert_in_sync(again)


def test_eight_readers_and_a_writer_never_raise(ephemeral_client: Any, unique_name: str) -> None:
    from manifold_core.retrieval import HybridRetriever

    store = _filled(ephemeral_client, unique_name)
    retriever = HybridRetriever(store, k=3, fetch_k=10)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader(n: int) -> None:
        try:
            while not stop.is_set():
                retriever.search(f"cat dog doc {n}", filter={"kind": "pet"} if n % 2 else None)
        except BaseException as exc:  # pragma: no cover - the assertion reports it
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        for i in range(15):
            store.add(
                [f"doc {i} about a cat"] * 3, [{"kind": "pet"}] * 3, [f"w{i}-{j}" for j in range(3)]
            )
            store.delete(ids=[f"w{i}-0"])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    _assert_in_sync(store)


@pytest.mark.server
def test_http_client_keeps_the_index_in_memory_or_in_lexical_dir(
    http_client: Any, unique_name: str, tmp_path: Path
) -> None:
    store = _filled(http_client, unique_name)
    assert store.lexical_dir is None
    _assert_in_sync(store)
    on_disk = _make(http_client, unique_name, lexical_dir=tmp_path / "lex")
    assert (tmp_path / "lex").is_dir()
    _assert_in_sync(on_disk)


# --------------------------------------------------------------------- state machine

WORDS = st.sampled_from(["red", "green", "blue", "cyan", "plum", "teal", "gold", "navy"])
IDS = st.sampled_from([f"k{i}" for i in range(8)])


class StoreMachine(RuleBasedStateMachine):
    """Random add/upsert/delete/save/reload; Chroma, the index and a model dict agree."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="hybrid-sm-")
        self.name = "state-machine"
        self.version = 0
        self.model: dict[str, str] = {}
        self.store = self._open(autosave=True)
        self.store.collection  # noqa: B018 - create it: reads of a missing one raise

    def _open(self, autosave: bool) -> HybridStore:
        return HybridStore(
            HashEncoder(dim=16), path=self.dir, collection_name=self.name, autosave=autosave
        )

    def _text(self, word: str) -> str:
        """``word`` plus a unique all-letter version token (tokenizers keep it whole)."""
        self.version += 1
        n, letters = self.version, ""
        while n:
            n, r = divmod(n, 26)
            letters += "abcdefghijklmnopqrstuvwxyz"[r]
        return f"{word} qx{letters}"

    @rule(doc_id=IDS, word=WORDS)
    def add(self, doc_id: str, word: str) -> None:
        text = self._text(word)
        if doc_id in self.model:
            with pytest.raises(ValueError, match="already exist"):
                self.store.add([text], ids=[doc_id])
        else:
            self.store.add([text], [{"w": word}], ids=[doc_id])
            self.model[doc_id] = text

    @rule(ids=st.lists(IDS, min_size=1, max_size=3, unique=True), word=WORDS)
    def upsert(self, ids: list[str], word: str) -> None:
        texts = [self._text(word) for _ in ids]
        self.store.upsert(texts, [{"w": word}] * len(ids), ids=ids)
        self.model.update(zip(ids, texts, strict=True))

    @rule(ids=st.lists(IDS, min_size=1, max_size=3, unique=True))
    def delete(self, ids: list[str]) -> None:
        n = self.store.delete(ids=ids)
        assert n == sum(1 for i in ids if i in self.model)
        for i in ids:
            self.model.pop(i, None)

    @rule(word=WORDS)
    def delete_where(self, word: str) -> None:
        self.store.delete(filter={"w": word})
        self.model = {i: t for i, t in self.model.items() if not t.startswith(word + " ")}

    @rule()
    def reload(self) -> None:
        self.store = self._open(autosave=True)

    @precondition(lambda self: self.store.autosave)
    @rule()
    def manual_save_mode(self) -> None:
        self.store = self._open(autosave=False)

    @rule()
    def save(self) -> None:
        self.store.save()

    @invariant()
    def chroma_matches_model(self) -> None:
        assert _chroma_state(self.store) == self.model

    @invariant()
    def lexical_matches_chroma(self) -> None:
        assert sorted(self.store.lexical.ids) == sorted(self.model)
        for doc_id, text in self.model.items():
            version = text.split()[-1]
            assert [i for i, _ in self.store.lexical_search(version, 3)] == [doc_id]

    def teardown(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(
    max_examples=12,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_variant_or_custom_tokenizer_change_rebuilds_the_index(
    tmp_path: Path, unique_name: str
) -> None:
    store = HybridStore(
        HashEncoder(), path=tmp_path, collection_name=unique_name, lexical_variant="okapi"
    )
    store.add(["alpha beta", "gamma delta", "alpha gamma"], ids=["1", "2", "3"])
    assert store.lexical.variant == "okapi"
    lucene = HybridStore(HashEncoder(), path=tmp_path, collection_name=unique_name)
    assert lucene.lexical.variant == "lucene"
    assert {i for i, _ in lucene.lexical_search("alpha", 5)} == {"1", "3"}

    def letters(text: str) -> list[str]:
        return [c for c in text if c.isalpha()]

    by_letter = HybridStore(
        HashEncoder(), path=tmp_path, collection_name=unique_name, tokenizer=letters
    )
    assert {i for i, _ in by_letter.lexical_search("b", 5)} == {"1"}  # only "beta" has a b
    _assert_in_sync(by_letter)


def test_for_documents_is_in_memory_and_unshared_unless_persisted(tmp_path: Path) -> None:
    """The store both adapters' from_documents/from_nodes build (one rule, in the core)."""
    a = HybridStore.for_documents(HashEncoder())
    b = HybridStore.for_documents(HashEncoder())
    assert a.collection_name != b.collection_name and a.lexical_dir is None
    a.add(["only in a"], ids=["1"])
    assert b.count() == 0
    persisted = HybridStore.for_documents(HashEncoder(), path=tmp_path, stemming=None)
    assert persisted.collection_name == "manifold"
    assert persisted.tokenizer.language is None
