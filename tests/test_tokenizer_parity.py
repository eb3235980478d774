"""Token-for-token parity of tokgeo's GPT-2 tokenizer with tiktoken and Hugging Face.

Both references are built offline from the shipped vocabulary (tokenizer_refs.py).  The
only difference between the two references we know of is explained in
``test_references_differ_only_on_special_tokens``: Hugging Face always turns
"<|endoftext|>" in the text into the special token (it is an added token), tiktoken's
``encode_ordinary`` never does.  tokgeo follows tiktoken's rules, and equals Hugging Face
with ``allowed_special="all"``.

Unicode: tiktoken (Rust regex crate) and Hugging Face (Oniguruma) both classify code
points as Unicode 16.0 does, with ``\\s`` = White_Space; tokgeo's tables are generated for
16.0 (scripts/gen_unicode_tables.py).  Python's own unicodedata may be older, so the tests
below never derive expectations from it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokgeo

import tokenizer_refs as refs

ROOT = Path(__file__).resolve().parents[1]

MULTILINGUAL = [
    # Vietnamese (precomposed and combining diacritics)
    "Tiếng Việt là ngôn ngữ chính thức của Việt Nam. Người ta nói: “Không có gì quý hơn độc lập, tự do”.",
    "Tie\u0302\u0301ng Vie\u0323\u0302t vo\u031bi da\u0302\u0301u to\u0302\u0309 ho\u031b\u0323p",
    # CJK
    "中华人民共和国成立于1949年。我们的藏书有三千册，她把书给了他。",
    "日本語の文章です。ひらがな、カタカナ、漢字が混ざっています！（全角記号）",
    "한국어 문장입니다. 그녀는 책을 주었다.",
    # Arabic, Hebrew (with RTL marks), Persian digits
    "مرحبا بالعالم! أعطت كتابها لأخيها. ١٢٣٤٥ \u200fنص\u200e",
    "שלום עולם, היא נתנה את הספר שלה.",
    # Hindi, Tamil, Thai
    "नमस्ते दुनिया! उसने अपनी किताब दे दी। १२३",
    "தமிழ் மொழி மிகவும் பழமையானது.",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    # Cyrillic, Greek
    "Она отдала свою книгу брату. Ёлка, щи — 123 руб.",
    "Η γλώσσα είναι ελληνική· αυτή έδωσε το βιβλίο της.",
    # emoji: ZWJ sequences, skin tones, flags, keycaps, variation selectors
    "😀 😃 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 1️⃣ ❤️ ☕︎ 🫠🪿",
    # combining marks and zalgo
    "e\u0301 a\u0300 n\u0303 Z\u0351\u0357\u035b\u0300a\u0306\u0334l\u0337\u0321g\u0315\u0328o\u0330",
    # spaces of every kind
    "a\u00a0b\u2003c\u3000d\u2028e\u2029f\u0085g\u200bh\ufeffi\u180ej\u202fk\u205fl\u1680m",
    # contractions and apostrophes
    "I'm sure you'll see we've, they're, she'd, it's, can't, 'S 'T 'RE ''s ' s '''",
    "Rock 'n' roll, O'Neil's, rock’n’roll’s",
    # numbers
    "3.14159 1,000,000 ٣٤ ½ ² Ⅻ 0x1F 1e-9 12345678901234567890",
    # math, symbols, control characters
    "∀x∈ℝ: x² ≥ 0 → √(x²)=|x| ∑∫∂ ≠ ≈ ∞ ©®™ \x00\x01\x1f\x7f",
]

CODE = [
    'def f(x: int) -> int:\n    """Doc."""\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n',
    "#include <stdio.h>\nint main(void) {\n    printf(\"%d\\n\", 42);\n    return 0;\n}\n",
    '{"key": [1, 2.5, null, true], "nested": {"a": "b"}}\n',
    "<html>\n  <body class=\"x\">&nbsp;&lt;tag&gt;</body>\n</html>",
    "SELECT * FROM t WHERE a = 'x' AND b <> 2;\n\n\n\n    -- comment\r\n",
]

WHITESPACE = [
    " " * 100,
    "\n" * 50,
    "a" + " " * 37 + "b",
    "\t\t\t x \n\n\n y \r\n\r\n z",
    "  \n  \n  \n",
    " \u00a0 \u3000 a",
    "x" + " " * 5 + "\n" + " " * 5 + "y" + " " * 3,
    "end with spaces   ",
    "   ",
    "\u3000\u3000x",
]


@pytest.fixture(scope="module")
def tok() -> tokgeo.Tokenizer:
    return tokgeo.Tokenizer.gpt2()


def check_all(tok: tokgeo.Tokenizer, text: str) -> None:
    ids = tok.encode_ordinary(text)
    assert ids == refs.tiktoken_gpt2().encode_ordinary(text), text
    if "<|endoftext|>" not in text:
        assert ids == refs.hf_encode(text), text
    assert tok.decode(ids) == text
    assert tok.decode_bytes(ids) == text.encode("utf-8")


@pytest.mark.parametrize("text", MULTILINGUAL + CODE + WHITESPACE)
def test_corpus(tok: tokgeo.Tokenizer, text: str) -> None:
    check_all(tok, text)


def test_repository_sources(tok: tokgeo.Tokenizer) -> None:
    """Real source code: this repository's C and Python files."""
    files = sorted((ROOT / "csrc").rglob("*.[ch]")) + sorted((ROOT / "tokgeo").glob("*.py"))
    assert files
    for p in files:
        text = p.read_text(encoding="utf-8")
        ids = tok.encode(text, allowed_special="all")
        assert ids == refs.tiktoken_gpt2().encode(text, allowed_special="all"), p
        assert ids == refs.hf_encode(text), p
        assert tok.decode(ids) == text


