"""LexicalTokenizer's stemming and stop words (PyStemmer), saved with the index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_core.lexical import (
    DEFAULT_LANGUAGE,
    ENGLISH_STOPWORDS,
    LexicalIndex,
    LexicalTokenizer,
    default_tokenize,
)

HAN = re.compile(r"^[\u4e00-\u9fff]+$")


def test_english_stemming_matches_inflections() -> None:
    tok = LexicalTokenizer(language="english")
    assert tok("Tyres running") == tok("tyre runs") == ["tyre", "run"]
    assert tok("大熊猫 tyres") == ["大熊", "熊猫", "大熊猫", "tyre"]
    assert LexicalTokenizer()("Tyres") == ["tyres"]  # no language: no stemming, as before
    assert DEFAULT_LANGUAGE == "english"


def test_stop_words_by_language_and_by_list() -> None:
    tok = LexicalTokenizer("language", language="english")
    assert tok.stopwords == ENGLISH_STOPWORDS and tok("the car is running") == ["car", "run"]
    assert LexicalTokenizer(["THE"])("The car") == ["car"]
    with pytest.raises(ValueError, match="no stemmer for language 'klingon'"):
        LexicalTokenizer(language="klingon")
    with pytest.raises(ValueError, match="no stop-word list"):
        LexicalTokenizer("language", language="german")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc XYZ ing s 熊猫竹子吃.")), max_size=40))
def test_stemming_changes_words_only_never_their_number_or_han(text: str) -> None:
    plain = default_tokenize(text)
    stemmed = LexicalTokenizer(language="english")(text)
    assert len(stemmed) == len(plain)
    for a, b in zip(plain, stemmed, strict=True):
        if HAN.match(a):
            assert a == b


def test_the_stemmer_is_saved_and_restored_with_the_index(tmp_path: Path) -> None:
    index = LexicalIndex(tokenizer=LexicalTokenizer(language="english"))
    index.add(["a", "b"], ["Wind and tyre noise", "Bake the loaf"])
    index.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert loaded.tokenizer == LexicalTokenizer(language="english")
    assert [i for i, _ in loaded.search("tyres", 5)] == ["a"]
    tok = LexicalTokenizer(["x"], language="english")
    assert LexicalTokenizer.from_config(tok.config()) == tok
    # A config written before stemming existed has no language: it stays unstemmed.
    assert (
        LexicalTokenizer.from_config({"kind": "manifold.default", "stopwords": []}).language is None
    )
