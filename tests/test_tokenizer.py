"""tokgeo.Tokenizer: API behaviour, special tokens, offsets, batches, files and bad input.

Expected ids come from the reference tokenizers (tiktoken / Hugging Face tokenizers built
offline from the shipped vocabulary, see tokenizer_refs.py), never from tokgeo itself.
"""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import tokgeo
from tokgeo import errors

import tokenizer_refs as refs

TEXTS = [
    "She gave her book away.",
    "Was it her idea or his? I think it's hers.",
    "Tiếng Việt có dấu: người, được, những.",
    "日本語のテキストと中文文本，还有한국어.",
    "😀👍🏽 👨‍👩‍👧 🇫🇷 e\u0301 n\u0303",
    "   indented\n\tcode  \r\n\n",
    "",
    " ",
]


@pytest.fixture(scope="module")
def tok() -> tokgeo.Tokenizer:
    return tokgeo.Tokenizer.gpt2()


@pytest.fixture(scope="module")
def tk():
    return refs.tiktoken_gpt2()


def test_gpt2_basics(tok: tokgeo.Tokenizer, tk) -> None:
    assert tok.n_vocab == 50257 == tk.n_vocab
    assert tok.eot_id == 50256 == tk.eot_token
    assert tok.special_tokens == {"<|endoftext|>": 50256}
    ids = tok.encode("She gave her book away")
    assert ids == tk.encode("She gave her book away")
    assert tok.token_strings(ids) == [tk.decode([i]) for i in ids]
    assert " her" in tok.token_strings(ids)
    assert tok.token_strings(ids, byte_level=True)[2] == "Ġher"
    assert isinstance(tokgeo.Tokenizer.gpt2(), tokgeo.Tokenizer)
    assert "gpt2" in repr(tok)


@pytest.mark.parametrize("text", TEXTS)
def test_encode_decode_matches_tiktoken(tok: tokgeo.Tokenizer, tk, text: str) -> None:
    ids = tok.encode(text)
    assert ids == tk.encode(text)
    assert tok.encode_ordinary(text) == tk.encode_ordinary(text)
    assert tok.decode(ids) == text
    assert tok.decode_bytes(ids) == tk.decode_bytes(ids) == text.encode("utf-8")
    assert tok.token_bytes(ids) == [tk.decode_single_token_bytes(i) for i in ids]


def test_special_tokens_follow_tiktoken(tok: tokgeo.Tokenizer, tk) -> None:
    text = "end<|endoftext|> start <|endoftext|><|endoftext|>"
    with pytest.raises(errors.SpecialTokenError, match="allowed_special"):
        tok.encode(text)
    with pytest.raises(ValueError):  # tiktoken agrees that this is an error
        tk.encode(text)
    for kw in ({"allowed_special": "all"}, {"allowed_special": {"<|endoftext|>"}}, {"disallowed_special": ()},
               {"allowed_special": "all", "disallowed_special": ()}):
        assert tok.encode(text, **kw) == tk.encode(text, **kw), kw
    assert tok.encode(text, allowed_special="all").count(50256) == 3
    assert 50256 not in tok.encode(text, disallowed_special=())
    assert tok.encode_ordinary(text) == tk.encode_ordinary(text)
    assert tok.decode(tok.encode(text, allowed_special="all")) == text
    # the special token's offsets
    ids, off = tok.encode_with_offsets("ab<|endoftext|>c", allowed_special="all")
    assert ids.tolist() == tk.encode("ab<|endoftext|>c", allowed_special="all")
    k = ids.tolist().index(50256)
    assert off[k].tolist() == [2, 15]


def test_special_arguments_are_checked(tok: tokgeo.Tokenizer) -> None:
    with pytest.raises(errors.InvalidTypeError, match="allowed_special"):
        tok.encode("x", allowed_special="<|endoftext|>")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInputError, match="not a special token"):
        tok.encode("x", allowed_special={"<|eot|>"})
    with pytest.raises(errors.InvalidTypeError):
        tok.encode("x", allowed_special=3)  # type: ignore[arg-type]