def test_references_differ_only_on_special_tokens(tok: tokgeo.Tokenizer) -> None:
    text = "a <|endoftext|> b"
    tk = refs.tiktoken_gpt2()
    assert refs.hf_encode(text) != tk.encode_ordinary(text)  # HF: always special
    assert refs.hf_encode(text) == tk.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert tok.encode_ordinary(text) == tk.encode_ordinary(text)


# Characters first assigned in Unicode 15.0, 15.1 and 16.0 (letters, a number) and in 17.0
# (unassigned in 16.0: "other").  All three tokenizers must agree on each.
UNICODE_PROBES = ["\U0001E030", "\U0002EBF0", "\u1C89", "\U00010D50", "\U0001CCF0", "\U000323B0", "\U00016EA0",
                  "\U00011DE0", "\u0870", "\U0001F6DC", "\U0010FFFF", "\U000E0001", "\uFFFE"]


@pytest.mark.parametrize("ch", UNICODE_PROBES)
def test_unicode_version_agrees(tok: tokgeo.Tokenizer, ch: str) -> None:
    for text in ("a" + ch + "!", " " + ch + "1", ch * 3 + " x", "1" + ch + "2", ch + " " + ch):
        check_all(tok, text)


# ---------------------------------------------------------------- generated strings

# Characters that exercise each branch of the pattern: apostrophe contractions, the
# optional space, letters / numbers / others from several scripts, and every kind of
# whitespace (including the ones outside ASCII).
PATTERN_ALPHABET = list(" \t\n\r\x0b\x0c'sdmtlrvSDMTLRVeaxz019!?.,-_<>|") + [
    "\u00a0", "\u0085", "\u2028", "\u3000", "\u200b", "\u180e", "é", "ệ", "\u0301", "世", "界", "😀", "🏽",
    "\u200d", "١", "½", "ß", "İ", "ǅ", "\U0001E030", "\U000323B0", "’",
]

# letters since Unicode 15/16, unknown to older `regex` builds (kept out of regex comparisons)
NEWER_LETTERS = ("\U0001E030", "\U000323B0")

