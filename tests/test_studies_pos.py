"""Parts of speech (spaCy for real: a blank English pipeline with a rule-based tagger built
here, since no official small English pipeline is on the package registry) and the
nouns-vs-adjectives lesson, against transformers + numpy + scipy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tokgeo import errors
from tokgeo.studies import MissingDependencyError, NounsAdjectives, PartsOfSpeech, default_pos_sentences

from _lesson_refs import ci, holm, states, welch
from checkpoints import shared_tiny_gpt2
from tokenizer_refs import tiktoken_gpt2 as encoding

spacy = pytest.importorskip("spacy")

UD = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
      "SCONJ", "SYM", "VERB", "X"}
WORDS = r"\w+(?:['’]\w+)*|[^\w\s]"  # the documented word rule, written out again


@pytest.fixture(scope="module")
def folder():  # type: ignore[no-untyped-def]
    return shared_tiny_gpt2()


def rule_tagger():  # type: ignore[no-untyped-def]
    """A real spaCy pipeline: blank English tokenizer + attribute_ruler setting POS from a
    small lexicon (the first tag a word has in the shipped set) and punctuation rules."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    lex: dict[str, str] = {"unbelievable": "ADJ", "story": "NOUN", "she": "PRON", "said": "VERB", "bright": "ADJ",
                           "'s": "PART", "dog": "NOUN", "running": "VERB", "was": "AUX"}
    for s, tags in zip(*default_pos_sentences()):
        for w, t in zip(re.findall(WORDS, s), tags):
            lex.setdefault(w.lower(), t)
    for w, t in lex.items():
        ruler.add(patterns=[[{"LOWER": w}]], attrs={"POS": t})
    ruler.add(patterns=[[{"IS_PUNCT": True}]], attrs={"POS": "PUNCT"})
    return nlp


