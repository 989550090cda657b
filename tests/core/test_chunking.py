"""The semantic chunker: offsets, limits, breakpoint rules, batching and real-model cuts."""

from __future__ import annotations

import hashlib
import itertools
import tracemalloc
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from topics import EN_TOPICS, ZH_TOPICS, joined

from manifold_core import chunking
from manifold_core.chunking import _breakpoints
from manifold_core.encoders import CallableEncoder, RegexTokenizer, normalize_rows


def SemanticChunker(encoder: Any = None, **kwargs: Any) -> chunking.SemanticChunker:
    """The chunker with the seed's ``percentile`` rule unless told otherwise.

    These tests pin the rule-driven cuts, packing and overlap of the seed's algorithm (the
    default before the ``size`` rule); the default's own tests are in test_size_rule.py.
    """
    kwargs.setdefault("breakpoint_rule", "percentile")
    return chunking.SemanticChunker(encoder, **kwargs)


class HashEncoder:
    """Deterministic, fast stand-in for a model: a text's vector comes from its hash.

    Records every text it embeds, so tests can check how windows are batched.
    """

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def _vec(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return normalize_rows(np.array([self._vec(t) for t in texts]).reshape(len(texts), -1))

    encode_queries = encode_documents


def check_chunks(text: str, chunks: list[Any], chunker: chunking.SemanticChunker) -> None:
    """The invariants every chunking must satisfy (chunks overlap only by ``overlap_tokens``)."""
    last_start, last_end = -1, 0
    covered: set[int] = set()
    for i, c in enumerate(chunks):
        assert c.text == text[c.start : c.end]
        assert c.text == c.text.strip() and c.text
        if chunker.overlap_tokens == 0:
            assert last_end <= c.start < c.end
        else:  # each chunk moves on; what it repeats of the one before fits the overlap
            assert last_start < c.start < c.end and last_end < c.end
            if c.start < last_end:
                assert chunker.tokenizer.count([text[c.start : last_end]])[0] <= (
                    chunker.overlap_tokens
                )
        assert c.index == i
        assert c.token_count == chunker.tokenizer.count([c.text])[0]
        assert c.token_count <= chunker.max_tokens
        assert (c.boundary_similarity is None) == (i == 0)
        covered.update(range(c.start, c.end))
        last_start, last_end = c.start, c.end
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered


# --------------------------------------------------------------------- bad input


def test_empty_and_whitespace_give_no_chunks() -> None:
    chunker = SemanticChunker(HashEncoder())
    assert chunker.split_text("") == []
    assert chunker.split_text("  \n\t  ") == []


def test_one_sentence_gives_one_chunk_without_embedding() -> None:
    enc = HashEncoder()
    chunks = SemanticChunker(enc).split_text("  Just one sentence here.  ")
    assert [(c.text, c.start, c.end) for c in chunks] == [("Just one sentence here.", 2, 25)]
    assert enc.calls == []


@pytest.mark.parametrize("bad", [None, 42, ["a list"]])
def test_non_str_raises_type_error_naming_the_type(bad: object) -> None:
    with pytest.raises(TypeError, match=type(bad).__name__):
        SemanticChunker(HashEncoder()).split_text(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
        ({"breakpoint_rule": "absolute", "threshold": 2.0}, "threshold"),
        ({"breakpoint_rule": "number_of_chunks", "threshold": 2.5}, "threshold"),
        ({"breakpoint_rule": "stddev", "threshold": -1}, "threshold"),
        ({"breakpoint_rule": "magic"}, "breakpoint_rule"),
        ({"min_tokens": 50, "max_tokens": 10}, "min_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"buffer_size": -1}, "buffer_size"),
        ({"batch_size": 1}, "batch_size"),
    ],
)
def test_invalid_parameters_raise_at_construction_naming_them(
    kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        SemanticChunker(HashEncoder(), **kwargs)


# --------------------------------------------------------------------- invariants

WORDS = ["alpha", "beta", "gamma", "3.14", "e.g.", "中文", "句子", "测试", "数据", "x"]
PUNCT = [". ", "。", "！", "? ", "，", ", ", "\n", "\n\n", " ", "；", "……"]


@st.composite
def mixed_text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(PUNCT)), max_size=80))
    return "".join(w + p for w, p in parts)


