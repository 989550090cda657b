"""The lexical index: tokenizer, BM25 parity with rank-bm25, incremental updates, filters,
persistence (atomic, validated, pickle-free), threads, and Chinese retrieval quality."""

from __future__ import annotations

import json
import math
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from manifold_core.filters import MetadataFilter
from manifold_core.lexical import (
    LexicalIndex,
    LexicalTokenizer,
    content_fingerprint,
    default_tokenize,
)
from manifold_core.lexical import files as lexical_files
from manifold_core.lexical.scoring import query_terms
from manifold_core.lexical.selection import eligible

VOCAB = [f"t{i}" for i in range(12)]
token_lists = st.lists(st.sampled_from(VOCAB), min_size=0, max_size=12)
corpora = st.lists(token_lists, min_size=1, max_size=25).filter(lambda c: any(c))
queries = st.lists(st.sampled_from([*VOCAB, "unknown"]), min_size=1, max_size=5)


def ids_for(n: int) -> list[str]:
    return [f"d{i:03d}" for i in range(n)]


def reference_ranking(scores: np.ndarray, ids: list[str], k: int) -> list[str]:
    """rank_bm25 scores ordered as we promise: score descending, then id; positives only.

    A score within 1e-9 of zero counts as zero: when positive and negative idfs cancel in
    okapi's mean idf, its floor is rounding noise whose sign depends on summation order.
    """
    order = sorted((-s, i) for s, i in zip(scores.tolist(), ids, strict=True) if s > 1e-9)
    return [i for _, i in order[:k]]


# --- tokenizer ----------------------------------------------------------------------------


def test_tokenizer_cuts_chinese_with_jieba_and_lowercases_latin_words() -> None:
    assert default_tokenize("22年宝马X1价格") == ["22", "年", "宝马", "x1", "价格"]
    assert default_tokenize("Hello, World! foo_bar 3.5") == [
        "hello",
        "world",
        "foo",
        "bar",
        "3",
        "5",
    ]


def test_tokenizer_normalises_full_width_and_drops_punctuation() -> None:
    assert default_tokenize("Ｘ１，。！ ？") == ["x1"]
    assert default_tokenize("") == []
    assert default_tokenize("   \n\t") == []


def test_tokenizer_search_mode_emits_sub_words_of_long_chinese_words() -> None:
    tokens = default_tokenize("中华人民共和国")
    assert "中华人民共和国" in tokens and "人民" in tokens and "共和国" in tokens


def test_tokenizer_rejects_non_str() -> None:
    with pytest.raises(TypeError, match="str"):
        default_tokenize(b"bytes")  # type: ignore[arg-type]


def test_stopwords_are_dropped_after_normalisation_and_config_round_trips() -> None:
    tok = LexicalTokenizer(["THE", "的"])
    assert tok("The cat 的 猫") == ["cat", "猫"]
    assert LexicalTokenizer.from_config(tok.config()) == tok


# --- scoring --------------------------------------------------------------------------------


def test_okapi_floor_of_a_cancelling_mean_idf_is_exactly_zero() -> None:
    # Mean idf is 0 (+-rounding): t0 (3 of 4 docs) must score nothing, not +-1e-17.
    corpus = [["t0"], ["t0", "t1", "t2"], ["t0", "t1", "t2"], ["t1", "t2", "t3", "t4", "t5"]]
    index = LexicalIndex("okapi")
    index.add_tokenized(ids_for(4), corpus)
    assert index.search(["t0"], 10) == []
    assert not index.get_scores(["t0"]).any()


@settings(max_examples=150, deadline=None)
@given(corpus=corpora, query=queries)
def test_okapi_scores_equal_rank_bm25_and_top_k_is_identical(
    corpus: list[list[str]], query: list[str]
) -> None:
    ids = ids_for(len(corpus))
    index = LexicalIndex("okapi")
    index.add_tokenized(ids, corpus)
    reference = BM25Okapi(corpus).get_scores(query)
    np.testing.assert_allclose(index.get_scores(query), reference, rtol=0, atol=1e-9)
    assert all(s > 1e-9 for _, s in index.search(query, 10))
    for k in (1, 3, 10):
        got = [i for i, _ in index.search(query, k)]
        assert got == reference_ranking(reference, ids, k)


