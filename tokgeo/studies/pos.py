"""Lesson 8: parts of speech with spaCy, aligned to GPT-2 tokens.

spaCy tags *words*; GPT-2 reads *tokens*.  This lesson tags every word of a text with its
universal part of speech (``token.pos_``: NOUN, ADJ, VERB...), aligns the words to the
GPT-2 tokens through character offsets and gives a tidy table word -> POS -> tokens.

Alignment rule (written down because words and tokens do not nest):

1. A GPT-2 token's span is its characters without its leading whitespace (``" cat"`` is
   read as ``"cat"``).  A token that is only whitespace belongs to no word (POS ``"SPACE"``).
2. The token belongs to the word it shares the most characters with; a tie goes to the
   earlier word.  A word split into several tokens (``" unbelievable"`` -> ``" un"``,
   ``"belie"``, ``"vable"``) gives its POS to each of them.
3. A token spanning several words (``'."'`` over ``.`` and ``"``) takes the word with the
   largest overlap and is flagged in ``spans_words`` (how many words it touches).
4. A token touching no word (possible only with user tags that skip characters) gets
   ``"X"``.

Tags come from spaCy (``spacy.load("en_core_web_sm")`` by default, or any pipeline passed
as ``nlp=``), or from the user: ``tags=[[...], [...]]``, one list per text, either POS tags
for the words found by :data:`WORD_RULE` (``\\w+(?:['’]\\w+)*`` or one non-space symbol) or
``(word, tag)`` pairs found in order in the text.  Every tag must be one of spaCy's
universal tags (:data:`UPOS_TAGS`).  spaCy is an optional extra (``pip install
'tokgeo[spacy]'``); without it (or its English model) a clear error says what to install.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import plotting
from ..errors import InvalidInputError, InvalidTypeError, TokgeoError
from ._base import StudyResult
from ._corpus import load_model, model_config, read_corpus, title_prefix

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PartsOfSpeech", "PartsOfSpeechResult", "MissingDependencyError", "UPOS_TAGS", "WORD_RULE",
    "TaggedText", "tag_texts", "align_tokens", "default_pos_sentences", "DEFAULT_TEXT",
]

#: spaCy's universal part-of-speech tags (``token.pos_``; the Universal Dependencies set plus SPACE)
UPOS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
             "PUNCT", "SCONJ", "SYM", "VERB", "X", "SPACE")
#: how user tags given as a plain list are matched to words: word characters with inner
#: apostrophes, or any single non-space symbol
WORD_RULE = r"\w+(?:['’]\w+)*|[^\w\s]"
_WORD_RE = re.compile(WORD_RULE)

DEFAULT_TEXT = "The young doctor gave the tired old farmer a small bottle of bitter medicine."
DEFAULT_SPACY_MODEL = "en_core_web_sm"
_DATA = Path(__file__).resolve().parents[1] / "data" / "pos_sentences.tsv"


class MissingDependencyError(TokgeoError, ImportError):
    """An optional dependency (spaCy or its English model) is not installed."""


@dataclass(frozen=True)
class TaggedText:
    """The words of one text: ``words`` [n] strings, ``spans`` [n, 2] character offsets,
    ``pos`` [n] universal POS tags."""

    text: str
    words: tuple[str, ...]
    spans: np.ndarray
    pos: tuple[str, ...]


def default_pos_sentences() -> tuple[list[str], list[list[str]]]:
    """The lesson's sentence set (written for tokgeo) and its hand-made POS tags.

    Returns (sentences, tags): ``tags[i]`` holds one universal POS tag per word of
    sentence i under :data:`WORD_RULE`.  Every sentence has nouns and adjectives
    (tests/test_studies_pos.py proves the set's properties).
    """
    sentences, tags = [], []
    for line in _DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, tagline = line.split("\t")
        sentences.append(text)
        tags.append(tagline.split())
    return sentences, tags


def _check_tag(tag: Any, where: str) -> str:
    if not isinstance(tag, str):
        raise InvalidTypeError(f"{where}: a POS tag must be a str, got {type(tag).__name__}")
    if tag not in UPOS_TAGS:
        hint = f" (did you mean {tag.upper()!r}?)" if tag.upper() in UPOS_TAGS else ""
        raise InvalidInputError(
            f"{where}: {tag!r} is not one of spaCy's universal POS tags{hint}: {', '.join(UPOS_TAGS)}"
        )
    return tag


def load_spacy(name: str = DEFAULT_SPACY_MODEL) -> Any:
    """``spacy.load(name)``, or a :class:`MissingDependencyError` naming the install command."""
    try:
        import spacy
    except ImportError:
        raise MissingDependencyError(
            "tagging with spaCy needs spaCy: pip install spacy (or pip install 'tokgeo[spacy]'), then "
            f"python -m spacy download {name}; or pass your own tags with tags=[[...], ...]"
        ) from None
    try:
        return spacy.load(name)
    except OSError:
        raise MissingDependencyError(
            f"spaCy's model {name!r} is not installed: python -m spacy download {name} "
            "(Colab ships en_core_web_sm); or pass a pipeline with nlp=..., or your own tags with tags=[[...], ...]"
        ) from None


def _user_tagged(text: str, tags: Sequence[Any], i: int) -> TaggedText:
    tags = list(tags)
    if tags and all(isinstance(t, (tuple, list)) and len(t) == 2 for t in tags):
        words, spans, pos = [], [], []
        at = 0
        for j, (w, tag) in enumerate(tags):
            if not isinstance(w, str) or not w:
                raise InvalidTypeError(f"tags [{i}][{j}]: the word must be a non-empty str")
            k = text.find(w, at)
            if k < 0:
                raise InvalidInputError(f"tags [{i}][{j}]: word {w!r} not found in text [{i}] after character {at}")
            words.append(w)
            spans.append((k, k + len(w)))
            pos.append(_check_tag(tag, f"tags [{i}][{j}]"))
            at = k + len(w)
        return TaggedText(text, tuple(words), np.array(spans, dtype=np.int64).reshape(-1, 2), tuple(pos))
    matches = list(_WORD_RE.finditer(text))
    if len(matches) != len(tags):
        raise InvalidInputError(
            f"tags [{i}] has {len(tags)} tags but text [{i}] has {len(matches)} words under the word rule "
            f"{WORD_RULE!r}: {[m.group() for m in matches]}; give one tag per word, or (word, tag) pairs"
        )
    checked = tuple(_check_tag(t, f"tags [{i}][{j}]") for j, t in enumerate(tags))
    return TaggedText(text, tuple(m.group() for m in matches),
                      np.array([(m.start(), m.end()) for m in matches], dtype=np.int64).reshape(-1, 2), checked)


def tag_texts(texts: Sequence[str], *, tags: Sequence[Sequence[Any]] | None = None, nlp: Any = None,
              spacy_model: str = DEFAULT_SPACY_MODEL) -> list[TaggedText]:
    """Tag the words of every text: with the user's ``tags``, a spaCy pipeline ``nlp``, or
    ``spacy.load(spacy_model)``.  spaCy's whitespace tokens are dropped (they are no word)."""
    if tags is not None:
        if nlp is not None:
            raise InvalidInputError("give tags= or nlp=, not both")
        if isinstance(tags, (str, bytes)) or len(tags) != len(texts):
            raise InvalidInputError(f"tags must be a list with one list of tags per text ({len(texts)} texts)")
        return [_user_tagged(t, g, i) for i, (t, g) in enumerate(zip(texts, tags))]
    if nlp is None:
        nlp = load_spacy(spacy_model)
    if not callable(getattr(nlp, "pipe", None)):
        raise InvalidTypeError(f"nlp must be a spaCy Language (spacy.load(...)), got {type(nlp).__name__}")
    out = []
    for i, (text, doc) in enumerate(zip(texts, nlp.pipe(list(texts)))):
        words, spans, pos = [], [], []
        for w in doc:
            if w.is_space:
                continue
            p = w.pos_
            if not p:
                raise InvalidInputError(
                    f"text [{i}]: the spaCy pipeline {getattr(nlp, 'meta', {}).get('name', '?')!r} gave the word "
                    f"{w.text!r} no POS (token.pos_ is empty): use a pipeline with a tagger (en_core_web_sm) "
                    "or an attribute_ruler that sets POS"
                )
            _check_tag(p, f"text [{i}], spaCy word {w.text!r}")
            words.append(w.text)
            spans.append((w.idx, w.idx + len(w.text)))
            pos.append(p)
        out.append(TaggedText(text, tuple(words), np.array(spans, dtype=np.int64).reshape(-1, 2), tuple(pos)))
    return out


def align_tokens(text: str, token_spans: np.ndarray, word_spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The alignment rule of the module doc.

    Args:
        token_spans: [T, 2] character offsets of the GPT-2 tokens.
        word_spans: [n, 2] character offsets of the words.

    Returns:
        (word_of_token [T] int64, -1 for a whitespace token and -2 for a token touching no
        word; spans_words [T] int64, how many words the token overlaps).
    """
    T = len(token_spans)
    word_of = np.full(T, -2, dtype=np.int64)
    touches = np.zeros(T, dtype=np.int64)
    for k, (a, b) in enumerate(np.asarray(token_spans).reshape(-1, 2)):
        a, b = int(a), int(b)
        while a < b and text[a].isspace():
            a += 1
        if a >= b:
            word_of[k] = -1
            continue
        best, best_n = -2, 0
        for j, (s, e) in enumerate(np.asarray(word_spans).reshape(-1, 2)):
            n = min(b, int(e)) - max(a, int(s))
            if n > 0:
                touches[k] += 1
                if n > best_n:
                    best, best_n = j, n
        word_of[k] = best
    return word_of, touches


def token_tags(tagged: TaggedText, token_spans: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pos [T] str, word index [T], spans_words [T]) for the tokens of one tagged text."""
    word_of, touches = align_tokens(tagged.text, token_spans, tagged.spans)
    pos = np.array(["SPACE" if w == -1 else "X" if w == -2 else tagged.pos[w] for w in word_of], dtype=object)
    return pos, word_of, touches


class PartsOfSpeech:
    """Tag a text's words and align them to GPT-2 tokens.

    Args:
        model: a model name, a folder or a :class:`tokgeo.GPT2` (only its tokenizer is
            used; default ``"gpt2"``).
        text: a text or a list of texts (default :data:`DEFAULT_TEXT`).
        tags: the user's tags, one list per text (see the module doc); no spaCy needed.
        nlp: a spaCy pipeline to tag with (default ``spacy.load(spacy_model)``).
        spacy_model: the pipeline ``spacy.load`` opens (default ``"en_core_web_sm"``).
    """

    default_model = "gpt2"

    def __init__(self, model: Any = None, text: str | Sequence[str] | None = None, *,
                 tags: Sequence[Sequence[Any]] | None = None, nlp: Any = None,
                 spacy_model: str = DEFAULT_SPACY_MODEL, dataset_name: str | None = None) -> None:
        self._model_arg = model if model is not None else self.default_model
        texts = [DEFAULT_TEXT] if text is None else [text] if isinstance(text, str) else list(text)
        self.texts = list(read_corpus(texts, name="text"))
        if not self.texts:
            raise InvalidInputError("text is empty: give a text (or a list of texts)")
        self.tags, self.nlp, self.spacy_model = tags, nlp, spacy_model
        self.dataset_name = dataset_name or ("tokgeo.studies.pos.DEFAULT_TEXT" if text is None else "user text")
        if tags is not None:
            tag_texts(self.texts, tags=tags)  # check the tags now

    def run(self) -> PartsOfSpeechResult:
        model, label = load_model(self._model_arg)
        tok = model.tokenizer
        tagged = tag_texts(self.texts, tags=self.tags, nlp=self.nlp, spacy_model=self.spacy_model)
        cols: dict[str, list[Any]] = {k: [] for k in ("text_index", "position", "token_id", "start", "end", "pos",
                                                      "word_index", "spans_words")}
        words_rows = []
        for i, tg in enumerate(tagged):
            ids, offs = tok.encode_with_offsets(tg.text)
            offs = np.asarray(offs).reshape(-1, 2)
            pos, word_of, touches = token_tags(tg, offs)
            cols["text_index"] += [i] * len(ids)
            cols["position"] += list(range(len(ids)))
            cols["token_id"] += [int(t) for t in ids]
            cols["start"] += [int(a) for a in offs[:, 0]]
            cols["end"] += [int(b) for b in offs[:, 1]]
            cols["pos"] += list(pos)
            cols["word_index"] += [int(w) for w in word_of]
            cols["spans_words"] += [int(t) for t in touches]
            for j, (w, (s, e), p) in enumerate(zip(tg.words, tg.spans, tg.pos)):
                toks = [k for k in range(len(ids)) if word_of[k] == j]
                words_rows.append({"text": i, "word_index": j, "word": w, "start": int(s), "end": int(e), "pos": p,
                                   "n_tokens": len(toks), "token_positions": " ".join(map(str, toks)),
                                   "tokens": "|".join(tg.text[int(offs[k, 0]):int(offs[k, 1])] for k in toks)})
        a = {k: np.array(v, dtype=object if k == "pos" else np.int64) for k, v in cols.items()}
        a["pos"] = a["pos"].astype(str)
        wpos = np.array([r["pos"] for r in words_rows], dtype=str)
        wn = np.array([r["n_tokens"] for r in words_rows], dtype=np.int64)
        a["word_pos"], a["word_n_tokens"] = wpos, wn
        tags_present = [t for t in UPOS_TAGS if (wpos == t).any()]
        a["tags"] = np.array(tags_present, dtype=str)
        a["word_counts"] = np.array([(wpos == t).sum() for t in tags_present], dtype=np.int64)
        a["token_counts"] = np.array([(a["pos"] == t).sum() for t in tags_present], dtype=np.int64)
        desc = {
            "text_index": "[tokens] which text", "position": "[tokens] token position", "token_id": "[tokens] GPT-2 id",
            "start": "[tokens] first character", "end": "[tokens] end character (exclusive)",
            "pos": "[tokens] POS of the token's word (SPACE: whitespace token, X: no word)",
            "word_index": "[tokens] index of the token's word in its text (-1 whitespace, -2 none)",
            "spans_words": "[tokens] how many words the token overlaps (>1: spans punctuation or words)",
            "word_pos": "[words] POS of every word", "word_n_tokens": "[words] GPT-2 tokens per word",
            "tags": "[tags] the POS tags present", "word_counts": "[tags] words per tag",
            "token_counts": "[tags] tokens per tag",
        }
        from ..datasets import sentences_digest
        from ._base import Provenance, model_origin

        source = "user tags" if self.tags is not None else (
            f"spaCy pipeline {getattr(self.nlp, 'meta', {}).get('name', 'nlp')}" if self.nlp is not None
            else f"spaCy {self.spacy_model}")
        prov = Provenance(study="PartsOfSpeech", model=label, model_config=model_config(model), **model_origin(model), convention=None,
                          dataset=self.dataset_name, dataset_sha256=sentences_digest(self.texts),
                          n_sentences=len(self.texts), target=None, seed=None,
                          parameters={"tagger": source, "alignment": "largest character overlap, ties to the earlier word"})
        labels = [self.texts[i][s:e] for i, s, e in zip(a["text_index"], a["start"], a["end"])]
        return PartsOfSpeechResult(prov, a, desc, labels, self.texts, words_rows)


class PartsOfSpeechResult(StudyResult):
    """Words, their POS and their GPT-2 tokens.

    Tables: ``"words"`` (word -> POS -> tokens, the tidy table), ``"tokens"`` (one row per
    token with its word and POS), ``"counts"``.  Figures: ``"counts"`` (words and tokens per
    tag), ``"tokens_per_word"`` (mean GPT-2 tokens per word, by tag), ``"alignment"``
    (the first text's words, tags and tokens).
    """

    plot_kinds = ("counts", "tokens_per_word", "alignment")

    def __init__(self, provenance: Any, arrays: dict[str, np.ndarray], descriptions: dict[str, str],
                 tokens: Sequence[str], texts: Sequence[str], words: list[dict[str, Any]]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.tokens = list(tokens)
        self.texts = list(texts)
        self.words = words

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        toks = []
        for k in range(len(self.tokens)):
            toks.append({"text": int(self["text_index"][k]), "position": int(self["position"][k]),
                         "token": self.tokens[k], "token_id": int(self["token_id"][k]), "pos": str(self["pos"][k]),
                         "word_index": int(self["word_index"][k]), "spans_words": int(self["spans_words"][k])})
        counts = [{"pos": str(t), "words": int(w), "tokens": int(n)}
                  for t, w, n in zip(self["tags"], self["word_counts"], self["token_counts"])]
        return {"words": list(self.words), "tokens": toks, "counts": counts}

    def summary_lines(self) -> list[str]:
        out = [f"Parts of speech: {len(self.words)} words, {len(self.tokens)} GPT-2 tokens in {len(self.texts)} text(s).",
               f"tagger: {self.provenance.parameters.get('tagger')}",
               f"words split into several tokens: {int((self['word_n_tokens'] > 1).sum())}; "
               f"tokens spanning several words: {int((self['spans_words'] > 1).sum())}", "",
               "  tag    words  tokens"]
        for t, w, n in zip(self["tags"], self["word_counts"], self["token_counts"]):
            out.append(f"  {t:6s} {w:5d} {n:7d}")
        return out

    def _plot_counts(self, ax: Axes | None = None) -> Figure:
        a = plotting.new_axes(ax, figsize=(7.5, 4.5))
        x = np.arange(len(self["tags"]))
        a.bar(x - 0.2, self["word_counts"], width=0.4, label="words")
        a.bar(x + 0.2, self["token_counts"], width=0.4, label="GPT-2 tokens")
        a.set_xticks(x, labels=list(self["tags"]), rotation=45)
        a.set_xlabel("universal POS tag")
        a.set_ylabel("count")
        a.legend()
        a.set_title(f"{title_prefix(self.provenance)} tokenizer: words and tokens per POS")
        return a.figure  # type: ignore[return-value]

    def _plot_tokens_per_word(self, ax: Axes | None = None) -> Figure:
        tags = list(self["tags"])
        means = [float(self["word_n_tokens"][self["word_pos"] == t].mean()) for t in tags]
        fig = plotting.bars(tags, means, ax=ax, xlabel="universal POS tag", ylabel="GPT-2 tokens per word (mean)",
                            title=f"{title_prefix(self.provenance)} tokenizer: tokens per word")
        return fig

    def _plot_alignment(self, ax: Axes | None = None) -> Figure:
        rows = [w for w in self.words if w["text"] == 0][:30]
        a = plotting.new_axes(ax, figsize=(max(6.0, 1.0 * len(rows)), 2.8))
        for x, w in enumerate(rows):
            a.text(x, 2, w["word"], ha="center", va="center", fontsize=9, rotation=45)
            a.text(x, 1, w["pos"], ha="center", va="center", fontsize=8, color="C0")
            a.text(x, 0, w["tokens"].replace(" ", "\u2423"), ha="center", va="center", fontsize=8, color="C1",
                   rotation=45)
        a.set_xlim(-0.7, len(rows) - 0.3)
        a.set_ylim(-0.8, 2.8)
        a.set_yticks([0, 1, 2], labels=["GPT-2 tokens (\u2423 = space)", "POS", "word"])
        a.set_xticks([])
        a.set_xlabel("words of text 0, in order")
        a.set_title(f"{title_prefix(self.provenance)}: words -> POS -> tokens (text 0)")
        return a.figure  # type: ignore[return-value]