@given(
    text=mixed_text(),
    max_tokens=st.integers(1, 30),
    min_tokens=st.integers(0, 10),
    buffer_size=st.integers(0, 2),
    rule=st.sampled_from(["size", "percentile", "stddev", "interquartile", "gradient", "absolute"]),
)
@settings(max_examples=150, deadline=None)
def test_offsets_reproduce_the_text_and_max_tokens_is_never_exceeded(
    text: str, max_tokens: int, min_tokens: int, buffer_size: int, rule: str
) -> None:
    chunker = SemanticChunker(
        HashEncoder(),
        breakpoint_rule=rule,  # type: ignore[arg-type]
        max_tokens=max_tokens,
        min_tokens=min(min_tokens, max_tokens),
        buffer_size=buffer_size,
        tokenizer=RegexTokenizer(),
        batch_size=8,
    )
    check_chunks(text, chunker.split_text(text), chunker)


@given(text=mixed_text(), max_tokens=st.integers(2, 40))
@settings(max_examples=40, deadline=None)
def test_max_tokens_holds_with_a_real_subword_tokenizer(
    text: str, max_tokens: int, minilm_encoder: Any
) -> None:
    chunker = SemanticChunker(
        HashEncoder(), max_tokens=max_tokens, tokenizer=minilm_encoder.tokenizer
    )
    check_chunks(text, chunker.split_text(text), chunker)


def test_long_sentence_is_cut_at_clause_punctuation_first() -> None:
    text = "one two three, four five six, seven eight nine, ten eleven twelve."
    chunker = SemanticChunker(HashEncoder(), max_tokens=8, tokenizer=RegexTokenizer())
    chunks = chunker.split_text(text)
    check_chunks(text, chunks, chunker)
    assert all(c.text.endswith((",", ".")) for c in chunks)


def test_clause_longer_than_limit_is_cut_at_token_boundaries() -> None:
    text = " ".join(f"w{i}" for i in range(25)) + "."
    chunker = SemanticChunker(HashEncoder(), max_tokens=10, tokenizer=RegexTokenizer())
    chunks = chunker.split_text(text)
    check_chunks(text, chunks, chunker)
    assert [c.token_count for c in chunks] == [10, 10, 6]


def test_chunk_above_limit_is_cut_at_its_weakest_internal_gap() -> None:
    # Sentences 0-1 and 2-3 are near-duplicates, so the weakest gap is between 1 and 2.
    text = "red apple pie. red apple pies. blue ocean wave. blue ocean waves."
    vecs = {
        "red apple pie.": [1, 0.1, 0],
        "red apple pies.": [1, 0.12, 0],
        "blue ocean wave.": [0, 1, 0.3],
        "blue ocean waves.": [0, 1, 0.31],
    }
    enc = CallableEncoder(lambda ts: np.array([vecs[t] for t in ts], dtype=np.float32))
    chunker = SemanticChunker(
        enc, breakpoint_rule="absolute", threshold=-1, max_tokens=9, tokenizer=RegexTokenizer()
    )
    assert [c.text for c in chunker.split_text(text)] == [
        "red apple pie. red apple pies.",
        "blue ocean wave. blue ocean waves.",
    ]


def test_small_chunks_merge_into_the_more_similar_neighbour() -> None:
    text = "Cats purr. Kittens purr too. Ok. Stocks fell. Markets slid."
    vecs = {
        "Cats purr.": [1, 0],
        "Kittens purr too.": [0.95, 0.05],
        "Ok.": [0.2, 0.98],
        "Stocks fell.": [0, 1],
        "Markets slid.": [0.05, 0.95],
    }
    enc = CallableEncoder(lambda ts: np.array([vecs[t] for t in ts], dtype=np.float32))
    cut_all = SemanticChunker(
        enc, breakpoint_rule="absolute", threshold=1.0, tokenizer=RegexTokenizer()
    )
    assert len(cut_all.split_text(text)) == 5
    merged = SemanticChunker(
        enc, breakpoint_rule="absolute", threshold=0.9, min_tokens=3, tokenizer=RegexTokenizer()
    ).split_text(text)
    assert [c.text for c in merged] == [
        "Cats purr. Kittens purr too.",
        "Ok. Stocks fell. Markets slid.",
    ]