def test_okapi_idf_floor_is_epsilon_times_mean_idf_like_rank_bm25() -> None:
    # "a" is in 3 of 4 documents: negative raw idf, replaced by 0.25 x mean idf.
    corpus = [["a", "b"], ["a"], ["a", "c"], ["d"]]
    index = LexicalIndex("okapi")
    index.add_tokenized(ids_for(4), corpus)
    reference = BM25Okapi(corpus)
    assert reference.idf["a"] == pytest.approx(0.25 * reference.average_idf)
    np.testing.assert_allclose(index.get_scores(["a"]), reference.get_scores(["a"]), atol=1e-12)


def test_lucene_formula_by_hand_on_a_tiny_corpus() -> None:
    index = LexicalIndex()  # lucene, k1=1.2, b=0.75
    index.add_tokenized(["d1", "d2", "d3"], [["a", "b"], ["a", "c", "c"], ["b"]])
    avgdl = 6 / 3

    def weight(tf: int, dl: int, n: int) -> float:
        idf = math.log(1 + (3 - n + 0.5) / (n + 0.5))
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))

    scores = dict(index.search(["c", "a"], 10))
    assert scores["d2"] == pytest.approx(weight(2, 3, 1) + weight(1, 3, 2), rel=1e-12)
    assert scores["d1"] == pytest.approx(weight(1, 2, 2), rel=1e-12)
    assert "d3" not in scores
    # A term in every document still has a positive idf in lucene (okapi would floor it).
    index.add_tokenized(["d4"], [["a", "b"]])
    index.delete(["d3"])
    assert all(s > 0 for _, s in index.search(["a"], 10))
    assert len(index.search(["a"], 10)) == 3


def test_lucene_and_okapi_defaults() -> None:
    assert LexicalIndex().k1 == 1.2 and LexicalIndex().b == 0.75
    assert LexicalIndex("okapi").k1 == 1.5 and LexicalIndex("okapi").epsilon == 0.25
    with pytest.raises(ValueError, match="bm42"):
        LexicalIndex("bm42")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="b must"):
        LexicalIndex(b=1.5)


def test_equal_scores_are_ordered_by_id_whatever_the_insertion_order() -> None:
    index = LexicalIndex()
    index.add(["c", "a", "b"], ["same words", "same words", "same words"])
    assert [i for i, _ in index.search("words", 3)] == ["a", "b", "c"]
    assert [i for i, _ in index.search("words", 2)] == ["a", "b"]


def test_search_returns_only_positive_scores_and_validates_input() -> None:
    index = LexicalIndex("okapi")
    index.add(["x", "y", "z"], ["common rare", "common", "common"])
    # "common" is in every document: okapi floors its idf to eps (> 0 here, mean idf > 0).
    hits = index.search("rare", 10)
    assert [i for i, _ in hits] == ["x"]
    assert index.search("absent words", 5) == []
    assert index.search("", 5) == []
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must"):
            index.search("rare", bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="query"):
        index.search(42, 3)  # type: ignore[arg-type]


def test_chinese_queries_get_non_zero_scores() -> None:
    index = LexicalIndex()
    index.add(["1", "2"], ["今天天气很好", "明天会下雨"])
    assert index.search("天气怎么样", 2)[0][0] == "1"
    assert index.get_scores("天气").max() > 0