any_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=80)
pattern_text = st.text(alphabet=st.sampled_from(PATTERN_ALPHABET), max_size=60)
wordy_text = st.lists(
    st.one_of(st.sampled_from(["her", " her", "'s", " ", "  ", "\n", "The", "book", "123", "4567", "日本", "é"]),
              st.text(max_size=4)),
    max_size=20,
).map("".join)


@settings(max_examples=5000, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=any_text)
def test_hypothesis_any_unicode(tok: tokgeo.Tokenizer, text: str) -> None:
    check_all(tok, text)


@settings(max_examples=4000, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=pattern_text)
def test_hypothesis_pattern_alphabet(tok: tokgeo.Tokenizer, text: str) -> None:
    check_all(tok, text)


@settings(max_examples=2000, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=wordy_text)
def test_hypothesis_words(tok: tokgeo.Tokenizer, text: str) -> None:
    check_all(tok, text)
    ids, off = tok.encode_with_offsets(text)
    assert ids.tolist() == refs.tiktoken_gpt2().encode_ordinary(text)
    if len(ids):
        assert off[0, 0] == 0 and off[-1, 1] == len(text)
        assert (off[1:, 0] >= off[:-1, 0]).all() and (off[:, 1] > off[:, 0]).all()


# ---------------------------------------------------------------- long inputs

LONG = {
    "spaces": " " * 1_000_000,
    "newlines": "\n" * 1_000_000,
    "letters": "a" * 1_000_000,
    "apostrophes": "'" * 1_000_000,
    "contractions": "'s" * 500_000,
    "digits": "7" * 1_000_000,
    "cjk": "世" * 300_000,
    "space-tab": " \t" * 500_000 + "x",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LONG))
def test_long_runs_are_linear_and_exact(tok: tokgeo.Tokenizer, name: str) -> None:
    """A million repeated characters: no hang, no stack overflow, the reference's ids.

    (Compared with Hugging Face, whose merge loop is a heap; tiktoken's merge loop is
    quadratic in the length of one pre-token, so it cannot run these.)"""
    text = LONG[name]
    ids = tok.encode(text)
    assert ids == refs.hf_encode(text)
    assert tok.decode(ids) == text


def test_long_word_matches_tiktoken(tok: tokgeo.Tokenizer) -> None:
    """Pre-tokens long enough to use the heap merge loop, against tiktoken too."""
    tk = refs.tiktoken_gpt2()
    for text in ("a" * 3001, "ab" * 1000, "Supercalifragilistic" * 80, " " + "xyz" * 700, "1234567890" * 100,
                 "日本語" * 400, "'" * 2000 + "s", "\n" * 2000 + "x"):
        assert tok.encode(text) == tk.encode(text)


# ---------------------------------------------------------------- every code point


def _hf_pieces(text: str) -> list[str]:
    """Hugging Face's GPT-2 pre-tokenizer pieces, mapped back from byte-level to text."""
    from tokenizers import pre_tokenizers

    u2b = {c: b for b, c in refs.byte_to_unicode().items()}
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return [bytes(u2b[c] for c in piece).decode("utf-8") for piece, _ in pre.pre_tokenize_str(text)]


def _probe(cp: int) -> str:
    c = chr(cp)
    # each class (letter / number / whitespace / other) splits this differently
    return "a" + c + "1" + c + "!" + c + "\u3007"


@pytest.mark.slow
def test_every_code_point_splits_like_hugging_face(tok: tokgeo.Tokenizer) -> None:
    """The generated Unicode tables, checked on all 1,112,064 scalar values against the
    Hugging Face pre-tokenizer (Unicode 16.0, like tiktoken: see test_unicode_version_agrees)."""
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    step = 1 << 15
    for i in range(0, len(cps), step):
        text = "".join(_probe(cp) for cp in cps[i:i + step])
        ours = tok.pre_tokenize(text)
        if ours != _hf_pieces(text):
            hf = _hf_pieces(text)
            k = next(j for j, (a, b) in enumerate(zip(ours, hf)) if a != b)
            pytest.fail(f"first difference near {ours[k]!r} vs {hf[k]!r} (block starting U+{cps[i]:04X})")