def test_min_tokens_never_breaks_max_tokens() -> None:
    text = "a b c. d e f. g h i. j k l."
    chunker = SemanticChunker(
        HashEncoder(),
        breakpoint_rule="absolute",
        threshold=1.0,
        min_tokens=5,
        max_tokens=5,
        tokenizer=RegexTokenizer(),
    )
    chunks = chunker.split_text(text)
    check_chunks(text, chunks, chunker)
    assert len(chunks) == 4


# --------------------------------------------------------------------- breakpoint rules

SIMS = np.array([0.9, 0.8, 0.1, 0.85, 0.88, 0.3, 0.9, 0.87])


@pytest.mark.parametrize(
    ("rule", "t", "expected"),
    [
        ("percentile", 0.2, [2, 5]),
        ("percentile", 0.0, []),
        ("stddev", 1.0, [2, 5]),
        ("stddev", 1.5, [2]),
        ("interquartile", 1.5, [2, 5]),
        ("interquartile", 3.0, []),
        ("gradient", 0.25, [2, 5]),
        ("absolute", 0.5, [2, 5]),
        ("number_of_chunks", 2, [2]),
        ("number_of_chunks", 3, [2, 5]),
        ("number_of_chunks", 100, list(range(8))),
    ],
)
def test_breakpoint_rules(rule: str, t: float, expected: list[int]) -> None:
    assert _breakpoints(rule, t, SIMS).tolist() == expected


def test_percentile_rule_has_the_seed_meaning() -> None:
    sims = np.linspace(0, 1, 11)
    # threshold 0.3 cuts the gaps whose similarity lies in the lowest 30%
    assert _breakpoints("percentile", 0.3, sims).tolist() == [0, 1, 2]


# --------------------------------------------------------------------- windows & batching


def test_each_window_is_embedded_once_in_one_batched_call() -> None:
    text = " ".join(f"Sentence number {i}." for i in range(30))
    for b in (0, 1, 3):
        enc = HashEncoder()
        SemanticChunker(enc, buffer_size=b, batch_size=1024).split_text(text)
        assert len(enc.calls) == 1
        embedded = enc.calls[0]
        assert len(embedded) == len(set(embedded))
        # b=0: the 30 sentences; b>0: left windows i-b..i and right windows i+1..i+1+b
        lefts = {(max(0, i - b), i) for i in range(29)}
        rights = {(i + 1, min(29, i + 1 + b)) for i in range(29)}
        assert len(embedded) == len(lefts | rights)


@pytest.mark.parametrize("buffer_size", [0, 1, 3])
@pytest.mark.parametrize("batch_size", [8, 13])
def test_small_batches_stay_within_the_batch_and_never_embed_a_window_twice(
    buffer_size: int, batch_size: int
) -> None:
    docs = [" ".join(f"Doc {d} line {i}." for i in range(n)) for d, n in enumerate([40, 1, 7])]
    enc = HashEncoder()
    chunker = SemanticChunker(enc, buffer_size=buffer_size, batch_size=batch_size)
    chunker.split_texts(docs)
    embedded = [t for call in enc.calls for t in call]
    assert max(len(call) for call in enc.calls) <= batch_size
    assert len(embedded) == len(set(embedded))


def test_windows_compare_before_the_gap_with_after_it() -> None:
    text = "A0. A1. A2. B0. B1. B2."
    enc = HashEncoder()
    _, sims = SemanticChunker(enc, buffer_size=2).similarities(text)
    # gap 2 (between A2 and B0) compares "A0. A1. A2." with "B0. B1. B2.", never a window
    # that straddles the gap; gap 0 compares "A0." with "A1. A2. B0."
    left, right = enc.encode_documents(["A0. A1. A2.", "B0. B1. B2."])
    assert sims[2] == pytest.approx(float(left @ right), abs=1e-6)
    left, right = enc.encode_documents(["A0.", "A1. A2. B0."])
    assert sims[0] == pytest.approx(float(left @ right), abs=1e-6)