# --- incremental updates ----------------------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.lists(
                st.tuples(st.integers(0, 14), token_lists, st.integers(0, 3)),
                min_size=1,
                max_size=6,
                unique_by=lambda t: t[0],
            ),
        ),
        st.tuples(st.just("delete"), st.lists(st.integers(0, 16), max_size=4)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    operations=ops,
    query=queries,
    variant=st.sampled_from(["lucene", "okapi"]),
    save_midway=st.booleans(),
)
def test_add_delete_upsert_then_search_equals_a_fresh_index_of_the_final_state(
    operations: list[Any], query: list[str], variant: str, save_midway: bool, tmp_path_factory: Any
) -> None:
    index = LexicalIndex(variant)  # type: ignore[arg-type]
    state: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for n, (kind, payload) in enumerate(operations):
        if kind == "add":
            ids = [f"d{i:02d}" for i, _, _ in payload]
            toks = [t for _, t, _ in payload]
            metas = [{"g": g, "even": i % 2 == 0} for i, _, g in payload]
            index.add_tokenized(ids, toks, metas)
            state.update({i: (t, m) for i, t, m in zip(ids, toks, metas, strict=True)})
        else:
            ids = [f"d{i:02d}" for i in payload]
            index.delete(ids)
            for i in ids:
                state.pop(i, None)
        if save_midway and n == len(operations) // 2:
            path = tmp_path_factory.mktemp("mid")
            index.save(path)
            index = LexicalIndex.load(path)
    assert sorted(index.ids) == sorted(state)
    assert len(index) == len(state)
    assert all(i in index for i in state)
    fresh = LexicalIndex(variant)  # type: ignore[arg-type]
    order = index.ids  # insertion order of the final state
    fresh.add_tokenized(order, [state[i][0] for i in order], [state[i][1] for i in order])
    np.testing.assert_array_equal(index.get_scores(query), fresh.get_scores(query))
    assert index.fingerprint == fresh.fingerprint
    assert index.vocabulary_size == fresh.vocabulary_size
    for where in (None, {"g": {"$gte": 2}}, {"$or": [{"even": True}, {"g": 0}]}):
        assert index.search(query, 5, where) == fresh.search(query, 5, where)
    if variant == "okapi" and state and any(state[i][0] for i in order):
        reference = BM25Okapi([state[i][0] for i in order]).get_scores(query)
        np.testing.assert_allclose(index.get_scores(query), reference, rtol=0, atol=1e-9)


@pytest.mark.parametrize("variant", ["lucene", "okapi"])
def test_search_equals_brute_force_top_k_on_both_selection_paths(variant: str) -> None:
    # Zipf words: queries mixing common and rare terms take the dense path (lower bound
    # from the rarest term), queries of rare terms the sparse one; with deletions and filters.
    rng = np.random.default_rng(7)
    n = 3000
    corpus = [[f"w{x}" for x in rng.zipf(1.3, size=rng.integers(3, 30)) % 3000] for _ in range(n)]
    ids = [f"id{i:05d}" for i in range(n)]
    metas = [{"g": int(g)} for g in rng.integers(0, 4, size=n)]
    index = LexicalIndex(variant)  # type: ignore[arg-type]
    index.add_tokenized(ids, corpus, metas)
    index.delete(ids[::7])
    index.add_tokenized(ids[::14], corpus[1::14][: len(ids[::14])], metas[::14])
    live = index.ids
    meta_of = dict(zip(ids, metas, strict=True))
    queries = [["w1", "w2"], ["w1", "w977"], ["w2999"], ["w5", "w1500", "w1", "w1"], ["w3", "w40"]]
    queries += [[f"w{x}" for x in rng.integers(0, 3000, size=3)] for _ in range(20)]
    for query in queries:
        scores = index.get_scores(query)
        for where in (None, {"g": {"$in": [1, 2]}}, {"g": 3}):
            allowed = [
                (-s, i)
                for s, i in zip(scores.tolist(), live, strict=True)
                if s > 0 and (where is None or MetadataFilter.parse(where).matches(meta_of[i]))  # type: ignore[union-attr]
            ]
            for k in (1, 10, 50):
                expected = [(i, -s) for s, i in sorted(allowed)[:k]]
                assert index.search(query, k, where) == expected, (query, where, k)


def test_both_selection_paths_share_one_eligibility_rule() -> None:
    # Live row, positive score, passing the filter: one helper, used by the sparse path,
    # the dense path's probe and its final candidates alike.
    index = LexicalIndex()
    metas = [{"g": 1}, {"g": 2}, {"g": 1}, {"g": 1}]
    index.add(["a", "b", "c", "d"], ["x", "x", "x", "y"], metas)
    index.delete(["a"])  # one dead row of four: no compaction
    snap = index._snap
    assert snap.n_rows == 4 and not snap.alive[0]
    scores = np.array([5.0, 2.0, 0.0, 3.0])
    rows, kept = eligible(snap, np.arange(4), scores, MetadataFilter.parse({"g": 1}))
    assert rows.tolist() == [3] and kept.tolist() == [3.0]
    rows, kept = eligible(snap, np.arange(4), scores, None)
    assert rows.tolist() == [1, 3] and kept.tolist() == [2.0, 3.0]


