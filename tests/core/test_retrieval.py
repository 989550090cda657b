"""HybridRetriever: scores, ranks, one filter on both sides, errors; embedded and `chroma run`."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hybrid_helpers import HashEncoder
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.retrieval import HIT_SCORE_KEYS, Hit, HybridRetriever
from manifold_core.store import HybridStore

CORPUS = [
    ("p1", "the cat sat on the warm mat", {"kind": "pet", "year": 2021, "lang": "en"}),
    ("p2", "a dog chased the cat around the yard", {"kind": "pet", "year": 2022}),
    ("p3", "my parrot repeats every word", {"kind": "pet", "year": 2023, "lang": "en"}),
    ("f1", "stock markets fell sharply on friday", {"kind": "finance", "year": 2022}),
    ("f2", "bond yields rose as the cat economy cooled", {"kind": "finance", "year": 2023}),
    ("f3", "central banks kept interest rates", {"kind": "finance", "year": 2021}),
    ("s1", "the team won the final match", {"kind": "sport", "lang": "de"}),
    ("s2", "a late goal decided the cup final", {"kind": "sport", "year": 2020}),
]


def _store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> HybridStore:
    import chromadb

    name = f"r-{uuid.uuid4().hex[:10]}"
    if kind == "http":
        host, port = request.getfixturevalue("chroma_server")
        client = chromadb.HttpClient(host=host, port=port)
        return HybridStore(HashEncoder(), client=client, collection_name=name)
    if kind == "persistent":
        return HybridStore(HashEncoder(), path=tmp_path, collection_name=name)
    return HybridStore(HashEncoder(), client=chromadb.EphemeralClient(), collection_name=name)


CLIENTS = ["ephemeral", "persistent", pytest.param("http", marks=pytest.mark.server)]


@pytest.fixture(params=CLIENTS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> HybridStore:
    s = _store(request.param, request, tmp_path)
    ids, texts, metas = zip(*CORPUS, strict=True)
    s.add(list(texts), list(metas), ids=list(ids))
    return s


def test_hits_carry_every_score_and_rank(store: HybridStore) -> None:
    retriever = HybridRetriever(store, k=3, fusion="rrf")  # the 2/61 below is RRF's score
    hits = retriever.search("cat on the mat")
    assert len(hits) == 3 and all(isinstance(h, Hit) for h in hits)
    assert hits[0].id == "p1"
    assert hits[0].dense_rank == 1 and hits[0].lexical_rank == 1
    assert hits[0].score == pytest.approx(2 / 61)
    assert hits[0].metadata == {"kind": "pet", "year": 2021, "lang": "en"}
    assert hits[0].text == "the cat sat on the warm mat"
    q = HashEncoder().encode_queries(["cat on the mat"])[0]
    for h in hits:
        if h.dense_score is not None:
            d = HashEncoder().encode_documents([h.text])[0]
            assert h.dense_score == pytest.approx(float(q @ d), abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_hit_s_scores_as_metadata_one_rule_for_adapters_and_cli() -> None:
    hit = Hit(id="x", text="t", score=0.7, dense_score=0.9, dense_rank=1, lexical_rank=None)
    assert hit.score_metadata() == {
        "fused_score": 0.7,
        "dense_score": 0.9,
        "dense_rank": 1,
        "lexical_score": None,
        "lexical_rank": None,
    }
    assert tuple(hit.score_metadata()) == HIT_SCORE_KEYS
    assert hit.scores() == {"fused": 0.7, "dense": 0.9, "lexical": None}
    assert hit.ranks() == {"dense": 1, "lexical": None}


def test_one_sided_weights_reproduce_each_side(store: HybridStore) -> None:
    retriever = HybridRetriever(store, k=5, fetch_k=8)
    dense_only = retriever.search("cat final", weights=(1.0, 0.0))
    q = HashEncoder().encode_queries(["cat final"])
    res = store.collection.query(query_embeddings=q, n_results=5)
    assert [h.id for h in dense_only] == res["ids"][0]
    assert all(h.lexical_rank is None for h in dense_only)
    lexical_only = retriever.search("cat final", weights=(0.0, 1.0))
    assert [h.id for h in lexical_only] == [i for i, _ in store.lexical_search("cat final", 5)]
    assert all(h.dense_rank is None for h in lexical_only)


def test_lexical_only_hits_get_text_and_metadata(store: HybridStore) -> None:
    hits = HybridRetriever(store, k=8, fetch_k=1).search("parrot yard", k=8)
    by_id = {h.id: h for h in hits}
    assert {"p2", "p3"} <= set(by_id)
    for h in hits:
        assert h.text == dict((i, t) for i, t, _ in CORPUS)[h.id]


@pytest.mark.parametrize("fusion", ["rrf", "relative_score", "dbsf", "weighted"])
def test_every_fusion_method_runs_and_keeps_k(store: HybridStore, fusion: str) -> None:
    hits = HybridRetriever(store, fusion=fusion).search("cat", k=2)
    assert len(hits) == 2
    assert hits[0].score >= hits[1].score


def test_filter_applies_to_both_sides(store: HybridStore) -> None:
    hits = HybridRetriever(store, k=8).search("cat", filter={"kind": "finance"})
    assert [h.id for h in hits][:1] == ["f2"]  # only finance doc that says "cat"
    assert {h.metadata["kind"] for h in hits} == {"finance"}
    hits = HybridRetriever(store, k=8).search("cat", filter={"year": {"$gte": 2022}}, k=8)
    assert all(h.metadata.get("year", 0) >= 2022 for h in hits)


def test_async_search_matches_sync(store: HybridStore) -> None:
    retriever = HybridRetriever(store, k=3)
    assert asyncio.run(retriever.asearch("dog yard")) == retriever.search("dog yard")


def test_empty_store_returns_nothing(tmp_path: Path) -> None:
    import chromadb

    client = chromadb.EphemeralClient()
    client.get_or_create_collection("empty")
    empty = HybridStore(HashEncoder(), client=client, collection_name="empty")
    assert HybridRetriever(empty).search("anything") == []


def test_a_missing_collection_is_an_error_not_an_empty_result() -> None:
    import chromadb

    from manifold_core.store import CollectionNotFoundError

    client = chromadb.EphemeralClient()
    client.get_or_create_collection("cars")
    typo = HybridStore(HashEncoder(), client=client, collection_name="carz")
    with pytest.raises(CollectionNotFoundError, match=r"'carz' does not exist.*cars"):
        HybridRetriever(typo).search("anything")
    assert "carz" not in [c.name for c in client.list_collections()]  # nothing was created


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"query": ""}, "query must be a non-empty"),
        ({"query": "   "}, "query must be a non-empty"),
        ({"k": 0}, "k must be a positive int, got 0"),
        ({"k": -2}, "k must be a positive int"),
        ({"fetch_k": 0}, "fetch_k must be"),
        ({"fusion": "borda"}, "'borda'"),
        ({"weights": (0, 0)}, "at least one"),
        ({"weights": (1,)}, "two numbers"),
        ({"weights": (1, -1)}, "lexical weight"),
        ({"filter": {"kind": {"$regex": "p.*"}}}, r"\$regex"),
        ({"filter": {"year": {"$gt": "2020"}}}, "2020"),
        ({"filter": "kind = pet"}, "filter"),
        ({"filter": {"kind": {"$in": [f"k{i}" for i in range(20_000)]}}}, "20,000 \\$in"),
    ],
)
def test_bad_input_names_the_bad_value(
    store: HybridStore, kwargs: dict[str, Any], needle: str
) -> None:
    args = {"query": "cat", **kwargs}
    with pytest.raises(ValueError, match=needle):
        HybridRetriever(store).search(**args)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="fusion"):
        HybridRetriever(None, fusion="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be"):
        HybridRetriever(None, k=0)  # type: ignore[arg-type]


# ------------------------------------------------- every hit satisfies the filter

KEYS = ["kind", "year", "score", "flag"]
VALUES: dict[str, list[Any]] = {
    "kind": ["pet", "finance", "sport"],
    "year": [2019, 2020, 2021, 2022, 2023],
    "score": [0.1, 0.5, 0.9],
    "flag": [True, False],
}


@pytest.fixture(scope="module", params=CLIENTS[::2])  # embedded and `chroma run`
def random_store(request: pytest.FixtureRequest) -> HybridStore:
    import chromadb

    if request.param == "http":
        host, port = request.getfixturevalue("chroma_server")
        client: Any = chromadb.HttpClient(host=host, port=port)
    else:
        client = chromadb.EphemeralClient()

    rng = np.random.default_rng(7)
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "zeta"]
    texts, metas = [], []
    for _ in range(60):
        texts.append(" ".join(rng.choice(words, size=5)))
        meta = {k: VALUES[k][rng.integers(len(VALUES[k]))] for k in KEYS if rng.random() < 0.7}
        metas.append(meta)
    name = f"random-filters-{uuid.uuid4().hex[:8]}"
    store = HybridStore(HashEncoder(), client=client, collection_name=name)
    store.add(texts, metas, ids=[f"r{i}" for i in range(60)])
    return store


@st.composite
def leaf(draw: st.DrawFn) -> dict[str, Any]:
    key = draw(st.sampled_from(KEYS))
    values = VALUES[key]
    if key in ("year", "score"):
        op = draw(st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"]))
    else:
        op = draw(st.sampled_from(["$eq", "$ne", "$in", "$nin"]))
    if op in ("$in", "$nin"):
        return {key: {op: draw(st.lists(st.sampled_from(values), min_size=1, unique=True))}}
    return {key: {op: draw(st.sampled_from(values))}}


FILTERS = st.recursive(
    leaf(),
    lambda inner: st.builds(
        lambda op, items: {op: items},
        st.sampled_from(["$and", "$or"]),
        st.lists(inner, min_size=2, max_size=3),
    ),
    max_leaves=4,
)


@settings(max_examples=60, deadline=None)
@given(where=FILTERS, query=st.sampled_from(["alpha beta", "omega", "kappa zeta delta"]))
def test_every_hit_satisfies_the_filter(
    random_store: HybridStore, where: dict[str, Any], query: str
) -> None:
    allowed = set(random_store.collection.get(where=where, include=[])["ids"])
    hits = HybridRetriever(random_store, k=60, fetch_k=60).search(query, filter=where)
    assert {h.id for h in hits} <= allowed
    lexical = random_store.lexical_search(query, 60, None)
    # nothing the filter allows is lost on the lexical side
    expected_lexical = {i for i, _ in lexical} & allowed
    assert {h.id for h in hits if h.lexical_rank is not None} == expected_lexical


# ------------------------------------------------------------------- Chinese

CARS = [
    (
        "bmw-x1-22",
        "22年宝马X1价格：2022款宝马X1指导价29.39万元起，终端优惠后约25万元。",
        {"year": 2022, "brand": "BMW"},
    ),
    (
        "benz-c-23",
        "23年奔驰C级评测：2023款奔驰C级动力平顺，内饰豪华，后排空间宽敞。",
        {"year": 2023, "brand": "Mercedes"},
    ),
    (
        "benz-gla-22",
        "22年奔驰GLA价格：2022款奔驰GLA指导价31.58万元，优惠约3万元。",
        {"year": 2022, "brand": "Mercedes"},
    ),
    (
        "benz-c-22",
        "22年奔驰C级价格：2022款奔驰C级指导价32.52万元起。",
        {"year": 2022, "brand": "Mercedes"},
    ),
    (
        "bmw-x1-23",
        "23年宝马X1评测：新一代宝马X1车身更大，底盘扎实，油耗经济。",
        {"year": 2023, "brand": "BMW"},
    ),
    (
        "bmw-3-22",
        "22年宝马3系价格：2022款宝马3系指导价29.99万元，操控出色。",
        {"year": 2022, "brand": "BMW"},
    ),
    (
        "audi-a4-23",
        "23年奥迪A4L价格：2023款奥迪A4L指导价32.18万元。",
        {"year": 2023, "brand": "Audi"},
    ),
]


@pytest.fixture(scope="module")
def car_store(use_encoder: Any) -> HybridStore:
    import chromadb

    store = HybridStore(use_encoder, client=chromadb.EphemeralClient(), collection_name="cars")
    ids, texts, metas = zip(*CARS, strict=True)
    store.add(list(texts), list(metas), ids=list(ids))
    return store


@pytest.mark.slow
def test_seed_car_example_filter_excludes_mercedes(car_store: HybridStore) -> None:
    retriever = HybridRetriever(car_store, k=5)
    hits = retriever.search("22年宝马X1价格", filter={"brand": "BMW"})
    assert hits and all(h.metadata["brand"] == "BMW" for h in hits)
    assert hits[0].id == "bmw-x1-22"
    both = retriever.search("22年宝马X1价格", filter={"brand": "BMW", "year": 2022})
    assert [h.id for h in both] == ["bmw-x1-22", "bmw-3-22"]


@pytest.mark.slow
def test_seed_car_example_bm25_alone_ranks_x1_first(car_store: HybridStore) -> None:
    lexical = car_store.lexical_search("22年宝马X1价格", 7)
    assert lexical and lexical[0][0] == "bmw-x1-22"
    assert all(score > 0 for _, score in lexical)
    hits = HybridRetriever(car_store, k=3).search("22年宝马X1价格", weights=(0.0, 1.0))
    assert hits[0].id == "bmw-x1-22" and hits[0].lexical_score is not None
