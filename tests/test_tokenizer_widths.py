"""The encoder's fast paths, checked against tiktoken (built offline, tokenizer_refs.py).

1. Python stores a str as Latin-1, UCS-2 or UCS-4 code units; tokgeo converts them to UTF-8
   itself (bpe.c, text_utf8), copying 16 ASCII units at a time and encoding the others one
   by one, and then skips the UTF-8 check.  The texts below put every kind of character
   before, inside and after a 16-unit ASCII block, in each of the three widths, and a
   lone surrogate at chosen positions.
2. encode_batch runs on threads made per call (bpe.c, team_run) that take texts from a
   shared counter: the batch must equal one encode per text at 1 and 2 threads, and a
   failing text must be reported by its index (the lowest one when several fail).
"""

from __future__ import annotations

import pytest

import tokgeo
from tokgeo import errors

import tokenizer_refs as refs

# one character of each UTF-8 length and each str width that can hold it
WIDE = {
    "latin1": ["é", "ÿ", "\u00a0", "\u0085"],  # 2-byte UTF-8, Latin-1 str
    "ucs2": ["é", "Ж", "中", "\u3000", "\uffef"],  # 2- and 3-byte UTF-8, UCS-2 str
    "ucs4": ["é", "中", "😀", "\U0010ffff", "\U00010000"],  # up to 4-byte UTF-8, UCS-4 str
}


def _kind(s: str) -> str:
    m = max(map(ord, s))
    return "latin1" if m < 0x100 else "ucs2" if m < 0x10000 else "ucs4"


def _texts(width: str) -> list[str]:
    out = []
    for ch in WIDE[width]:
        for pre in (0, 1, 15, 16, 17, 31, 32, 33):
            for post in (0, 1, 15, 16, 17):
                ascii_a = ("the cat sat on " * 4)[:pre]
                ascii_b = (" 12 mats, ok" * 3)[:post]
                out.append(ascii_a + ch + ascii_b)
                out.append(ch * 3 + ascii_a + ch + ascii_b + ch)
    # the width must be the one the string was meant to have (the widest character decides)
    return [t for t in out if _kind(t) == width]


@pytest.mark.parametrize("width", sorted(WIDE))
def test_each_str_width_encodes_like_tiktoken(width: str) -> None:
    tok = tokgeo.Tokenizer.gpt2()
    tk = refs.tiktoken_gpt2()
    texts = _texts(width)
    assert len(texts) > 50
    for t in texts:
        assert tok.encode_ordinary(t) == tk.encode_ordinary(t), repr(t)
    # one long text of this width: many 16-unit blocks, with and without wide characters
    long = "".join(texts)
    assert _kind(long) == width
    assert tok.encode_ordinary(long) == tk.encode_ordinary(long)
    # offsets in characters still match the text (the conversion changed nothing else)
    ids, offs = tok.encode_with_offsets(long)
    assert tok.decode(ids.tolist()) == long
    assert offs[-1, 1] == len(long)


@pytest.mark.parametrize("width", ["ucs2", "ucs4"])
@pytest.mark.parametrize("at", [0, 5, 16, 17, 40])
def test_lone_surrogate_is_reported_at_its_index(width: str, at: int) -> None:
    tok = tokgeo.Tokenizer.gpt2()
    wide = "中" if width == "ucs2" else "😀"
    text = list(("abc " * 12) + wide)
    text.insert(at, "\udc80")
    s = "".join(text)
    with pytest.raises(errors.TextEncodingError, match=rf"U\+DC80 at (character|index) {at}\b"):
        tok.encode_ordinary(s)


@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_batch_equals_one_encode_per_text(threads: int) -> None:
    tok = tokgeo.Tokenizer.gpt2()
    tk = refs.tiktoken_gpt2()
    base = ["She gave her book to him. ", "中华人民共和国成立于1949年。", "😀 👍🏽 naïve café ", "x = [1, 2, 3]\n"]
    # more than 64 KiB in all, so the batch really runs on `threads` threads
    docs = [(base[i % 4] * (1 + i % 37)) + str(i) for i in range(1200)]
    assert sum(map(len, docs)) > 65536
    before = tokgeo.get_num_threads()
    try:
        tokgeo.set_num_threads(threads)
        b = tok.encode_batch(docs)
    finally:
        tokgeo.set_num_threads(before)
    assert b.ids.shape[0] == len(docs)
    for i, d in enumerate(docs):
        assert b.token_ids(i).tolist() == tk.encode_ordinary(d), i
    assert b.mask.sum() == b.lengths.sum()


@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_batch_reports_the_lowest_failing_text(threads: int) -> None:
    tok = tokgeo.Tokenizer.gpt2()
    docs = ["plain English text, long enough. " * 4 for _ in range(1000)]
    docs[700] = "bad \udc80 here"
    docs[950] = "also bad \ud800"
    before = tokgeo.get_num_threads()
    try:
        tokgeo.set_num_threads(threads)
        with pytest.raises(errors.TextEncodingError, match=r"text 700: lone surrogate U\+DC80"):
            tok.encode_batch(docs)
        # the tokenizer still works after the failed batch
        assert tok.encode_batch(docs[:3]).ids.shape[0] == 3
    finally:
        tokgeo.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_failing_text_never_turns_into_an_interrupt(threads: int) -> None:
    """A thread still inside a long text when another fails must finish it (texts before the
    failure are needed to find the lowest one), not stop as if Ctrl-C had been pressed.

    Chunks of 4 texts go to the threads in order: one thread takes texts 0-3 (a 900 KB text
    0, then bad text 1), the other 4-7 and fails on text 6 at once.  Before the fix the
    first thread saw the stop flag inside text 0 and the batch raised KeyboardInterrupt, or
    reported text 6."""
    tok = tokgeo.Tokenizer.gpt2()
    long_text = "many words in a long text, " * 33_000  # ~900 KB: ~200k pre-tokens
    docs = [long_text, "bad \udc80 one", "fine", "fine"] + ["fine", "fine", "bad \ud800 two", "fine"] * 3
    before = tokgeo.get_num_threads()
    try:
        tokgeo.set_num_threads(threads)
        for _ in range(5):
            with pytest.raises(errors.TextEncodingError, match=r"text 1: lone surrogate U\+DC80"):
                tok.encode_batch(docs)
    finally:
        tokgeo.set_num_threads(before)