def test_batches_across_documents_give_the_same_chunks_as_one_by_one() -> None:
    docs = [" ".join(f"Doc {d} line {i}." for i in range(d + 2)) for d in range(6)]
    chunker = SemanticChunker(HashEncoder(), buffer_size=1, batch_size=6)
    together = chunker.split_texts(docs)
    alone = [chunker.split_text(d) for d in docs]
    assert together == alone


def test_ten_megabyte_document_splits_in_memory_bounded_by_the_batch() -> None:
    sentence = "The quick brown fox jumps over the lazy dog number {}. "
    text = "".join(sentence.format(i % 997) for i in range(180_000))
    assert len(text) > 10_000_000
    dim = 384
    enc = HashEncoder(dim=dim)
    chunker = SemanticChunker(
        enc,
        max_tokens=200,
        batch_size=512,
        tokenizer=RegexTokenizer(),
        breakpoint_rule="absolute",
        threshold=0.0,
    )
    tracemalloc.start()
    chunks = chunker.split_text(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert max(len(c) for c in enc.calls) <= 512
    # Keeping every embedding would need 180k x 384 x 4 B = 276 MB.
    assert peak < 200_000_000
    assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
    assert all(c.token_count <= 200 for c in chunks)


# --------------------------------------------------------------------- real models


def test_tokens_are_counted_with_the_encoders_own_tokenizer(minilm_encoder: Any) -> None:
    chunker = SemanticChunker(minilm_encoder, breakpoint_rule="percentile")
    text = "Tokenization counts word pieces."
    expected = len(minilm_encoder.model.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert chunker.split_text(text)[0].token_count == expected
    assert chunker.max_tokens == minilm_encoder.model.max_seq_length
    # the size rule (the default) takes 300 tokens, half of them carried over: its new text
    # (150) fits the model's 256
    default = chunking.SemanticChunker(minilm_encoder)
    assert (default.breakpoint_rule, default.max_tokens, default.overlap_tokens) == (
        "size",
        300,
        150,
    )


def test_english_three_topics_are_cut_at_the_topic_changes(minilm_encoder: Any) -> None:
    text, starts = joined(EN_TOPICS, " ")
    for b in (0, 1):
        chunks = SemanticChunker(
            minilm_encoder, breakpoint_rule="percentile", buffer_size=b
        ).split_text(text)
        assert [c.start for c in chunks[1:]] == starts, f"buffer_size={b}"


def test_chinese_three_topics_are_cut_at_the_topic_changes(use_encoder: Any) -> None:
    text, starts = joined(ZH_TOPICS)
    chunker = SemanticChunker(use_encoder, breakpoint_rule="percentile", threshold=0.2)
    chunks = chunker.split_text(text)
    check_chunks(text, chunks, chunker)
    assert [c.start for c in chunks[1:]] == starts
    assert all(
        c.boundary_similarity is not None and c.boundary_similarity < 0.2 for c in chunks[1:]
    )


def test_seed_renewable_energy_sample_is_cut_before_the_policy_paragraph(use_encoder: Any) -> None:
    sample = (
        "可再生能源是未来的发展方向。太阳能和风能作为其中的佼佼者，近年来技术取得了长足的进步。"
        "光伏板的转换效率不断提升，成本也在持续下降，使得分布式光伏发电在城市和乡村都得到了广泛应用。"
        "风力发电则在大规模电网接入方面展现出巨大潜力，尤其是在海上风电场项目上，全球各国都在加大投资。"
        "这些清洁能源的利用，对于减少碳排放、应对全球气候变化至关重要。\n"
        "然而，可再生能源的普及也面临着严峻的挑战，其中最主要的就是储能问题。"
        "由于太阳能和风能具有间歇性和不稳定性，如何将高峰期产生的多余电能储存起来，在低谷期稳定输出，"
        "成为了电网安全的关键。目前的储能技术主要依赖锂离子电池，但其成本高昂、寿命有限，并且存在安全隐患。"
        "寻找更高效、更经济、更安全的储能方案，如液流电池、压缩空气储能等，是当前科研领域的热点。\n"
        "为了推动整个绿色能源产业的发展，各国政府的政策支持同样不可或缺。"
        "从提供补贴、税收优惠，到建立碳交易市场，再到制定长期的能源转型路线图，宏观政策为市场设定了明确的预期。"
    )
    chunks = SemanticChunker(use_encoder, breakpoint_rule="percentile", threshold=0.3).split_text(
        sample
    )
    assert any(c.text.startswith("为了推动") for c in chunks)
    assert all(c.text == sample[c.start : c.end] for c in chunks)


# --------------------------------------------------------------------- sentence overlap


@given(
    text=mixed_text(),
    max_tokens=st.integers(2, 40),
    overlap=st.integers(0, 39),
    rule=st.sampled_from(["size", "percentile", "absolute"]),
)
@settings(max_examples=150, deadline=None)
def test_overlapping_chunks_keep_exact_offsets_bounded_overlap_and_the_cap(
    text: str, max_tokens: int, overlap: int, rule: str
) -> None:
    overlap = min(overlap, max_tokens - 1)
    tok = RegexTokenizer()
    chunker = SemanticChunker(
        HashEncoder(),
        breakpoint_rule=rule,  # type: ignore[arg-type]
        max_tokens=max_tokens,
        overlap_tokens=overlap,
        tokenizer=tok,
    )
    chunks = chunker.split_text(text)
    covered: set[int] = set()
    for i, c in enumerate(chunks):
        assert c.text == text[c.start : c.end] and c.text == c.text.strip() and c.text
        assert c.index == i
        assert c.token_count == tok.count([c.text])[0] <= max_tokens
        covered.update(range(c.start, c.end))
        if i:
            prev = chunks[i - 1]
            assert prev.start < c.start and prev.end < c.end  # each chunk moves on
            if c.start < prev.end:  # the carried part: whole units, at most `overlap` tokens
                assert tok.count([text[c.start : prev.end]])[0] <= overlap
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered


def test_overlap_carries_the_last_sentences_and_keeps_the_cuts_of_the_smaller_cap() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))  # 6 tokens each
    tok = RegexTokenizer()
    same = CallableEncoder(lambda texts: np.ones((len(texts), 4)) / 2.0)  # cut only by size
    plain = SemanticChunker(
        same, breakpoint_rule="size", max_tokens=36, overlap_tokens=0, tokenizer=tok
    )
    over = SemanticChunker(
        same, breakpoint_rule="size", max_tokens=50, overlap_tokens=14, tokenizer=tok
    )
    a, b = plain.split_text(text), over.split_text(text)
    assert [c.end for c in a] == [c.end for c in b]  # cuts chosen under 50 - 14 = 36
    assert b[0].start == a[0].start
    for prev, c in itertools.pairwise(b):
        carried = text[c.start : prev.end]
        assert carried.endswith(".") and carried[0] == "S"  # whole sentences
        assert len(carried.split(".")) - 1 == 2  # two 6-token sentences fit in 14
        assert c.token_count <= 50
    # the boundary similarity is still the one at the cut
    assert [c.boundary_similarity for c in a] == [c.boundary_similarity for c in b]


def test_zero_overlap_changes_nothing() -> None:
    text = " ".join(f"Sentence number {i} is about {i % 5}." for i in range(50))
    a = SemanticChunker(HashEncoder(), max_tokens=40, tokenizer=RegexTokenizer())
    b = SemanticChunker(HashEncoder(), max_tokens=40, overlap_tokens=0, tokenizer=RegexTokenizer())
    assert a.split_text(text) == b.split_text(text)


@pytest.mark.parametrize("bad", [-1, 40, 41, True, 2.5])
def test_overlap_must_be_below_max_tokens(bad: object) -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        SemanticChunker(HashEncoder(), max_tokens=40, overlap_tokens=bad)  # type: ignore[arg-type]


def test_the_benchmark_spec_takes_overlap_tokens() -> None:
    from manifold_core.chunk_benchmark import build_chunker

    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    spec = "semantic:breakpoint_rule=size,max_tokens=40,overlap_tokens=14"
    spans = build_chunker(spec, HashEncoder(), RegexTokenizer())([text])[0]
    assert len(spans) > 1
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))  # chunks overlap
    assert all(RegexTokenizer().count([text[s:e]])[0] <= 40 for s, e in spans)