def _expected_char_spans(text: str, token_bytes: list[bytes]) -> list[tuple[int, int]]:
    """The documented rule, written independently: a token's span runs from the character
    holding its first byte to the character holding its last byte."""
    char_of_byte = []
    for ci, ch in enumerate(text):
        char_of_byte += [ci] * len(ch.encode("utf-8"))
    spans, pos = [], 0
    for b in token_bytes:
        spans.append((char_of_byte[pos], char_of_byte[pos + len(b) - 1] + 1))
        pos += len(b)
    return spans


@pytest.mark.parametrize("text", [t for t in TEXTS if t] + ["日本", "a\U0001F600b\u00e9", "x" * 3])
def test_offsets_are_character_spans(tok: tokgeo.Tokenizer, tk, text: str) -> None:
    ids, off = tok.encode_with_offsets(text)
    assert ids.dtype == np.int64 and off.dtype == np.int64 and off.shape == (len(ids), 2)
    assert ids.tolist() == tk.encode(text)
    tb = [tk.decode_single_token_bytes(i) for i in ids.tolist()]
    assert [tuple(r) for r in off.tolist()] == _expected_char_spans(text, tb)
    for (s, e), b in zip(off.tolist(), tb):
        try:
            piece = b.decode("utf-8")
        except UnicodeDecodeError:
            continue  # part of a character: the span is the whole character
        assert text[s:e] == piece


def test_find_her_and_previous_word(tok: tokgeo.Tokenizer) -> None:
    text = "Yesterday Marie gave her brother a book."
    ids, off = tok.encode_with_offsets(text)
    k = tok.token_strings(ids).index(" her")
    assert text[off[k, 0]:off[k, 1]] == " her"
    assert text[off[k - 1, 0]:off[k - 1, 1]] == " gave"


def test_split_character_gets_whole_span(tok: tokgeo.Tokenizer, tk) -> None:
    text = "a\u9fa5"  # a rare CJK character that GPT-2 splits into several byte tokens
    ids, off = tok.encode_with_offsets(text)
    assert ids.tolist() == tk.encode(text)
    assert len(ids) > 2
    assert off.tolist()[0] == [0, 1]
    assert all(r == [1, 2] for r in off.tolist()[1:])
    assert tok.decode(ids[1:2]) == "\ufffd"  # an incomplete character decodes to U+FFFD
    assert tok.decode(ids[1:2]) == tk.decode(ids[1:2].tolist())


def test_batch_right_and_left_padding(tok: tokgeo.Tokenizer, tk) -> None:
    texts = ["hello world", "She gave her book away", "", "日本語"]
    for side in ("right", "left"):
        b = tok.encode_batch(texts, padding_side=side)
        assert isinstance(b, tokgeo.Batch) and len(b) == 4 and b.padding_side == side
        want = [tk.encode(t) for t in texts]
        T = max(len(w) for w in want)
        assert b.ids.shape == (4, T) and b.ids.dtype == np.int64
        assert b.mask.dtype == np.bool_ and b.lengths.dtype == np.int64
        assert b.offsets.shape == (4, T, 2)
        assert b.lengths.tolist() == [len(w) for w in want]
        for i, w in enumerate(want):
            row = [50256] * (T - len(w))
            row = row + w if side == "left" else w + row
            assert b.ids[i].tolist() == row
            assert b.mask[i].sum() == len(w)
            assert b.token_ids(i).tolist() == w
            _, off = tok.encode_with_offsets(texts[i])
            assert np.array_equal(b.token_offsets(i), off)
            assert (b.offsets[i][~b.mask[i]] == -1).all()
    b = tok.encode_batch(texts, pad_id=0)
    assert b.ids[2].tolist() == [0] * b.ids.shape[1]
    empty = tok.encode_batch([])
    assert empty.ids.shape == (0, 0) and len(empty) == 0


def test_batch_threads_agree(tok: tokgeo.Tokenizer) -> None:
    # > 64 KB in total: batches smaller than that run on one thread
    texts = [f"sentence {i}: {'her ' * (i % 7)}é{i} 日本 {'x' * (i % 50)}" for i in range(3000)]
    assert sum(len(t.encode()) for t in texts) > 100_000
    before = tokgeo.get_num_threads()
    try:
        tokgeo.set_num_threads(1)
        one = tok.encode_batch(texts)
        tokgeo.set_num_threads(2)
        two = tok.encode_batch(texts)
    finally:
        tokgeo.set_num_threads(before)
    assert np.array_equal(one.ids, two.ids) and np.array_equal(one.offsets, two.offsets)
    assert [one.token_ids(i).tolist() for i in range(len(texts))] == [tok.encode(t) for t in texts]