def test_many_small_adds_merge_segments_and_keep_scores() -> None:
    index = LexicalIndex("okapi")
    rng = np.random.default_rng(0)
    corpus = [[f"w{x}" for x in rng.zipf(1.5, size=rng.integers(1, 15)) % 50] for _ in range(300)]
    for start in range(0, 300, 7):
        index.add_tokenized(ids_for(300)[start : start + 7], corpus[start : start + 7])
    assert len(index._snap.segments) <= LexicalIndex.MAX_SEGMENTS
    np.testing.assert_allclose(
        index.get_scores(["w1", "w7"]), BM25Okapi(corpus).get_scores(["w1", "w7"]), atol=1e-9
    )


def test_deleting_a_third_compacts_and_frees_rows() -> None:
    index = LexicalIndex()
    index.add([str(i) for i in range(30)], [f"word{i % 5} common" for i in range(30)])
    index.delete([str(i) for i in range(12)])
    assert index._snap.n_rows == 18 and len(index) == 18
    assert [i for i, _ in index.search("word0", 10)] == ["15", "20", "25"]


def test_upsert_replaces_text_and_metadata() -> None:
    index = LexicalIndex()
    index.add(["a", "b"], ["old text", "other"], [{"v": 1}, {"v": 1}])
    index.add(["a"], ["new words"], [{"v": 2}])
    assert index.search("old", 5) == []
    assert index.search("new", 5)[0][0] == "a"
    assert index.get_metadata("a") == {"v": 2}
    assert index.search("new", 5, {"v": 1}) == []
    assert len(index) == 2 and index.ids == ["b", "a"]


def test_clear_empties_the_index_and_old_snapshots_keep_their_vocabulary() -> None:
    index = LexicalIndex()
    index.add(["a", "b"], ["alpha beta", "beta gamma"], [{"k": 1}, None])
    old = index._snap
    index.clear()
    assert len(index) == 0 and index.ids == [] and index.search("beta", 5) == []
    index.add(["c"], ["gamma delta"])
    assert index.search("gamma", 5)[0][0] == "c"
    # A search that started before clear() still resolves terms with the old vocabulary.
    assert query_terms(old, ["beta"]) == [old.vocab["beta"]]
    assert index.get_metadata("c") == {}


