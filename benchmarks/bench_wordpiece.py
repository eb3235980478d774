#!/usr/bin/env python3
"""BERT WordPiece speed, side by side: tokgeo.WordPieceTokenizer vs Hugging Face tokenizers'
BertWordPieceTokenizer, on one machine, same vocabulary, same text.

No BERT vocabulary ships or downloads here, so an uncased vocabulary (up to 30,000 tokens; the generated text has fewer distinct pieces) is trained
with tokenizers' WordPiece trainer on the generated text first (the text: deterministic
sentences of English, accented Latin, Russian, CJK, Arabic and Hindi words with punctuation).
Two measurements, contenders interleaved per repeat, ids and offsets checked equal first:
  single - the whole text in one encode call, one thread (tokgeo.set_num_threads(1);
           RAYON_NUM_THREADS=1 for tokenizers);
  batch  - the text cut into documents of ~1 KB, encode_batch: both on 1 thread, and
           tokgeo on 2 threads beside its own 1.
Prints min and median seconds, MB/s and the load average before and after.

Usage: python benchmarks/bench_wordpiece.py [--mb 4] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # tokenizers: one thread (its pool is sized once)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

WORDS = ("the of and to in is was for on that with as by at from his her it an are were be this which or "
         "tokenization tokenizer unaffable playing played player language model geometry token vector "
         "café naïve façade résumé straße über größe élève année niño "
         "один два три столица россия язык "
         "我 爱 北 京 天 安 门 東 京 日 本 語 "
         "مرحبا بالعالم اللغة العربية "
         "हिन्दी भाषा नमस्ते दुनिया").split()
PUNCT = [". ", ", ", "! ", "? ", "; ", " (", ") ", " - ", "'s ", "\n"]


def make_text(mb: float, seed: int = 7) -> str:
    rng = random.Random(seed)
    parts, size = [], 0
    target = int(mb * 1e6)
    while size < target:
        w = rng.choice(WORDS)
        if rng.random() < 0.1:
            w = w.capitalize()
        parts.append(w)
        parts.append(rng.choice(PUNCT) if rng.random() < 0.12 else " ")
        size += len(w.encode()) + 1
    return "".join(parts)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=4.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import tokgeo
    from tokenizers import BertWordPieceTokenizer

    text = make_text(args.mb)
    docs = [text[i:i + 1000] for i in range(0, len(text), 1000)]
    nbytes = len(text.encode())
    with tempfile.TemporaryDirectory() as tmp:
        trainer = BertWordPieceTokenizer(lowercase=True)
        trainer.train_from_iterator(docs, vocab_size=30_000, min_frequency=2)
        trainer.save_model(tmp)
        vocab = os.path.join(tmp, "vocab.txt")
        ours = tokgeo.WordPieceTokenizer.from_file(vocab)
        ref = BertWordPieceTokenizer(vocab, lowercase=True)

    print(f"text: {nbytes / 1e6:.1f} MB, {len(docs)} documents; vocabulary {ours.vocab_size} tokens")
    print(f"load average before: {os.getloadavg()}")
    # outputs checked equal first
    ids, off = ours.encode_with_offsets(text)
    enc = ref.encode(text)
    assert ids.tolist() == enc.ids and [tuple(o) for o in off.tolist()] == enc.offsets, "single encode differs"
    got = ours.encode_batch(docs)
    want = ref.encode_batch(docs)
    assert all(a.tolist() == b.ids for a, b in zip(got, want)), "batch encode differs"
    print(f"outputs equal: {len(ids)} tokens (single), {sum(len(a) for a in got)} tokens (batch)")

    results: dict[str, list[float]] = {}

    def run(name: str, fn) -> None:
        results.setdefault(name, []).append(timed(fn))

    for _ in range(args.repeat):
        for threads in (1, 2):
            tokgeo.set_num_threads(threads)
            if threads == 1:
                run("single tokgeo", lambda: ours.encode_with_offsets(text))
                run("single tokenizers", lambda: ref.encode(text))
            run(f"batch {threads}T tokgeo", lambda: ours.encode_batch(docs))
            if threads == 1:
                run("batch 1T tokenizers", lambda: ref.encode_batch(docs))
    tokgeo.set_num_threads(0)
    print(f"{'what':34s} {'min s':>8s} {'median s':>9s} {'MB/s (min)':>11s}")
    for name, ts in results.items():
        print(f"{name:34s} {min(ts):8.3f} {statistics.median(ts):9.3f} {nbytes / 1e6 / min(ts):11.1f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
