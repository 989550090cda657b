"""Reranking core: the Qwen3 format pinned with the real tokenizer, batching, ordering."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rerank_helpers import (
    CAR_DOCS,
    CAR_FIRST_HAND,
    CAR_QUERY,
    cross_encoder,
    ms_marco_reranker,
    qwen3_tokenizer,
    tiny_qwen3_lm,
    tiny_qwen3_reranker,
)

from manifold_core.reranker_setup import build_reranker, check_pipeline_reranker
from manifold_core.reranking import (
    QWEN3_RERANK_PREFIX,
    QWEN3_RERANK_SUFFIX,
    CrossEncoderReranker,
    Qwen3Reranker,
    RerankedItem,
    Reranker,
    check_reranker,
    order_by_relevance,
    resolve_device,
    token_budget_batches,
)

QUERY = "Which planet is known as the Red Planet?"
DOCS = [
    "Venus is often called Earth's twin because of its similar size and mass.",
    "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
    "Jupiter, the largest planet in our solar system, has a prominent red spot.",
    "Saturn, famous for its rings, is sometimes mistaken for the Red Planet.",
    "火星因为表面的氧化铁而呈现红色，被称为红色星球。",
    "  leading spaces, trailing newline\n",
    "line one\n\nline two\twith tab",
]


@pytest.fixture(scope="module")
def qwen() -> Qwen3Reranker:
    return tiny_qwen3_reranker()


# --- the official Qwen3-Reranker format ------------------------------------------------


def test_template_strings_are_the_official_ones() -> None:
    assert QWEN3_RERANK_PREFIX == (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the "
        'Query and the Instruct provided. Note that the answer can only be "yes" or "no".'
        "<|im_end|>\n<|im_start|>user\n"
    )
    assert QWEN3_RERANK_SUFFIX == "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def test_yes_and_no_are_the_qwen3_token_ids(qwen: Qwen3Reranker) -> None:
    assert (qwen.yes_id, qwen.no_id) == (9693, 2152)
    assert qwen.pad_id == 151643


def test_pair_ids_equal_tokenisation_of_the_full_official_string(qwen: Qwen3Reranker) -> None:
    tok = qwen3_tokenizer()
    encoded = qwen.encode_pairs(QUERY, DOCS)
    for doc, ids in zip(DOCS, encoded, strict=True):
        full = (
            QWEN3_RERANK_PREFIX
            + "<Instruct>: Given a web search query, retrieve relevant passages that answer "
            "the query\n<Query>: " + QUERY + "\n<Document>: " + doc + QWEN3_RERANK_SUFFIX
        )
        assert ids == tok(full, add_special_tokens=False)["input_ids"]
        assert full == qwen.format_pair(QUERY, doc)


def test_custom_instruction_goes_into_the_instruct_line() -> None:
    r = tiny_qwen3_reranker(instruction="Find the passage that answers the question")
    ids = r.encode_pairs(QUERY, ["doc"])[0]
    assert "<Instruct>: Find the passage that answers the question\n" in qwen3_tokenizer().decode(
        ids
    )


def test_truncation_cuts_the_document_keeps_query_and_suffix() -> None:
    r = tiny_qwen3_reranker(max_length=120)
    long_doc = "The red dust of Mars is iron oxide. " * 200
    ids = r.encode_pairs(QUERY, [long_doc])[0]
    assert len(ids) == 120
    assert ids[-len(r.suffix_ids) :] == r.suffix_ids
    assert ids[: len(r.prefix_ids)] == r.prefix_ids
    untruncated = r.encode_pairs(QUERY, [long_doc[:200]])[0]
    # the kept body is a prefix of the untruncated body: only the document's end is lost
    body = ids[len(r.prefix_ids) : -len(r.suffix_ids)]
    assert untruncated[len(r.prefix_ids) :][: len(body)] == body
    text = qwen3_tokenizer().decode(ids)
    assert f"<Query>: {QUERY}\n<Document>: The red dust" in text


def test_short_pairs_are_not_truncated() -> None:
    r = tiny_qwen3_reranker(max_length=120)
    ids = r.encode_pairs(QUERY, ["Mars."])[0]
    assert (
        ids
        == qwen3_tokenizer()(r.format_pair(QUERY, "Mars."), add_special_tokens=False)["input_ids"]
    )


def test_query_that_does_not_fit_raises_naming_max_length() -> None:
    r = tiny_qwen3_reranker(max_length=90)
    with pytest.raises(ValueError, match="max_length=90"):
        r.encode_pairs("why " * 200, ["a long enough document " * 50])


def test_max_length_below_template_size_raises() -> None:
    with pytest.raises(ValueError, match="max_length=10"):
        tiny_qwen3_reranker(max_length=10)


def test_padded_batch_scores_equal_one_at_a_time(qwen: Qwen3Reranker) -> None:
    batched = qwen.score(QUERY, DOCS)
    alone = np.array([qwen.score(QUERY, [d])[0] for d in DOCS])
    assert np.abs(batched - alone).max() < 1e-5


def test_padding_side_of_the_given_tokenizer_does_not_matter() -> None:
    tok = qwen3_tokenizer()
    r = tiny_qwen3_reranker()
    tok.padding_side = "right"
    try:
        scores = r.score(QUERY, DOCS)
    finally:
        tok.padding_side = "left"
    assert np.abs(scores - r.score(QUERY, DOCS)).max() < 1e-6


def test_score_is_softmax_of_yes_no_logits_of_the_full_model(qwen: Qwen3Reranker) -> None:
    model = tiny_qwen3_lm()
    tok = qwen3_tokenizer()
    scores = qwen.score(QUERY, DOCS[:3])
    for doc, score in zip(DOCS[:3], scores, strict=True):
        ids = tok(qwen.format_pair(QUERY, doc), add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1]
        yes, no = float(logits[9693]), float(logits[2152])
        expected = math.exp(yes) / (math.exp(yes) + math.exp(no))
        assert score == pytest.approx(expected, abs=1e-6)


def test_scores_come_back_in_input_order_whatever_the_budget() -> None:
    small = tiny_qwen3_reranker(max_tokens_per_batch=128, max_batch_size=2)
    big = tiny_qwen3_reranker(max_tokens_per_batch=100_000)
    docs = [DOCS[i % len(DOCS)] * (1 + i % 4) for i in range(13)]
    assert np.abs(small.score(QUERY, docs) - big.score(QUERY, docs)).max() < 1e-5


def test_one_megabyte_document_is_truncated_not_an_error() -> None:
    r = tiny_qwen3_reranker(max_length=512)
    huge = "Mars is red. " * 80_000
    assert len(huge) > 1_000_000
    ids = r.encode_pairs(QUERY, [huge])[0]
    assert len(ids) == 512
    assert r.score(QUERY, [huge, "Venus"]).shape == (2,)


def test_character_precut_gives_the_ids_of_cutting_the_whole_tokenisation() -> None:
    r = tiny_qwen3_reranker(max_length=100)
    budget = 100 - len(r.prefix_ids) - len(r.suffix_ids)
    for doc in ("Mars is red and dusty. " * 2000, "火星是红色的星球。" * 3000):
        full = r.format_pair(QUERY, doc)
        body = full[len(QWEN3_RERANK_PREFIX) : -len(QWEN3_RERANK_SUFFIX)]
        body_ids = qwen3_tokenizer()(body, add_special_tokens=False)["input_ids"]
        assert r.encode_pairs(QUERY, [doc])[0] == r.prefix_ids + body_ids[:budget] + r.suffix_ids


def test_long_tokens_beyond_the_character_cap_still_fill_the_budget() -> None:
    r = tiny_qwen3_reranker(max_length=100)
    # runs of spaces tokenise into long tokens: the character pre-cut must not starve it
    doc = ("word" + " " * 40) * 500
    ids = r.encode_pairs(QUERY, [doc])[0]
    assert len(ids) == 100


def test_loads_from_a_local_folder_in_float32_on_cpu(tmp_path: Any, qwen: Qwen3Reranker) -> None:
    tiny_qwen3_lm().save_pretrained(tmp_path)
    qwen3_tokenizer().save_pretrained(tmp_path)
    loaded = Qwen3Reranker(str(tmp_path))
    assert loaded.device == "cpu" and loaded.dtype == torch.float32
    assert np.abs(loaded.score(QUERY, DOCS) - qwen.score(QUERY, DOCS)).max() < 1e-5


def test_loaded_model_needs_its_tokenizer() -> None:
    with pytest.raises(ValueError, match="tokenizer"):
        Qwen3Reranker(tiny_qwen3_lm())


def test_device_auto_is_cpu_without_accelerators() -> None:
    if torch.cuda.is_available():  # pragma: no cover - GPU machines
        assert resolve_device() == "cuda"
    else:
        assert resolve_device() in {"cpu", "mps"}
    assert resolve_device("cpu") == "cpu"


def test_rerankers_satisfy_the_protocol(qwen: Qwen3Reranker) -> None:
    assert isinstance(qwen, Reranker)
    assert isinstance(ms_marco_reranker(), Reranker)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [tiny_qwen3_reranker, ms_marco_reranker])
def test_bad_input(make: Any) -> None:
    r = make()
    assert r.rerank(QUERY, []) == []
    assert r.score(QUERY, []).shape == (0,)
    for top_n in (0, -1):
        with pytest.raises(ValueError, match="top_n"):
            r.rerank(QUERY, DOCS, top_n=top_n)
    for threshold in (-0.01, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            r.rerank(QUERY, DOCS, threshold=threshold)
    for query in ("", "   "):
        with pytest.raises(ValueError, match="query"):
            r.rerank(query, DOCS)
        with pytest.raises(ValueError, match="query"):
            r.score(query, DOCS)
    with pytest.raises(ValueError, match="blend"):
        r.rerank(QUERY, DOCS, blend=-1.0)


@pytest.mark.parametrize("make", [Qwen3Reranker, CrossEncoderReranker])
@pytest.mark.parametrize(
    ("option", "value"),
    [("max_tokens_per_batch", 0), ("max_batch_size", -1), ("max_length", 0)],
)
def test_bad_batching_options_are_refused_before_any_model_loads(
    make: Any, option: str, value: int
) -> None:
    """The core checks its own options, so the adapters need not (no model is loaded)."""
    with pytest.raises(ValueError, match=f"{option} must be a positive int"):
        make("no/such-model-is-ever-loaded", **{option: value})


def test_a_reranker_subclassing_the_protocol_inherits_rerank() -> None:
    class Longest(Reranker):
        def score(self, query: str, texts: Any) -> np.ndarray:
            return np.array([len(t) / 100 for t in texts])

    ranked = Longest().rerank("q", ["ab", "abcd", "abc"], top_n=2, retrieval_scores=[3, 2, 1])
    assert [(r.item, r.retrieval_score) for r in ranked] == [("abcd", 2.0), ("abc", 1.0)]
    assert check_reranker(Longest()) is not None


def test_wrapper_setup_checks_before_loading_and_reuses_a_ready_one(
    qwen: Qwen3Reranker,
) -> None:
    """What the four framework wrappers need from the core (reranker_setup), in one call."""
    none = {"top_n": None, "threshold": None, "blend": None}
    for bad in ({"top_n": 0}, {"threshold": 2.0}, {"blend": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            build_reranker("qwen3", "no/such-model-is-ever-loaded", **{**none, **bad})
    assert build_reranker("qwen3", qwen, **{**none, "top_n": 3}) is qwen
    assert check_pipeline_reranker(qwen, None, None, None) is qwen
    with pytest.raises(TypeError, match="must implement score"):
        check_pipeline_reranker(object(), None, None, None)
    built = build_reranker("qwen3", tiny_qwen3_lm(), qwen3_tokenizer(), **none, max_length=512)
    assert isinstance(built, Qwen3Reranker) and built.max_length == 512


def test_cross_encoder_truncates_a_one_megabyte_document() -> None:
    r = ms_marco_reranker()
    huge = "The new X1 is quiet on the highway. " * 30_000
    assert len(huge) > 1_000_000
    scores = r.score(CAR_QUERY, [huge, CAR_DOCS[3]])
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


# --- rerank(): ordering, top_n, threshold, blend ------------------------------------------


def test_rerank_keeps_retrieval_scores_and_ranks(qwen: Qwen3Reranker) -> None:
    items = [(d, 10.0 - i) for i, d in enumerate(DOCS)]
    ranked = qwen.rerank(QUERY, items)
    assert sorted(r.index for r in ranked) == list(range(len(DOCS)))
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    for r in ranked:
        assert r.item == items[r.index]
        assert r.retrieval_score == 10.0 - r.index
        assert r.retrieval_rank == r.index + 1


def test_order_is_stable_for_ties() -> None:
    ranked = order_by_relevance(list("abcde"), [0.5, 0.9, 0.5, 0.9, 0.5])
    assert [r.item for r in ranked] == ["b", "d", "a", "c", "e"]


def test_top_n_and_threshold() -> None:
    scores = [0.1, 0.8, 0.4, 0.95, 0.6]
    ranked = order_by_relevance(list("abcde"), scores, threshold=0.5)
    assert [r.item for r in ranked] == ["d", "b", "e"]
    assert [r.item for r in order_by_relevance(list("abcde"), scores, top_n=2)] == ["d", "b"]
    both = order_by_relevance(list("abcde"), scores, top_n=1, threshold=0.99)
    assert both == []


def test_blend_weight_zero_returns_the_retrieval_order() -> None:
    scores = [0.1, 0.8, 0.4, 0.95, 0.6, 0.3]
    ranked = order_by_relevance(list("abcdef"), scores, blend=0.0)
    assert [r.item for r in ranked] == list("abcdef")
    assert all(r.blended_score is not None for r in ranked)


def test_blend_huge_weight_returns_the_reranker_order() -> None:
    scores = [0.1, 0.8, 0.4, 0.95, 0.6, 0.3]
    blended = order_by_relevance(list("abcdef"), scores, blend=1e9)
    plain = order_by_relevance(list("abcdef"), scores)
    assert [r.item for r in blended] == [r.item for r in plain] == list("dbecfa")


def test_blend_score_is_weighted_rrf_of_both_ranks() -> None:
    scores = [0.1, 0.2, 0.4, 0.3]  # reranker ranks: d=2, c=1, b=3, a=4
    ranked = order_by_relevance(list("abcd"), scores, blend=2.0, rrf_c=10)
    rerank_rank = {"c": 1, "d": 2, "b": 3, "a": 4}
    for r in ranked:
        expected = 2.0 / (10 + rerank_rank[r.item]) + 1.0 / (10 + r.retrieval_rank)
        assert r.blended_score == pytest.approx(expected)
    assert [r.item for r in ranked] == sorted(
        "abcd", key=lambda x: -next(q.blended_score for q in ranked if q.item == x)
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=40),
    st.one_of(st.none(), st.integers(1, 50)),
    st.one_of(st.none(), st.floats(0, 1)),
    st.one_of(st.none(), st.floats(0, 1e6)),
)
def test_order_by_relevance_properties(
    scores: list[float], top_n: int | None, threshold: float | None, blend: float | None
) -> None:
    items = [f"item{i}" for i in range(len(scores))]
    ranked = order_by_relevance(items, scores, top_n=top_n, threshold=threshold, blend=blend)
    assert len({r.index for r in ranked}) == len(ranked)
    if top_n is not None:
        assert len(ranked) <= top_n
    if threshold is not None:
        assert all(r.score >= threshold for r in ranked)
    if blend is None:
        assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert all(isinstance(r, RerankedItem) and r.item == items[r.index] for r in ranked)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 600), max_size=60),
    st.integers(1, 4000),
    st.one_of(st.none(), st.integers(1, 16)),
)
def test_token_budget_batches_cover_everything_within_budget(
    lengths: list[int], budget: int, cap: int | None
) -> None:
    batches = token_budget_batches(lengths, budget, cap)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    for b in batches:
        padded = len(b) * max(lengths[i] for i in b)
        assert padded <= budget or len(b) == 1
        if cap is not None:
            assert len(b) <= cap


# --- the real cross-encoder ------------------------------------------------------------


def test_car_example_first_hand_answer_ranks_first() -> None:
    ranked = ms_marco_reranker().rerank(CAR_QUERY, CAR_DOCS)
    assert ranked[0].index == CAR_FIRST_HAND
    assert ranked[-1].index == 3  # the "X1 bro" joke


def test_cross_encoder_scores_are_sigmoid_of_its_logits_in_input_order() -> None:
    r = ms_marco_reranker(max_tokens_per_batch=64)  # many small batches
    logits = cross_encoder().predict(
        [(CAR_QUERY, d) for d in CAR_DOCS], activation_fn=torch.nn.Identity()
    )
    expected = 1 / (1 + np.exp(-np.asarray(logits, dtype=np.float64)))
    assert np.abs(r.score(CAR_QUERY, CAR_DOCS) - expected).max() < 1e-5


def test_cross_encoder_loads_from_a_folder() -> None:
    from benchmarks._rerank_models import ms_marco_cross_encoder_dir

    r = CrossEncoderReranker(str(ms_marco_cross_encoder_dir()), max_length=256, device="cpu")
    assert r.max_length == 256
    ranked = r.rerank(CAR_QUERY, CAR_DOCS, top_n=2)
    assert ranked[0].index == CAR_FIRST_HAND and len(ranked) == 2