def test_bad_writes_raise_and_change_nothing() -> None:
    index = LexicalIndex()
    index.add(["a"], ["alpha"], [{"k": 1}])
    before = (index.ids, index.fingerprint)
    with pytest.raises(ValueError, match="2 ids but 1 texts"):
        index.add(["b", "c"], ["x"])
    with pytest.raises(ValueError, match="duplicate id 'b'"):
        index.add(["b", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="metadata key 'k'"):
        index.add(["b", "a"], ["x", "y"], [{"k": 1}, {"k": {"nested": 1}}])
    with pytest.raises(TypeError, match=r"texts\[0\]"):
        index.add(["b"], [None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="non-empty str"):
        index.add([""], ["x"])
    assert (index.ids, index.fingerprint) == before
    index.delete(["never-added"])
    assert index.ids == ["a"]


def test_fingerprint_matches_content_fingerprint_in_any_order() -> None:
    index = LexicalIndex()
    ids, texts = ["a", "b", "c"], ["one", "two", "three"]
    metas = [{"x": 1}, None, {"y": "z", "n": None}]
    index.add(ids, texts, metas)
    assert index.fingerprint == content_fingerprint(ids[::-1], texts[::-1], metas[::-1])
    assert index.fingerprint != content_fingerprint(ids, ["one", "two", "changed"], metas)
    assert index.fingerprint != content_fingerprint(ids, texts, [{"x": 2}, None, {"y": "z"}])
    index.delete(["b"])
    assert index.fingerprint == content_fingerprint(
        ["a", "c"], ["one", "three"], [metas[0], metas[2]]
    )


def test_fingerprint_equals_content_fingerprint_of_what_chroma_returns() -> None:
    import chromadb

    ids = ["a", "b", "c", "d"]
    texts = ["宝马 X1", "two", "three", "four"]
    metas: list[dict[str, Any] | None] = [
        {"year": 2022, "price": 29.5, "ok": True, "tags": ["x", "y"]},
        {"big": 2**62, "nan": float("nan"), "none": None, "s": "str"},
        None,
        {"n": [1, 2]},
    ]
    index = LexicalIndex()
    index.add(ids, texts, metas)
    col = chromadb.EphemeralClient().get_or_create_collection(
        f"fp-{uuid.uuid4().hex[:8]}", embedding_function=None
    )
    col.upsert(ids=ids, documents=texts, metadatas=metas, embeddings=[[0.0, 1.0]] * 4)  # type: ignore[arg-type]
    got = col.get(include=["documents", "metadatas"])
    assert content_fingerprint(got["ids"], got["documents"], got["metadatas"]) == index.fingerprint


# --- filters in search ------------------------------------------------------------------

meta_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([0.5, 1.0, 2.0]),
    st.sampled_from(["x", "y"]),
)
filters = st.one_of(
    st.fixed_dictionaries({"a": meta_values.filter(lambda v: v is not None)}),
    st.builds(lambda op, v: {"a": {op: v}}, st.sampled_from(["$gt", "$lte"]), st.integers(-2, 2)),
    st.builds(lambda v: {"b": {"$ne": v}}, st.sampled_from(["x", "y"])),
    st.builds(
        lambda v, w: {"$or": [{"a": {"$in": v}}, {"b": w}]},
        st.lists(st.integers(-2, 2), min_size=1, max_size=3),
        st.sampled_from(["x", "y"]),
    ),
)


@settings(max_examples=80, deadline=None)
@given(
    docs=st.lists(
        st.tuples(token_lists, st.fixed_dictionaries({"a": meta_values, "b": meta_values})),
        min_size=1,
        max_size=20,
    ),
    query=queries,
    where=filters,
)
def test_search_with_a_filter_returns_exactly_the_matching_scored_documents(
    docs: list[tuple[list[str], dict[str, Any]]], query: list[str], where: dict[str, Any]
) -> None:
    ids = ids_for(len(docs))
    index = LexicalIndex()
    index.add_tokenized(ids, [t for t, _ in docs], [m for _, m in docs])
    flt = MetadataFilter.parse(where)
    assert flt is not None
    scores = dict(zip(index.ids, index.get_scores(query).tolist(), strict=True))
    expected = {i for (_, m), i in zip(docs, ids, strict=True) if flt.matches(m) and scores[i] > 0}
    hits = index.search(query, len(docs), where)
    assert {i for i, _ in hits} == expected
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_invalid_filter_in_search_raises_value_error() -> None:
    index = LexicalIndex()
    index.add(["a"], ["x"], [{"k": 1}])
    with pytest.raises(ValueError, match=r"\$like"):
        index.search("x", 1, {"k": {"$like": 1}})


# --- Chinese: the seed article's car example ---------------------------------------------

CARS = {
    "bmw-x1-2022": ("2022年宝马X1价格公布，新款宝马X1售价29.39万元起，配置升级。", 2022, "BMW"),
    "benz-c-2023": ("23年奔驰C级评测：新款奔驰C级的操控和内饰表现如何。", 2023, "Mercedes"),
    "bmw-3-2022": ("22年宝马3系评测，宝马3系的驾驶乐趣依旧。", 2022, "BMW"),
    "benz-glc-2022": ("2022年奔驰GLC价格下调，奔驰GLC优惠幅度达5万元。", 2022, "Mercedes"),
    "audi-a4-2023": ("23年奥迪A4L价格与配置解析。", 2023, "Audi"),
}


@pytest.fixture
def cars() -> LexicalIndex:
    index = LexicalIndex()
    index.add(
        list(CARS),
        [t for t, _, _ in CARS.values()],
        [{"year": y, "brand": b} for _, y, b in CARS.values()],
    )
    return index


def test_seed_query_ranks_the_x1_document_first(cars: LexicalIndex) -> None:
    hits = cars.search("22年宝马X1价格", 5)
    assert hits[0][0] == "bmw-x1-2022"
    assert hits[0][1] > 0


def test_brand_filter_never_returns_another_brand(cars: LexicalIndex) -> None:
    for query in ("22年宝马X1价格", "奔驰价格", "23年奔驰C级评测"):
        hits = cars.search(query, 5, {"brand": "BMW"})
        assert hits and all(CARS[i][2] == "BMW" for i, _ in hits)
    hits = cars.search("价格", 5, {"$and": [{"brand": "Mercedes"}, {"year": {"$gte": 2022}}]})
    assert [i for i, _ in hits] == ["benz-glc-2022"]


# --- persistence --------------------------------------------------------------------------


def build_sample() -> LexicalIndex:
    index = LexicalIndex("okapi", k1=1.3, b=0.7)
    index.add(
        ["a", "b", "c", "d"],
        ["宝马X1 价格", "奔驰 C级 评测", "apple banana", "banana split"],
        [{"brand": "BMW", "tags": ["car", "suv"]}, {"brand": "Mercedes"}, None, {"n": 2.5}],
    )
    index.delete(["c"])
    return index


def test_save_load_round_trip_preserves_scores_metadata_and_settings(tmp_path: Path) -> None:
    index = build_sample()
    index.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert (loaded.variant, loaded.k1, loaded.b, loaded.epsilon) == ("okapi", 1.3, 0.7, 0.25)
    assert loaded.ids == index.ids and loaded.fingerprint == index.fingerprint
    for q in ("宝马价格", "banana", "评测 banana"):
        assert loaded.search(q, 5) == index.search(q, 5)
    assert loaded.get_metadata("a") == {"brand": "BMW", "tags": ["car", "suv"]}
    assert loaded.search("宝马", 5, {"tags": {"$contains": "suv"}})[0][0] == "a"
    loaded.add(["e"], ["banana again"])  # a loaded index keeps accepting writes
    assert "e" in loaded and len(loaded) == 4


def test_saved_files_are_plain_numpy_and_json_without_pickle(tmp_path: Path) -> None:
    build_sample().save(tmp_path)
    gens = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(gens) == 1
    for f in gens[0].iterdir():
        if f.suffix == ".npy":
            assert np.load(f, allow_pickle=False).dtype != object
        else:
            assert f.suffix == ".json"
            json.loads(f.read_text(encoding="utf-8"))
    assert json.loads((tmp_path / "CURRENT").read_text())["generation"] == gens[0].name


def test_saving_again_replaces_the_generation_and_cleans_up(tmp_path: Path) -> None:
    index = build_sample()
    index.save(tmp_path)
    index.add(["z"], ["zebra"])
    index.save(tmp_path)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1
    assert "z" in LexicalIndex.load(tmp_path)
    assert LexicalIndex.saved_fingerprint(tmp_path) == index.fingerprint
    assert LexicalIndex.saved_fingerprint(tmp_path / "nothing") is None


@pytest.mark.parametrize("fail_after", [0, 2, 5, 12])
def test_a_crash_mid_save_leaves_the_previous_index_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_after: int
) -> None:
    index = build_sample()
    index.save(tmp_path)
    before = index.search("banana", 5)
    index.add(["new"], ["banana banana banana"])
    real = lexical_files.write_array
    calls = {"n": 0}

    def crashing(path: Path, array: np.ndarray) -> dict[str, Any]:
        if calls["n"] >= fail_after:
            raise OSError("disk full (simulated)")
        calls["n"] += 1
        return real(path, array)

    monkeypatch.setattr(lexical_files, "write_array", crashing)
    with pytest.raises(OSError, match="simulated"):
        index.save(tmp_path)
    old = LexicalIndex.load(tmp_path)
    assert old.search("banana", 5) == before and "new" not in old
    monkeypatch.setattr(lexical_files, "write_array", real)
    index.save(tmp_path)
    assert "new" in LexicalIndex.load(tmp_path)