def test_pre_tokenize_matches_regex_reference(tok: tokgeo.Tokenizer) -> None:
    regex = pytest.importorskip("regex")
    pat = regex.compile(refs.GPT2_PATTERN)
    for text in MULTILINGUAL + CODE + WHITESPACE:
        assert tok.pre_tokenize(text) == pat.findall(text) == _hf_pieces(text), text


def test_unicode_tables_header_is_the_scripts_output() -> None:
    header = (ROOT / "csrc" / "tokenizer" / "unicode_tables.h").read_text(encoding="utf-8")
    assert "GENERATED by scripts/gen_unicode_tables.py, DO NOT EDIT" in header
    assert '#define TG_UNICODE_VERSION "16.0.0"' in header
    ud = pytest.importorskip("unicodedata2", reason="regenerating needs unicodedata2==16.0.0")
    if ud.unidata_version != "16.0.0":
        pytest.skip(f"unicodedata2 has Unicode {ud.unidata_version}, the tables are 16.0.0")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_unicode_tables.py")], capture_output=True,
                         text=True, check=True).stdout
    assert out == header


# ---------------------------------------------------------------- long ASCII runs


def _run_texts() -> list[str]:
    """Texts whose class runs cross the scanner's 16-byte blocks: every ASCII byte after a
    run of each class at offsets around 16 and 32, non-ASCII characters of the same class
    continuing an ASCII run there, and random concatenations of runs of 1..40 characters."""
    out = []
    for base in ("a", "Z", "7", "!", "~", " ", "\t", "\n"):
        for k in (0, 1, 2, 7, 14, 15, 16, 17, 18, 30, 31, 32, 33, 47, 48):
            for b in range(128):
                out.append(base * k + chr(b) + base * 5 + " tail")
                out.append(" " + base * k + chr(b) + base * 3)
    for base, same in (("a", "é"), ("a", "日"), ("7", "\u0661"), ("!", "\u2019"), (" ", "\u3000"), ("x", "\U0001F600")):
        for k in range(0, 50):
            out.append(base * k + same + base * (k % 7) + ".")
            out.append(" " + base * k + same + "1 " + base * 20)
    rng = random.Random(16)
    for _ in range(3000):
        out.append("".join(rng.choice(PATTERN_ALPHABET) * rng.randint(1, 40) for _ in range(rng.randint(1, 6))))
    return out


def test_long_ascii_runs_split_like_the_regex(tok: tokgeo.Tokenizer, tmp_path: Path) -> None:
    """The scanner classifies 16 ASCII bytes at a time (SSE2): both split patterns equal
    the `regex` module's findall, and the ids equal tiktoken's, on runs crossing blocks."""
    regex = pytest.importorskip("regex")
    import tiktoken_cl100k as cl

    texts = _run_texts()
    ranks = cl.write_tiktoken_file(cl.gpt2_ranks(), tmp_path / "gpt2.tiktoken")
    cl100k = tokgeo.Tokenizer.from_tiktoken_file(ranks, pattern="cl100k")
    for name, t, pat in (("gpt2", tok, refs.GPT2_PATTERN), ("cl100k", cl100k, cl.CL100K_PATTERN)):
        compiled = regex.compile(pat)
        for text in texts:
            if not any(c in text for c in NEWER_LETTERS):
                assert t.pre_tokenize(text) == compiled.findall(text), (name, text)
    tk = refs.tiktoken_gpt2()
    for text in texts[::7]:
        assert tok.encode_ordinary(text) == tk.encode_ordinary(text), text
    batch = tok.encode_batch(texts[::3])
    for i, text in enumerate(texts[::3]):
        assert batch.token_ids(i).tolist() == tk.encode_ordinary(text), text
