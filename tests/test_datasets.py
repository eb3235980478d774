"""The built-in data set and the target search (against tiktoken's GPT-2 encoding)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

import tokgeo
from tokgeo import datasets, errors

from conftest import require_all
from tokenizer_refs import TiktokenWithOffsets, tiktoken_gpt2

HER = 607  # " her" in GPT-2's vocabulary


@pytest.fixture(scope="module")
def tik() -> TiktokenWithOffsets:
    return TiktokenWithOffsets()


def test_her_token_is_607() -> None:
    assert tiktoken_gpt2().encode(" her") == [HER]


def test_her_sentences_properties() -> None:
    s = datasets.her_sentences()
    assert len(s) == 54 and len(set(s)) == 54
    assert all(isinstance(x, str) and x == x.strip() for x in s)
    s.append("changed")  # a copy: the built-in data cannot be modified by accident
    assert len(datasets.her_sentences()) == 54
    enc = tiktoken_gpt2()
    lengths = []
    for text in datasets.her_sentences():
        ids = enc.encode(text)
        lengths.append(len(ids))
        assert ids.count(HER) == 1, text
        assert len(re.findall(r"(?<!\w)her(?!\w)", text, flags=re.IGNORECASE)) == 1, text
        j = ids.index(HER)
        assert j > 0, text
        before = enc.decode([ids[j - 1]]).strip()
        assert before.isalpha(), (text, before)
    assert min(lengths) >= 5 and max(lengths) <= 10
    assert len(set(lengths)) >= 4  # varied, so a batch needs padding


def test_her_sentences_with_tokgeo_tokenizer() -> None:
    if not hasattr(tokgeo, "Tokenizer"):
        if require_all():
            pytest.fail("tokgeo.Tokenizer is missing")
        pytest.skip("tokgeo.Tokenizer not merged yet")
    tok = tokgeo.Tokenizer.gpt2()
    enc = tiktoken_gpt2()
    for text in datasets.her_sentences():
        assert list(tok.encode(text)) == enc.encode(text)
    ts = datasets.find_targets(datasets.her_sentences())  # default tokenizer: tokgeo's
    ref = datasets.find_targets(datasets.her_sentences(), tokenizer=TiktokenWithOffsets())
    np.testing.assert_array_equal(ts.positions, ref.positions)
    np.testing.assert_array_equal(ts.previous_positions, ref.previous_positions)
    assert ts.previous_words == ref.previous_words


def test_find_targets_on_her_sentences(tik: TiktokenWithOffsets) -> None:
    sents = datasets.her_sentences()
    ts = datasets.find_targets(sents, " her", tokenizer=tik)
    assert len(ts) == 54 and ts.dropped == ()
    np.testing.assert_array_equal(ts.indices, np.arange(54))
    enc = tiktoken_gpt2()
    for k, text in enumerate(sents):
        ids = enc.encode(text)
        assert list(ts.token_ids[k]) == ids
        assert ts.positions[k] == ids.index(HER)
        assert ts.target_ids[k] == HER
        # the non-target is the word right before " her" (single tokens in this data set)
        assert ts.previous_positions[k] == ids.index(HER) - 1
        word_before = re.findall(r"\w+", text[: text.index(" her")])[-1]
        assert ts.previous_words[k] == word_before
    assert np.array_equal(ts.lengths, [len(enc.encode(t)) for t in sents])
    # "her" and " her" name the same word; a token id works too
    ts2 = datasets.find_targets(sents, "her", tokenizer=tik)
    np.testing.assert_array_equal(ts2.positions, ts.positions)
    ts3 = datasets.find_targets(sents, HER, tokenizer=tik)
    np.testing.assert_array_equal(ts3.positions, ts.positions)
    joined = "".join(t + "\n" for t in sents).encode()
    assert ts.sha256 == hashlib.sha256(joined).hexdigest()


def test_previous_word_skips_punctuation_and_multitoken_words(tik: TiktokenWithOffsets) -> None:
    text = "Unbelievably, her plan worked."
    ts = datasets.find_targets([text], "her", tokenizer=tik)
    ids = tiktoken_gpt2().encode(text)
    comma = ids.index(tiktoken_gpt2().encode(",")[0])
    assert ts.positions[0] == comma + 1
    # the last token of "Unbelievably", not the comma
    assert ts.previous_positions[0] == comma - 1
    assert ts.previous_words == ("Unbelievably",)


def test_problems_are_listed_by_index_and_text(tik: TiktokenWithOffsets) -> None:
    enc = tiktoken_gpt2()
    long_word = "Zyxwvutsrq"
    assert len(enc.encode(" " + long_word)) > 1
    sents = [
        "I gave her the keys.",  # fine
        "I gave him the keys.",  # missing
        "She told her that her plan worked.",  # repeated
        "her keys are here.",  # no word before
        "Others gathered there.",  # only substrings of "her": missing
    ]
    with pytest.raises(errors.TargetNotFoundError) as info:
        datasets.find_targets(sents, " her", tokenizer=tik)
    msg = str(info.value)
    assert "4 of 5 sentences" in msg
    for i in (1, 2, 3, 4):
        assert f"[{i}] {sents[i]!r}" in msg
    assert "strict=False" in msg
    reasons = {p.index: p.reason for p in info.value.problems}  # type: ignore[attr-defined]
    assert reasons == {1: "missing", 2: "repeated", 3: "no previous word", 4: "missing"}
    assert isinstance(info.value, LookupError)

    with pytest.raises(errors.TargetNotFoundError, match="split"):
        datasets.find_targets([f"We met {long_word} today."], long_word, tokenizer=tik)

    with pytest.warns(UserWarning, match="dropped 4 of 5"):
        ts = datasets.find_targets(sents, " her", tokenizer=tik, strict=False)
    assert ts.sentences == (sents[0],)
    np.testing.assert_array_equal(ts.indices, [0])
    assert [p.index for p in ts.dropped] == [1, 2, 3, 4]

    with pytest.raises(errors.TargetNotFoundError, match="No sentence is usable"):
        datasets.find_targets(sents[1:2], " her", tokenizer=tik, strict=False)


def test_case_insensitive(tik: TiktokenWithOffsets) -> None:
    sents = ["Yes, Her Majesty arrived.", "I saw her."]
    with pytest.raises(errors.TargetNotFoundError):
        datasets.find_targets(sents, "her", tokenizer=tik)
    ts = datasets.find_targets(sents, "her", tokenizer=tik, case_sensitive=False)
    enc = tiktoken_gpt2()
    assert list(ts.target_ids) == [enc.encode(" Her")[0], HER]


def test_bad_arguments(tik: TiktokenWithOffsets) -> None:
    with pytest.raises(errors.InvalidTypeError, match="one string"):
        datasets.find_targets("I saw her.", tokenizer=tik)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInputError, match="empty"):
        datasets.find_targets([], tokenizer=tik)
    with pytest.raises(errors.InvalidTypeError, match=r"sentence \[1\]"):
        datasets.find_targets(["I saw her.", [1, 2]], tokenizer=tik)  # type: ignore[list-item]
    with pytest.raises(errors.InvalidInputError, match="empty"):
        datasets.find_targets(["I saw her."], "  ", tokenizer=tik)
    with pytest.raises(errors.InvalidInputError, match="one word"):
        datasets.find_targets(["I saw her."], "saw her", tokenizer=tik)
    with pytest.raises(errors.InvalidTypeError):
        datasets.find_targets(["I saw her."], 1.5, tokenizer=tik)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInputError, match="negative"):
        datasets.find_targets(["I saw her."], -3, tokenizer=tik)


def test_non_ascii_sentences_with_tokgeo_tokenizer() -> None:
    if not hasattr(tokgeo, "Tokenizer"):
        pytest.skip("tokgeo.Tokenizer not merged yet")
    sents = ["Zoë gave her café keys back.", "Élodie, her sister, smiled 😊.", "日本 visited her."]
    ts = datasets.find_targets(sents, " her", tokgeo.Tokenizer.gpt2())
    enc = tiktoken_gpt2()
    for k, text in enumerate(sents):
        ids = enc.encode(text)
        assert ts.positions[k] == ids.index(HER)
    assert ts.previous_words == ("gave", "Élodie", "visited")
    # the previous word's last token: the token holding its last character
    ids = enc.encode(sents[1])
    assert ts.previous_positions[1] == ids.index(enc.encode(",")[0]) - 1  # the token before the comma
    assert "Élodie".endswith(enc.decode([ids[ts.previous_positions[1]]]))