def test_a_crash_before_the_pointer_switch_keeps_the_old_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = build_sample()
    index.save(tmp_path)
    index.add(["new"], ["banana"])
    real_json = lexical_files.write_json

    def crash_on_pointer(path: Path, obj: Any) -> dict[str, Any]:
        if path.name.startswith("CURRENT.") and path.name.endswith(".tmp"):
            raise KeyboardInterrupt  # killed between writing the generation and switching
        return real_json(path, obj)

    monkeypatch.setattr(lexical_files, "write_json", crash_on_pointer)
    with pytest.raises(KeyboardInterrupt):
        index.save(tmp_path)
    assert "new" not in LexicalIndex.load(tmp_path)


def _generation(path: Path) -> Path:
    return path / json.loads((path / "CURRENT").read_text())["generation"]


@pytest.mark.parametrize("victim", ["seg0_rows.npy", "alive.npy", "vocab.json", "meta.json"])
def test_a_corrupt_file_raises_value_error_naming_it(tmp_path: Path, victim: str) -> None:
    build_sample().save(tmp_path)
    target = _generation(tmp_path) / victim
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=victim.replace(".", r"\.")):
        LexicalIndex.load(tmp_path)


def test_a_pickled_array_is_refused_even_with_a_matching_checksum(tmp_path: Path) -> None:
    build_sample().save(tmp_path)
    gen = _generation(tmp_path)
    target = gen / "doc_len.npy"
    np.save(target, np.array([{"evil": 1}] * 3, dtype=object), allow_pickle=True)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["files"]["doc_len.npy"] = lexical_files.finish_file(target)
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"doc_len\.npy"):
        LexicalIndex.load(tmp_path)


