"""Character- and word-level tokenizers: vocabularies, unknown tokens, offsets, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokgeo.errors import InvalidTypeError, TokenIdError
from tokgeo.simple_tokenizers import CharTokenizer, WordTokenizer

BOOK = "The Time Traveller (for so it will be convenient to speak of him) was expounding a recondite matter to us."


def test_char_vocab_and_round_trip() -> None:
    tok = CharTokenizer.from_text(BOOK)
    assert tok.vocab[0] == "<unk>" and tok.vocab[1] == " "  # the most frequent character
    assert set(tok.vocab[1:]) == set(BOOK) and tok.n_vocab == len(set(BOOK)) + 1
    ids = tok.encode(BOOK)
    assert len(ids) == len(BOOK) and tok.decode(ids) == BOOK
    assert tok.encode("Tz") == [tok.ids["T"], 0]
    ids2, off = tok.encode_with_offsets("日本")
    assert ids2.tolist() == [0, 0] and off.tolist() == [[0, 1], [1, 2]]


def test_word_tokens_offsets_unknown() -> None:
    tok = WordTokenizer.from_text(BOOK)
    assert tok.tokens(tok.encode("the Time Machine.")) == ["<unk>", "Time", "<unk>", "."]
    text = "  The  matter, (him)!"
    ids, off = tok.encode_with_offsets(text)
    assert [text[a:b] for a, b in off] == ["The", "matter", ",", "(", "him", ")", "!"]
    assert tok.decode(tok.encode("The matter")) == "The matter"
    low = WordTokenizer.from_text(BOOK, lowercase=True)
    assert low.encode("THE the") == [low.ids["the"]] * 2


def test_max_size_and_min_count() -> None:
    tok = WordTokenizer.from_text("a a a b b c", max_size=3)
    assert tok.vocab == ["<unk>", "a", "b"]
    tok = CharTokenizer.from_text("aaabbc", min_count=2)
    assert tok.vocab == ["<unk>", "a", "b"]


def test_bad_input() -> None:
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(TokenIdError, match="position 1"):
        tok.decode([1, 99])
    with pytest.raises(InvalidTypeError):
        tok.encode(b"abc")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        WordTokenizer.from_text(["a"])  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_offsets_cover_the_text(text: str) -> None:
    ch = CharTokenizer.from_text(text + "x")
    assert ch.decode(ch.encode(text)) == text
    wd = WordTokenizer.from_text(text + " x")
    ids, off = wd.encode_with_offsets(text)
    assert all(wd.vocab[i] == text[a:b] for i, (a, b) in zip(ids.tolist(), off.tolist()))
    assert "".join(text[a:b] for a, b in off.tolist()) == "".join(text.split())