def test_batch_errors_name_the_text(tok: tokgeo.Tokenizer) -> None:
    with pytest.raises(errors.SpecialTokenError, match="text 2"):
        tok.encode_batch(["a", "b", "c<|endoftext|>"])
    with pytest.raises(errors.TextEncodingError, match=r"text 1: lone surrogate U\+D800 at character 1"):
        tok.encode_batch(["a", "b\ud800"])
    with pytest.raises(errors.InvalidTypeError, match=r"texts\[1\]"):
        tok.encode_batch(["a", 3])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidTypeError):
        tok.encode_batch("a single string")
    with pytest.raises(errors.InvalidInputError):
        tok.encode_batch(["a"], padding_side="middle")  # type: ignore[arg-type]
    b = tok.encode_batch(["a<|endoftext|>"], allowed_special="all")
    assert b.token_ids(0).tolist() == [64, 50256]


def test_python_threads_share_one_tokenizer(tok: tokgeo.Tokenizer, tk) -> None:
    texts = [f"thread text {i} with her words and {i * 7919} numbers ünïcödé" * (1 + i % 5) for i in range(400)]
    want = [tk.encode(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as ex:
        got = list(ex.map(tok.encode, texts))
    assert got == want


def test_bad_input_types_and_ids(tok: tokgeo.Tokenizer) -> None:
    with pytest.raises(errors.InvalidTypeError):
        tok.encode(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidTypeError):
        tok.encode(None)  # type: ignore[arg-type]
    with pytest.raises(errors.TextEncodingError, match="surrogate"):
        tok.encode("ok \udc80 not ok")
    with pytest.raises(errors.TextEncodingError):
        tok.encode_with_offsets("\ud83d")
    for bad in ([-1], [50257], [0, 2**63 - 1], [2**70]):
        with pytest.raises(errors.TokenIdError):
            tok.decode(bad)
    with pytest.raises(errors.TokenIdError, match="position 1"):
        tok.decode_bytes([0, 99999])
    with pytest.raises(errors.TokenIdError):
        tok.token_strings([50300])
    with pytest.raises(errors.InvalidTypeError):
        tok.decode([1.0])  # type: ignore[list-item]
    with pytest.raises(errors.InvalidTypeError):
        tok.decode("abc")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidTypeError):
        tok.decode(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(errors.InvalidTypeError):
        tok.decode(np.zeros(3, dtype=np.float32))
    # accepted id containers
    assert tok.decode(np.array([3347, 2921], dtype=np.int32)) == "She gave"
    assert tok.decode((3347, 2921)) == "She gave"
    assert tok.decode([np.int64(3347), np.uint16(2921)]) == "She gave"
    assert tok.decode(iter([3347])) == "She"
    assert tok.decode([]) == ""
    with pytest.raises(UnicodeDecodeError):
        tok.decode([10310], errors="strict")


# ---------------------------------------------------------------- files


def _gpt2_dir() -> Path:
    return refs.data_dir()


def test_from_files_and_from_pretrained_folder(tmp_path: Path, tok: tokgeo.Tokenizer) -> None:
    d = _gpt2_dir()
    shutil.copy(d / "encoder.json", tmp_path / "vocab.json")
    shutil.copy(d / "vocab.bpe", tmp_path / "merges.txt")
    t1 = tokgeo.Tokenizer.from_files(d / "encoder.json", d / "vocab.bpe")
    t2 = tokgeo.Tokenizer.from_pretrained(tmp_path)
    t3 = tokgeo.Tokenizer.from_pretrained(str(d))  # encoder.json + vocab.bpe names
    text = "Loaded from files: her book, 日本, 123."
    assert t1.encode(text) == t2.encode(text) == t3.encode(text) == tok.encode(text)
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.TokgeoIOError, match="vocab.json"):
        tokgeo.Tokenizer.from_pretrained(tmp_path / "empty")
    with pytest.raises(errors.TokgeoIOError):
        tokgeo.Tokenizer.from_files(tmp_path / "missing.json", tmp_path / "merges.txt")
    with pytest.raises(errors.InvalidTypeError):
        tokgeo.Tokenizer.from_files(1, 2)  # type: ignore[arg-type]


def _byte_level(bs: bytes) -> str:
    m = refs.byte_to_unicode()
    return "".join(m[b] for b in bs)


def _small_vocab(tmp_path: Path, merges: list[tuple[bytes, bytes]], extra: dict[str, int] | None = None):
    vocab = {_byte_level(bytes([b])): b for b in range(256)}
    lines = ["#version: 0.2"]
    for a, b in merges:
        vocab.setdefault(_byte_level(a + b), len(vocab))
        lines.append(f"{_byte_level(a)} {_byte_level(b)}")
    vocab.update(extra or {})
    vp, mp = tmp_path / "vocab.json", tmp_path / "merges.txt"
    vp.write_text(json.dumps(vocab), encoding="utf-8")
    mp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vp, mp, vocab


def test_small_custom_vocabulary_matches_references(tmp_path: Path) -> None:
    import tiktoken
    from tokenizers import Tokenizer as HFTokenizer, models, pre_tokenizers

    merges = [(b"h", b"e"), (b" ", b"t"), (b" t", b"he"), (b"l", b"l"), (b"he", b"ll"), (b"hell", b"o"), (b"a", b"a"),
              (b"aa", b"aa"), (b"\xc3", b"\xa9")]
    vp, mp, vocab = _small_vocab(tmp_path, merges, {"<|endoftext|>": 400, "<|pad|>": 401})
    ours = tokgeo.Tokenizer.from_files(vp, mp)
    assert ours.n_vocab == 402 and ours.eot_id == 400
    assert ours.special_tokens == {"<|endoftext|>": 400, "<|pad|>": 401}
    u2b = {c: b for b, c in refs.byte_to_unicode().items()}
    specials = {"<|endoftext|>": 400, "<|pad|>": 401}
    ranks = {bytes(u2b[c] for c in k): v for k, v in vocab.items() if k not in specials}
    tk = tiktoken.Encoding("small", pat_str=refs.GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=specials)
    hf = HFTokenizer(models.BPE.from_file(str(vp), str(mp)))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    for text in ["hello the aaaaaaa é", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b", " the hell"]:
        assert ours.encode(text) == tk.encode(text) == hf.encode(text).ids, text
    # two special tokens: each one's mode is independent, as in tiktoken
    text = "he<|pad|>llo<|endoftext|> the<|pad|>"
    for kw in ({"allowed_special": "all"}, {"allowed_special": {"<|pad|>"}, "disallowed_special": ()},
               {"allowed_special": {"<|endoftext|>"}, "disallowed_special": ()}, {"disallowed_special": ()}):
        assert ours.encode(text, **kw) == tk.encode(text, **kw), kw
    for kw in ({}, {"allowed_special": {"<|pad|>"}}, {"allowed_special": {"<|endoftext|>"}}):
        with pytest.raises(errors.SpecialTokenError):
            ours.encode(text, **kw)
        with pytest.raises(ValueError):
            tk.encode(text, **kw)


@pytest.mark.parametrize(
    ("vocab_text", "match"),
    [
        ("{", r"vocab\.json: invalid JSON at byte 1"),
        ("[1, 2]", "JSON object"),
        ('{"a": 1}', "at least the 256"),
    ],
)
def test_malformed_vocab_json(tmp_path: Path, vocab_text: str, match: str) -> None:
    _, mp, _ = _small_vocab(tmp_path, [])
    (tmp_path / "vocab.json").write_text(vocab_text)
    with pytest.raises(errors.FormatError, match=match):
        tokgeo.Tokenizer.from_files(tmp_path / "vocab.json", mp)


def test_malformed_vocab_entries(tmp_path: Path) -> None:
    vp, mp, vocab = _small_vocab(tmp_path, [])
    cases = [
        ({**vocab, "x1": "7"}, "must be an integer"),
        ({**vocab, "x1": -1}, "must be an integer"),
        ({**vocab, "x1": 2**30}, "must be an integer"),
        ({**vocab, "x1": 5}, "reuses id 5"),
        ({**vocab, "a\u4e00": 300}, "U\\+4E00.*byte-level alphabet"),
        ({k: v for k, v in vocab.items() if v != 65} | {"zz": 65}, "no token for the byte 0x41"),
        ({**vocab, "": 300}, "empty string"),
    ]
    for bad, match in cases:
        vp.write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(errors.FormatError, match=match):
            tokgeo.Tokenizer.from_files(vp, mp)
    vp.write_text('{"a": 1, "a": 2}' , encoding="utf-8")
    with pytest.raises(errors.FormatError):
        tokgeo.Tokenizer.from_files(vp, mp)


@pytest.mark.parametrize(
    ("merges_text", "match"),
    [
        ("#version: 0.2\nh e\nh  e\n", r"merges\.txt line 3: expected two tokens"),
        ("h e\nabc\n", "line 2: expected two tokens"),
        ("h e x\n", "line 1: expected two tokens"),
        ("h e\n\nl l\n", "line 2: blank line"),
        ("h q\n", "line 1: the merged token"),
        ("h \u4e00\n", "line 1: character U\\+4E00"),
        ("h e\nh e\n", "line 2: this merge appeared"),
        ("hh e\n", 'line 1: token "hh" is not in the vocabulary'),
    ],
)
def test_malformed_merges(tmp_path: Path, merges_text: str, match: str) -> None:
    vp, mp, _ = _small_vocab(tmp_path, [(b"h", b"e"), (b"l", b"l")])
    mp.write_text(merges_text, encoding="utf-8")
    with pytest.raises(errors.FormatError, match=match):
        tokgeo.Tokenizer.from_files(vp, mp)


def test_merges_file_variants_accepted(tmp_path: Path) -> None:
    vp, mp, _ = _small_vocab(tmp_path, [(b"h", b"e"), (b"l", b"l")])
    for text in ("h e\nl l", "h e\r\nl l\r\n\r\n\n", "#version: 0.2\r\nh e\nl l\n", ""):
        mp.write_text(text, encoding="utf-8", newline="")
        t = tokgeo.Tokenizer.from_files(vp, mp)
        assert t.decode(t.encode("hello")) == "hello"
    mp.write_bytes(b"h e\n\xff\xfe\n")
    with pytest.raises(errors.FormatError, match="invalid UTF-8"):
        tokgeo.Tokenizer.from_files(vp, mp)


def test_loading_in_threads(tmp_path: Path) -> None:
    d = _gpt2_dir()
    results: list[list[int]] = []
    lock = threading.Lock()

    def load() -> None:
        t = tokgeo.Tokenizer.from_files(d / "encoder.json", d / "vocab.bpe")
        with lock:
            results.append(t.encode("threads load too"))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 3 and all(r == results[0] for r in results)


def _interrupt_after(seconds: float):
    import signal

    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return lambda: (signal.setitimer(signal.ITIMER_REAL, 0), signal.signal(signal.SIGALRM, old))


@pytest.mark.skipif(not hasattr(__import__("signal"), "setitimer"), reason="needs setitimer")
def test_ctrl_c_stops_a_long_encode(tok: tokgeo.Tokenizer) -> None:
    text = "words and more words, " * 2_000_000  # 44 MB: far longer than the 50 ms timer
    restore = _interrupt_after(0.05)
    try:
        with pytest.raises(KeyboardInterrupt):
            tok.encode(text)
    finally:
        restore()
    restore = _interrupt_after(0.05)
    try:
        with pytest.raises(KeyboardInterrupt):
            tok.encode_batch([text[:20000]] * 3000)
    finally:
        restore()
    # the tokenizer still works afterwards
    assert tok.encode("She gave her book away") == [3347, 2921, 607, 1492, 1497]


def test_docstring_examples_run() -> None:
    import doctest

    import tokgeo.tokenizer as mod

    result = doctest.testmod(mod, extraglobs={"Tokenizer": mod.Tokenizer})
    assert result.attempted >= 5 and result.failed == 0