def token_spans(text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """tiktoken ids and character spans (ASCII text: cumulative decoded lengths)."""
    enc = encoding()
    ids = enc.encode(text)
    spans, at = [], 0
    for i in ids:
        n = len(enc.decode([i]))
        spans.append((at, at + n))
        at += n
    assert at == len(text)
    return ids, spans


def reference_alignment(text: str, words: list[tuple[int, int, str]]) -> list[str]:
    """The module's written rule, re-implemented: strip the token's leading spaces, the
    word with the largest character overlap wins, ties to the earlier word."""
    _, spans = token_spans(text)
    out = []
    for a, b in spans:
        while a < b and text[a] == " ":
            a += 1
        if a == b:
            out.append("SPACE")
            continue
        overlaps = [max(0, min(b, e) - max(a, s)) for s, e, _ in words]
        best = max(range(len(words)), key=lambda j: (overlaps[j], -j))
        out.append(words[best][2] if overlaps[best] > 0 else "X")
    return out


def test_default_sentence_set_properties() -> None:
    sentences, tags = default_pos_sentences()
    assert len(sentences) == len(tags) == 46 and len(set(sentences)) == 46
    n_noun = n_adj = 0
    for s, t in zip(sentences, tags):
        assert s.isascii() and s.endswith(".")
        assert len(re.findall(WORDS, s)) == len(t), s
        assert set(t) <= UD, s
        assert t.count("NOUN") >= 2 and t.count("ADJ") >= 1, s
        n_noun += t.count("NOUN")
        n_adj += t.count("ADJ")
        assert len(encoding().encode(s)) <= 64  # fits the tests' tiny model
    assert n_noun >= 130 and n_adj >= 100


def test_spacy_tags_aligned_to_gpt2_tokens(folder) -> None:  # type: ignore[no-untyped-def]
    nlp = rule_tagger()
    texts = ['She said the story was "unbelievable."', "The old fisherman's dog was running on the quiet beach."]
    res = PartsOfSpeech(str(folder), texts, nlp=nlp).run()
    want = []
    for t in texts:
        doc = nlp(t)
        words = [(w.idx, w.idx + len(w.text), w.pos_) for w in doc if not w.is_space]
        want += reference_alignment(t, words)
    assert list(res["pos"]) == want
    words = res.tables()["words"]
    unb = next(w for w in words if w["word"] == "unbelievable")
    assert unb["pos"] == "ADJ" and unb["n_tokens"] >= 2  # one word, several GPT-2 tokens, one tag
    # the GPT-2 token '."' spans two spaCy words ('.' and '"'): flagged, given the first (tie)
    k = next(i for i, tok in enumerate(res.tokens) if tok == '."')
    assert res["spans_words"][k] == 2 and res["pos"][k] == "PUNCT"
    assert "spaCy pipeline" in res.provenance.parameters["tagger"]
    df = res.to_frame("words")
    assert list(df.columns[:6]) == ["text", "word_index", "word", "start", "end", "pos"]


def test_user_tags_and_their_errors(folder) -> None:  # type: ignore[no-untyped-def]
    text = "A red car stopped."
    res = PartsOfSpeech(str(folder), text, tags=[["DET", "ADJ", "NOUN", "VERB", "PUNCT"]]).run()
    assert list(res["pos"]) == ["DET", "ADJ", "NOUN", "VERB", "PUNCT"]
    pairs = PartsOfSpeech(str(folder), text, tags=[[("A", "DET"), ("red", "ADJ"), ("car", "NOUN"),
                                                    ("stopped", "VERB"), (".", "PUNCT")]]).run()
    assert list(pairs["pos"]) == list(res["pos"])
    with pytest.raises(errors.InvalidInputError, match=r"'adj' is not one of spaCy's universal POS tags \(did you mean 'ADJ'"):
        PartsOfSpeech(str(folder), text, tags=[["DET", "adj", "NOUN", "VERB", "PUNCT"]])
    with pytest.raises(errors.InvalidInputError, match="ADJECTIVE"):
        PartsOfSpeech(str(folder), text, tags=[["DET", "ADJECTIVE", "NOUN", "VERB", "PUNCT"]])
    with pytest.raises(errors.InvalidInputError, match="4 tags but text"):
        PartsOfSpeech(str(folder), text, tags=[["DET", "ADJ", "NOUN", "VERB"]])


def test_missing_spacy_model_names_the_install_command(folder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MissingDependencyError, match="python -m spacy download en_core_web_sm"):
        PartsOfSpeech(str(folder), "A red car.", spacy_model="en_core_web_sm").run()
    blank = spacy.blank("en")  # a pipeline that sets no POS at all
    with pytest.raises(errors.InvalidInputError, match="no POS"):
        PartsOfSpeech(str(folder), "A red car.", nlp=blank).run()


def test_missing_spacy_names_pip_install(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = ("import sys; sys.modules['spacy'] = None\n"
            "from tokgeo.studies.pos import load_spacy, MissingDependencyError\n"
            "try:\n    load_spacy()\nexcept MissingDependencyError as e:\n    print('ERR', e)\n")
    import tokgeo

    env = {"PYTHONPATH": str(Path(tokgeo.__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert "ERR" in out.stdout and "pip install spacy" in out.stdout, out.stderr


def _reference_groups(folder, sentences, tags):  # type: ignore[no-untyped-def]
    steps, pos = [], []
    for s, t in zip(sentences, tags):
        h, _, _ = states(folder, s)
        steps.append(np.linalg.norm(np.diff(h, axis=1), axis=-1))
        words = [(m.start(), m.end(), tag) for m, tag in zip(re.finditer(WORDS, s), t)]
        pos += reference_alignment(s, words)
    return np.concatenate(steps), np.array(pos)


def test_nouns_vs_adjectives_matches_reference(folder) -> None:  # type: ignore[no-untyped-def]
    sentences, tags = default_pos_sentences()
    res = NounsAdjectives(str(folder), progress=False, batch_size=8).run()
    steps, pos = _reference_groups(folder, sentences, tags)
    np.testing.assert_array_equal(res["pos"], pos)
    np.testing.assert_allclose(res["step_length"], steps, rtol=1e-5, atol=1e-6)
    raw_last = np.concatenate([np.linalg.norm(np.diff(states(folder, s, "resid")[0], axis=1), axis=-1)[:, -1]
                               for s in sentences])  # the last step without ln_f
    np.testing.assert_allclose(res["path_length_resid"], steps[:, :-1].sum(axis=1) + raw_last, rtol=1e-5)
    rep = res.summary()
    assert "ln_f" in rep and "Cohen's d" in rep and rep.count(" *\n") == 1
    noun, adj = pos == "NOUN", pos == "ADJ"
    ps = []
    for l in range(steps.shape[1]):
        t, p, df, d = welch(steps[noun, l], steps[adj, l])
        assert res["t"][l] == pytest.approx(t, rel=1e-3, abs=1e-3)
        assert res["df"][l] == pytest.approx(df, rel=1e-3)
        assert res["d"][l] == pytest.approx(d, rel=1e-3, abs=1e-3)
        assert res["p"][l] == pytest.approx(p, rel=2e-2, abs=1e-8)
        ps.append(p)
        assert (res["mean_a"][l], res["ci_low_a"][l], res["ci_high_a"][l]) == pytest.approx(ci(steps[noun, l]), rel=1e-5)
    np.testing.assert_allclose(res["p_adjusted"], holm(ps), rtol=2e-2, atol=1e-8)
    total = steps.sum(axis=1)
    t, p, df, d = welch(total[noun], total[adj])
    assert float(res["total_t"]) == pytest.approx(t, rel=1e-3, abs=1e-3)
    assert float(res["total_d"]) == pytest.approx(d, rel=1e-3, abs=1e-3)
    k = list(res["tags"]).index("DET")
    assert (res["tag_mean"][k], res["tag_ci_low"][k], res["tag_ci_high"][k]) == pytest.approx(ci(total[pos == "DET"]), rel=1e-5)
    s = res.summary()
    assert "Welch" in s and "Holm" in s
    bon = NounsAdjectives(str(folder), progress=False, correction="bonferroni", equal_var=True).run()
    np.testing.assert_allclose(bon["p_adjusted"], np.minimum(1, np.asarray(bon["p"]) * steps.shape[1]))
    assert bon.provenance.parameters["test"] == "Student"


def test_nouns_vs_adjectives_with_spacy_and_figures(folder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    sentences = default_pos_sentences()[0][:12]
    res = NounsAdjectives(str(folder), sentences, nlp=rule_tagger(), progress=False).run()
    assert res["tag_n"][list(res["tags"]).index("NOUN")] >= 20
    fig = res.plot("layers")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "block l" and "95% CI" in ax.get_ylabel() and "3 blocks" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["NOUN", "ADJ"]
    fig = res.plot("violin")
    assert all("(n=" in t.get_text() for t in fig.axes[0].get_xticklabels())
    written = {p.name for p in res.save(tmp_path)}
    assert {"violin.png", "box.png", "layers.png", "effect.png", "tokens.csv", "layers.csv", "tags.csv"} <= written


def test_nouns_vs_adjectives_bad_input(folder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.InvalidInputError, match=r"sentence \[1\] 'Dogs run\.' has no ADJ word"):
        NounsAdjectives(str(folder), ["A red car stopped.", "Dogs run."],
                        tags=[["DET", "ADJ", "NOUN", "VERB", "PUNCT"], ["NOUN", "VERB", "PUNCT"]])
    with pytest.raises(errors.InvalidInputError, match="has no NOUN and no ADJ"):
        NounsAdjectives(str(folder), ["Run."], tags=[["VERB", "PUNCT"]])
    with pytest.raises(errors.InvalidInputError, match="not one of spaCy's universal POS tags"):
        NounsAdjectives(str(folder), groups=("NOUN", "ADJECTIVE"))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("A red car stopped.\nThe caf\xe9 was quiet.\n".encode("latin-1"))
    with pytest.raises(errors.TextEncodingError, match="line 2 is not UTF-8"):
        NounsAdjectives(str(folder), bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(errors.InvalidInputError, match="empty"):
        NounsAdjectives(str(folder), empty)
    # strict=False keeps a sentence without an adjective
    res = NounsAdjectives(str(folder), ["A red car stopped near an old house.", "Dogs run."], strict=False,
                          tags=[["DET", "ADJ", "NOUN", "VERB", "ADP", "DET", "ADJ", "NOUN", "PUNCT"],
                                ["NOUN", "VERB", "PUNCT"]], progress=False).run()
    # "car" and "house" are one token each; "Dogs" at the start of a text is split by GPT-2
    assert int((res["pos"] == "NOUN").sum()) == 2 + len(encoding().encode("Dogs"))
