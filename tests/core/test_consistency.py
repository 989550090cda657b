"""The defects of the multi-process issue, each pinned: two stores on one collection (as two
processes would be: separate journal writers and indexes), guards that keep a bad call from
writing anything, and a second process on an embedded directory refused."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from hybrid_helpers import HashEncoder

from manifold_core.filters import MetadataFilter
from manifold_core.journal import journal_name
from manifold_core.records import MAX_LIST_ITEMS
from manifold_core.retrieval import HybridRetriever
from manifold_core.store import HybridStore


def _pair(client: Any, **kwargs: Any) -> tuple[HybridStore, HybridStore]:
    name = f"c-{uuid.uuid4().hex[:10]}"
    a = HybridStore(HashEncoder(), client=client, collection_name=name, **kwargs)
    a.collection  # noqa: B018 - create it
    b = HybridStore(HashEncoder(), client=client, collection_name=name, **kwargs)
    return a, b


@pytest.fixture(params=["ephemeral", "server"])
def client(request: pytest.FixtureRequest) -> Any:
    if request.param == "server":
        return request.getfixturevalue("http_client")
    return chromadb.EphemeralClient()


def test_another_stores_adds_upserts_and_deletes_reach_the_lexical_side(client: Any) -> None:
    a, b = _pair(client, max_staleness=0)
    a.add(
        [f"quokka note {i}" for i in range(10)],
        [{"g": i % 2} for i in range(10)],
        ids=[f"d{i}" for i in range(10)],
    )
    lexical_only = HybridRetriever(b, k=10, weights=(0.0, 1.0))
    assert len(lexical_only.search("quokka")) == 10
    a.delete(ids=[f"d{i}" for i in range(5)])
    a.upsert(["wombat burrow"], [{"g": 1}], ids=["d9"])
    hits = lexical_only.search("quokka")
    assert sorted(h.id for h in hits) == ["d5", "d6", "d7", "d8"]  # all live matches, no ghost
    assert [h.id for h in lexical_only.search("wombat")] == ["d9"]  # found by its new words
    assert len(HybridRetriever(b, k=4).search("quokka note")) == 4


def test_two_stores_taking_turns_never_serve_the_others_old_metadata(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(path=str(tmp_path))
    a, b = _pair(client, max_staleness=0)
    a.add([f"doc number {i}" for i in range(20)], [{"g": 1}] * 20, ids=[f"d{i}" for i in range(20)])
    b.upsert(["doc number 10"], [{"g": 7}], ids=["d10"])
    a.add(["something else"], [{"g": 2}], ids=["x"])
    for store in (a, b):
        hits = HybridRetriever(store, k=30).search("doc number", filter={"g": 1})
        assert "d10" not in {h.id for h in hits} and len(hits) == 19
        assert not store.is_stale(deep=True)
        assert store.lexical.get_metadata("d10") == {"g": 7}
    again = HybridStore(HashEncoder(), client=client, collection_name=a.collection_name)
    again.wait_for_repairs(30)
    assert again.lexical.get_metadata("d10") == {"g": 7}
    hits = HybridRetriever(again, k=30).search("doc number", filter={"g": 1})
    assert "d10" not in {h.id for h in hits}


def test_concurrent_flips_of_a_filtered_field_never_leak_into_results() -> None:
    client = chromadb.EphemeralClient()
    a, b = _pair(client, max_staleness=0.05)
    n = 300
    a.add(
        [f"shared words item{i}" for i in range(n)],
        [{"g": 0} for _ in range(n)],
        ids=[f"d{i}" for i in range(n)],
    )
    stop = threading.Event()
    bad: list[Any] = []
    searches = [0]

    def query() -> None:
        r = HybridRetriever(b, k=10)
        while not stop.is_set():
            for g in (0, 1):
                flt = MetadataFilter.parse({"g": g})
                assert flt is not None
                for h in r.search("shared words", filter={"g": g}):
                    if not flt.matches(h.metadata):
                        bad.append((g, h.id, h.metadata))
                searches[0] += 1

    threads = [threading.Thread(target=query) for _ in range(4)]
    for t in threads:
        t.start()
    rng = np.random.default_rng(0)
    col = client.get_collection(a.collection_name)
    for step in range(30):
        ids = [f"d{i}" for i in rng.choice(n, 50, replace=False)]
        metas = [{"g": int(step % 2)}] * len(ids)
        if step % 3:  # our writer, and a foreign one that writes Chroma directly
            a.upsert([f"shared words item {i}" for i in ids], metas, ids=ids)
        else:
            col.update(ids=ids, metadatas=metas)
    stop.set()
    for t in threads:
        t.join(30)
    assert searches[0] > 10 and bad == []


def test_delete_with_an_empty_where_is_refused(client: Any) -> None:
    a, _ = _pair(client)
    a.add(["one", "two"], ids=["1", "2"])
    for where in ({}, {"$and": []} if False else {}):
        with pytest.raises(ValueError, match="needs ids or where"):
            a.delete(where=where)
    assert a.count() == 2


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"text": "lone \ud800 surrogate"}, "surrogate"),
        ({"meta": {"#tag": 1}}, "reserved|prefix"),
        ({"meta": {"$x": 1}}, "prefix"),
        ({"meta": {"chroma:x": 1}}, "prefix"),
        ({"meta": {"f": np.float32("inf")}}, "not finite"),
        ({"meta": {"f": [1.0, float("nan")]}}, "not finite"),
        ({"meta": {"tags": [f"t{i}" for i in range(MAX_LIST_ITEMS + 1)]}}, "list items"),
        ({"id": "bad\udfffid"}, "surrogate"),
    ],
)
def test_a_value_only_chroma_rejects_after_the_first_batch_writes_nothing(
    client: Any, monkeypatch: pytest.MonkeyPatch, bad: dict[str, Any], needle: str
) -> None:
    a, _ = _pair(client)
    monkeypatch.setattr(a.client, "get_max_batch_size", lambda: 10)
    n = 60
    texts = [f"text {i}" for i in range(n)]
    metas: list[dict[str, Any]] = [{"i": i} for i in range(n)]
    ids = [f"id{i}" for i in range(n)]
    texts[45] = bad.get("text", texts[45])
    metas[45] = bad.get("meta", metas[45])
    ids[45] = bad.get("id", ids[45])
    with pytest.raises((ValueError, TypeError), match=needle):
        a.add(texts, metas, ids=ids, embeddings=np.ones((n, 8)))
    assert a.count() == 0 and len(a.lexical) == 0
    a.add(["fine"], [{"tags": ["a"] * 100}], ids=["ok"], embeddings=np.ones((1, 8)))
    assert a.count() == 1  # the collection still works


def test_list_metadata_at_the_bound_survives_chroma_compaction(tmp_path: Path) -> None:
    store = HybridStore(HashEncoder(), path=tmp_path, collection_name="lists")
    store.add(["big"], [{"tags": [f"t{i}" for i in range(MAX_LIST_ITEMS)]}], ids=["big"])
    store.add([f"more {i}" for i in range(600)], ids=[f"m{i}" for i in range(600)])
    assert store.count() == 601
    assert len(store.get(ids=["big"])[0].metadata["tags"]) == MAX_LIST_ITEMS


def test_a_key_another_client_set_on_the_collection_is_kept(client: Any) -> None:
    a, _ = _pair(client)
    other = client.get_collection(a.collection_name)
    other.modify(metadata={"owner": "team-x"})
    a.add(["one"], ids=["1"])
    a.upsert(["two"], ids=["1"])
    a.delete(ids=["1"])
    meta = client.get_collection(a.collection_name).metadata or {}
    assert meta.get("owner") == "team-x"


def test_a_second_process_on_an_embedded_directory_is_refused(tmp_path: Path) -> None:
    store = HybridStore(HashEncoder(), path=tmp_path, collection_name="mine")
    store.add(["held"], ids=["1"])
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from hybrid_helpers import HashEncoder\n"
        "from manifold_core.store import HybridStore\n"
        f"HybridStore(HashEncoder(), path={str(tmp_path)!r}, collection_name='mine')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode != 0
    assert "not process-safe" in proc.stderr and "chroma run" in proc.stderr
    assert "HttpClient" in proc.stderr


def test_read_only_store_writes_nothing_anywhere(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(path=str(tmp_path))
    writer = HybridStore(HashEncoder(), client=client, collection_name="ro-coll")
    writer.add(["alpha beta"], [{"k": 1}], ids=["1"])
    ro = HybridStore.from_collection(
        client.get_collection("ro-coll"), HashEncoder(), read_only=True
    )
    assert [i for i, _ in ro.lexical_search("alpha", 3)] == ["1"]
    assert ro.lexical_dir is None
    for call in (
        lambda: ro.add(["x"], ids=["2"]),
        lambda: ro.delete(ids=["1"]),
        lambda: ro.upsert(["x"], ids=["1"]),
        ro.remove_manifold_data,
    ):
        with pytest.raises(PermissionError, match="read_only"):
            call()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    again = HybridStore(HashEncoder(), path=tmp_path, collection_name="ro-coll", read_only=True)
    assert [i for i, _ in again.lexical_search("alpha", 3)] == ["1"]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    nowhere = HybridStore(HashEncoder(), client=client, collection_name="absent", read_only=True)
    with pytest.raises(ValueError, match="does not exist"):
        nowhere.collection  # noqa: B018
    assert "absent" not in [c.name for c in client.list_collections()]


def test_remove_manifold_data_leaves_only_the_users_records(tmp_path: Path) -> None:
    client = chromadb.PersistentClient(path=str(tmp_path))
    store = HybridStore(HashEncoder(), client=client, collection_name="mine")
    store.add(["alpha"], [{"k": 1}], ids=["1"])
    names = {c.name for c in client.list_collections()}
    assert journal_name("mine") in names
    assert store.lexical_dir is not None and store.lexical_dir.exists()
    store.remove_manifold_data()
    assert {c.name for c in client.list_collections()} == {"mine"}
    assert not store.lexical_dir.exists()
    assert not (tmp_path / "manifold_lexical").exists()
    assert client.get_collection("mine").get(ids=["1"])["documents"] == ["alpha"]


def test_hidden_keys_are_not_indexed_and_cannot_be_filtered(client: Any) -> None:
    name = f"h-{uuid.uuid4().hex[:8]}"
    col = client.get_or_create_collection(name)
    col.add(
        ids=["n1"],
        documents=["hidden words here"],
        metadatas=[{"_node_content": '{"secret json": 1}', "color": "red"}],
        embeddings=HashEncoder().encode_documents(["hidden words here"]),
    )
    store = HybridStore.from_collection(col, HashEncoder(), hidden_keys=["_node_content"])
    assert store.metadata_keys() == {"color"}
    assert store.lexical.get_metadata("n1") == {"color": "red"}
    with pytest.raises(ValueError, match="_node_content"):
        HybridRetriever(store).search("hidden", filter={"_node_content": "x"})
    hit = HybridRetriever(store).search("hidden", filter={"color": "red"})[0]
    assert hit.metadata["_node_content"]  # still there for the adapter to restore the node


# ---------------------------------------------------- two stores, one collection (hypothesis)

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402

_WORDS = st.sampled_from(["red", "green", "blue", "cyan", "plum", "teal"])
_IDS = st.sampled_from([f"k{i}" for i in range(8)])
_WHO = st.sampled_from([0, 1])


class TwoStoresMachine(RuleBasedStateMachine):
    """Interleaved writes and searches from two stores on one collection; a model dict.

    After any history, each store's searches (``max_staleness=0``) see exactly what Chroma
    holds: every text by its own unique word, with the metadata the filter asks for.
    """

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="two-stores-")
        self.client = chromadb.PersistentClient(path=self.dir)
        self.stores = [self._open(), self._open()]
        self.stores[0].collection  # noqa: B018 - create it
        self.model: dict[str, tuple[str, str]] = {}
        self.version = 0

    def _open(self) -> HybridStore:
        return HybridStore(
            HashEncoder(dim=16), client=self.client, collection_name="two-stores", max_staleness=0
        )

    def _text(self, word: str) -> str:
        self.version += 1
        n, letters = self.version, ""
        while n:
            n, r = divmod(n, 26)
            letters += "abcdefghijklmnopqrstuvwxyz"[r]
        return f"{word} qx{letters}"

    @rule(who=_WHO, ids=st.lists(_IDS, min_size=1, max_size=3, unique=True), word=_WORDS)
    def upsert(self, who: int, ids: list[str], word: str) -> None:
        texts = [self._text(word) for _ in ids]
        self.stores[who].upsert(texts, [{"w": word}] * len(ids), ids=ids)
        self.model.update({i: (t, word) for i, t in zip(ids, texts, strict=True)})

    @rule(who=_WHO, doc_id=_IDS, word=_WORDS)
    def add(self, who: int, doc_id: str, word: str) -> None:
        if doc_id in self.model:
            return
        text = self._text(word)
        self.stores[who].add([text], [{"w": word}], ids=[doc_id])
        self.model[doc_id] = (text, word)

    @rule(who=_WHO, ids=st.lists(_IDS, min_size=1, max_size=3, unique=True))
    def delete(self, who: int, ids: list[str]) -> None:
        assert self.stores[who].delete(ids=ids) == sum(i in self.model for i in ids)
        for i in ids:
            self.model.pop(i, None)

    @rule(who=_WHO, word=_WORDS)
    def delete_where(self, who: int, word: str) -> None:
        self.stores[who].delete(where={"w": word})
        self.model = {i: v for i, v in self.model.items() if v[1] != word}

    @rule(who=_WHO)
    def reopen(self, who: int) -> None:
        self.stores[who] = self._open()

    @rule(who=_WHO, word=_WORDS)
    def filtered_search(self, who: int, word: str) -> None:
        hits = HybridRetriever(self.stores[who], k=8).search(word, filter={"w": word})
        want = {i for i, (_, w) in self.model.items() if w == word}
        assert {h.id for h in hits} <= want
        assert all(h.metadata == {"w": word} for h in hits)
        lexical = HybridRetriever(self.stores[who], k=8, weights=(0.0, 1.0))
        assert {h.id for h in lexical.search(word, filter={"w": word})} == want

    @invariant()
    def both_indexes_equal_chroma(self) -> None:
        for store in self.stores:
            store.sync(0)
            for doc_id, (text, _) in self.model.items():
                version = text.split()[-1]
                assert [i for i, _ in store.lexical_search(version, 3)] == [doc_id]
            assert sorted(store.lexical.ids) == sorted(self.model)

    def teardown(self) -> None:
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


TestTwoStores = TwoStoresMachine.TestCase
TestTwoStores.settings = settings(
    max_examples=8,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