def test_missing_or_foreign_index_files_raise_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CURRENT"):
        LexicalIndex.load(tmp_path)
    (tmp_path / "CURRENT").write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="CURRENT"):
        LexicalIndex.load(tmp_path)
    build_sample().save(tmp_path / "ok")
    gen = _generation(tmp_path / "ok")
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["version"] = 99
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="version 99"):
        LexicalIndex.load(tmp_path / "ok")
    build_sample().save(tmp_path / "gone")
    (_generation(tmp_path / "gone") / "tfs.npy").unlink(missing_ok=True)
    (_generation(tmp_path / "gone") / "seg0_tfs.npy").unlink()
    with pytest.raises(ValueError, match=r"seg0_tfs\.npy"):
        LexicalIndex.load(tmp_path / "gone")


def test_a_custom_tokenizer_must_be_passed_again_on_load(tmp_path: Path) -> None:
    def split(text: str) -> list[str]:
        return text.split()

    index = LexicalIndex(tokenizer=split)
    index.add(["a"], ["Hello World"])
    index.save(tmp_path)
    with pytest.raises(ValueError, match="custom tokenizer"):
        LexicalIndex.load(tmp_path)
    assert LexicalIndex.load(tmp_path, tokenizer=split).search("Hello", 1)[0][0] == "a"
    stop = LexicalIndex(tokenizer=LexicalTokenizer(["hello"]))
    stop.add(["a"], ["hello world"])
    stop.save(tmp_path / "stop")
    assert LexicalIndex.load(tmp_path / "stop").search("hello", 1) == []


# --- threads ------------------------------------------------------------------------------


def test_eight_readers_and_a_writer_never_fail_or_see_partial_state() -> None:
    index = LexicalIndex()
    index.add([f"base{i}" for i in range(200)], [f"common word{i % 17}" for i in range(200)])
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                hits = index.search("common word3", 10, {"$or": [{"x": 1}, {"x": {"$ne": 1}}]})
                assert len(hits) == 10 and all(s > 0 for _, s in hits)
                scores = [s for _, s in hits]
                assert scores == sorted(scores, reverse=True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def writer() -> None:
        try:
            for n in range(60):
                index.add(
                    [f"new{n}", f"base{n}"],
                    [f"common word{n} extra", "common replaced"],
                    [{"x": n % 2}, None],
                )
                index.delete([f"new{n - 5}"])
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(8)]
    for t in readers:
        t.start()
    w = threading.Thread(target=writer)
    w.start()
    w.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors, errors
    assert len(index) == 200 + 5


# --- quality on real Chinese data ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.needs_data
@pytest.mark.parametrize("variant", ["lucene", "okapi"])
def test_cmrc2018_dev_jieba_bm25_ndcg_at_10_is_at_least_0_95(variant: str) -> None:
    from manifold_core.evaluation import load_beir, score_run

    data = load_beir(DATA / "cmrc2018", split="dev")
    index = LexicalIndex(variant)  # type: ignore[arg-type]
    index.add(list(data.corpus), list(data.corpus.values()))
    run = {qid: [i for i, _ in index.search(data.queries[qid], 10)] for qid in data.qrels}
    assert len(run) >= 1000
    assert score_run(data.qrels, run)["nDCG@10"] >= 0.95


def test_saves_of_two_indexes_to_one_folder_never_remove_each_others_files(
    tmp_path: Path,
) -> None:
    """Temporary names are private and a save removes only its own older generations."""
    first, second = build_sample(), build_sample()
    second.add(["second-only"], ["kiwi"])
    first.save(tmp_path)
    mine = _generation(tmp_path)
    second.save(tmp_path)
    theirs = _generation(tmp_path)
    assert mine.is_dir() and theirs.is_dir()  # neither save removed the other's generation
    first.save(tmp_path)
    assert not mine.exists()  # its own superseded generation is gone
    assert theirs.is_dir()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert "second-only" not in LexicalIndex.load(tmp_path)
