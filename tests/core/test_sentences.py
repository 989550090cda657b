"""Sentence segmentation: spans into the original text, Chinese, Latin and mixed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.sentences import split_sentences


def texts(text: str, **kwargs: object) -> list[str]:
    return [s.text(text) for s in split_sentences(text, **kwargs)]  # type: ignore[arg-type]


def test_chinese_terminators_and_closing_quotes_stay_with_their_sentence() -> None:
    text = "他说：“今天下雨。”我们走吧！真的吗？好；再见……然后呢"
    assert texts(text) == [
        "他说：“今天下雨。”",
        "我们走吧！",
        "真的吗？",
        "好；",
        "再见……",
        "然后呢",
    ]


def test_english_keeps_decimals_abbreviations_and_initials() -> None:
    text = "Pi is 3.14 here. See e.g. Dr. Smith et al. for more. J. K. Rowling wrote it! Why? Fine."
    assert texts(text) == [
        "Pi is 3.14 here.",
        "See e.g. Dr. Smith et al. for more.",
        "J. K. Rowling wrote it!",
        "Why?",
        "Fine.",
    ]


def test_urls_and_version_numbers_are_not_boundaries() -> None:
    assert texts("Visit example.com today. Use v2.1.3 now.") == [
        "Visit example.com today.",
        "Use v2.1.3 now.",
    ]


def test_newlines_and_blank_lines_are_boundaries() -> None:
    text = "# Title\n\nFirst line without stop\nSecond line. Third.\n\n\n  Indented last  "
    assert texts(text) == [
        "# Title",
        "First line without stop",
        "Second line.",
        "Third.",
        "Indented last",
    ]


WRAPPED = (
    "Tide pools form where the sea retreats from a rocky shore at low tide and\n"
    "leaves water trapped in hollows of the rock. Step only on bare rock and put every\n"
    "stone back as you found it.\n"
)


def test_a_hard_wrapped_paragraph_is_read_as_sentences_not_lines() -> None:
    assert texts(WRAPPED) == [
        "Tide pools form where the sea retreats from a rocky shore at low tide and\n"
        "leaves water trapped in hollows of the rock.",
        "Step only on bare rock and put every\nstone back as you found it.",
    ]
    # the same with Windows line ends, and inside a Markdown list item
    assert len(texts(WRAPPED.replace("\n", "\r\n"))) == 2
    item = "- " + WRAPPED.replace("\n", "\n  ", 2)
    assert len(texts(item)) == 2


@pytest.mark.parametrize(
    "following",
    [
        "# Heading",
        "## Heading",
        "- a list item",
        "* a list item",
        "+ a list item",
        "1. a numbered item",
        "12) a numbered item",
        "> a quotation",
        "| a | table |",
        "```python",
        "    indented code",
        "\tindented code",
        "后面一行中文",
    ],
)
def test_a_line_break_before_a_new_block_stays_a_boundary(following: str) -> None:
    line = "A long first line that has no full stop and goes on past forty characters"
    assert texts(f"{line}\n{following}") == [line, following.strip()]


@pytest.mark.parametrize(
    "text",
    [
        "A short title\nThe body starts here and it is a long line of ordinary prose.",
        "# A long heading that is well over forty characters long\nBody text.",
        "这是一行很长的中文文字，没有句号结尾但是超过了四十个字符的长度要求所以很长很长很长\nNext",
        "A long line ending with two spaces, a Markdown hard line break  \nNext line",
    ],
)
def test_titles_headings_chinese_and_hard_breaks_keep_their_line_break(text: str) -> None:
    assert texts(text) == [line.strip() for line in text.splitlines()]


def test_mixed_chinese_and_english() -> None:
    text = "这是中文。This is English. 再来一句。It ends.中文结尾"
    assert texts(text) == ["这是中文。", "This is English.", "再来一句。", "It ends.", "中文结尾"]


def test_spans_point_into_the_original_text() -> None:
    text = "  One.   Two!\n\n三。  "
    spans = split_sentences(text)
    assert [(s.start, s.end) for s in spans] == [(2, 6), (9, 13), (15, 17)]


def test_custom_regex_marks_sentence_ends() -> None:
    assert texts("a|b|c", splitter=r"\|") == ["a|", "b|", "c"]
    assert texts("a|b", splitter=re.compile(r"\|")) == ["a|", "b"]


def test_custom_callable_may_return_strings_or_spans() -> None:
    text = "alpha beta gamma"
    assert texts(text, splitter=str.split) == ["alpha", "beta", "gamma"]
    assert texts(text, splitter=lambda t: [(0, 10), (10, 16)]) == ["alpha beta", "gamma"]


def test_custom_callable_that_rewrites_text_is_rejected() -> None:
    with pytest.raises(ValueError, match="not in the text"):
        split_sentences("alpha beta", splitter=lambda t: ["ALPHA"])
    with pytest.raises(ValueError, match="span"):
        split_sentences("alpha", splitter=lambda t: [(3, 99)])


@pytest.mark.parametrize("bad", [None, 3, b"bytes"])
def test_non_str_text_raises_type_error_naming_the_type(bad: object) -> None:
    with pytest.raises(TypeError, match=type(bad).__name__):
        split_sentences(bad)  # type: ignore[arg-type]


MIXED = st.text(
    alphabet=st.sampled_from(list("abc XYZ 3.1 中文字句。！？；…,，.!?\n\t”」e.g")),
    max_size=200,
)


@given(MIXED)
@settings(max_examples=300, deadline=None)
def test_spans_are_ordered_trimmed_and_cover_every_visible_character(text: str) -> None:
    spans = split_sentences(text)
    covered = set()
    last = 0
    for s in spans:
        assert last <= s.start < s.end <= len(text)
        piece = text[s.start : s.end]
        assert piece == piece.strip() and piece
        covered.update(range(s.start, s.end))
        last = s.end
    visible = {i for i, c in enumerate(text) if not c.isspace()}
    assert visible <= covered
