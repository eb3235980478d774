#!/usr/bin/env python3
"""BPE training speed and memory: tokgeo.train_bpe vs Hugging Face tokenizers' BpeTrainer.

The corpus is generated deterministically (bench_tokenizer.make_text, "mixed": English-like
text with Vietnamese, CJK, Arabic, Hindi, Russian, emoji and code), written to a file, and
both trainers read that file (line by line, the same texts).  Settings: ByteLevel
pre-tokenizer without prefix space, initial_alphabet = ByteLevel.alphabet(), the given
vocab_size and min_frequency 2.  The merges files are first checked equal byte for byte.

Every run is a fresh subprocess (so peak memory = its max RSS, and HF's thread pool size
is fixed by RAYON_NUM_THREADS before import); contenders are interleaved run by run.
Printed: min and median seconds, peak RSS, the load average before and after.  Then
tokgeo's 2-vs-1-thread ratio once more in steady state: one process, alternating rounds
after an untimed warm-up, as in a notebook that trains more than once (a fresh process pays
the thread start and first touches of memory inside its one timed run).

Goals: tokgeo >= HF on 1 thread; tokgeo on 2 threads >= 1.7x tokgeo on 1; time linear in
the corpus size (1x, 2x, 4x).

Usage: python benchmarks/bench_bpe_train.py [--mb 10] [--vocab 8000] [--repeat 3] [--no-linearity] [--warm-rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(kind: str, threads: int, corpus: str, vocab: int, out: str) -> None:
    """Runs one training in this process and prints {"seconds", "rss_mb"} as JSON."""

    if kind == "hf":
        os.environ["RAYON_NUM_THREADS"] = str(threads)
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        t0 = time.perf_counter()
        tk = Tokenizer(models.BPE())
        tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tr = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tk.train([corpus], tr)
        tk.model.save(out)
        dt = time.perf_counter() - t0
    else:
        sys.path.insert(0, str(ROOT))
        import tokgeo

        t0 = time.perf_counter()
        tokgeo.train_bpe(corpus, vocab, min_frequency=2, threads=threads, out_dir=out)
        dt = time.perf_counter() - t0
    # VmHWM: this process image's peak RSS (ru_maxrss would carry the parent's over fork)
    rss = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024
    print(json.dumps({"seconds": dt, "rss_mb": rss}))


def warm_worker(corpus: str, vocab: int, out: str, rounds: int) -> None:
    """tokgeo at 1 and 2 threads in one process, alternating, after one untimed run of each
    (the thread pool and the allocator warm): prints {"1": [s, ...], "2": [...]} as JSON."""
    sys.path.insert(0, str(ROOT))
    import tokgeo

    times: dict[str, list[float]] = {"1": [], "2": []}
    for r in range(rounds + 1):
        for th in (1, 2):
            t0 = time.perf_counter()
            tokgeo.train_bpe(corpus, vocab, min_frequency=2, threads=th, out_dir=out)
            if r:
                times[str(th)].append(time.perf_counter() - t0)
    print(json.dumps(times))


def run(kind: str, threads: int, corpus: Path, vocab: int, out: Path) -> dict[str, float]:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, __file__, "--worker", kind, "--threads", str(threads), "--corpus", str(corpus),
                        "--vocab", str(vocab), "--out", str(out)], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def make_corpus(path: Path, mb: float) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    sys.path.insert(0, str(ROOT / "tests"))
    from bench_tokenizer import make_text

    text = make_text("mixed", int(mb * 1_000_000))
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-linearity", action="store_true")
    ap.add_argument("--warm-rounds", type=int, default=15,
                    help="rounds of the steady-state 2-vs-1-thread comparison in one process (0: skip)")
    ap.add_argument("--worker")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--corpus")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.worker == "tokgeo-warm":
        warm_worker(a.corpus, a.vocab, a.out, a.warm_rounds)
        return
    if a.worker:
        worker(a.worker, a.threads, a.corpus, a.vocab, a.out)
        return
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        corpus = tmp / "corpus.txt"
        make_corpus(corpus, a.mb)
        size = corpus.stat().st_size
        print(f"corpus: {size / 1e6:.1f} MB ({sum(1 for _ in open(corpus, encoding='utf-8'))} lines), vocab {a.vocab}, "
              f"cpus {os.cpu_count()}, load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
        contenders = [("tokgeo", 1), ("hf", 1), ("tokgeo", 2), ("hf", 2)]
        # outputs equal first
        for kind, th in contenders[:2]:
            run(kind, th, corpus, a.vocab, tmp / f"{kind}{th}")
        same = (tmp / "tokgeo1" / "merges.txt").read_bytes() == (tmp / "hf1" / "merges.txt").read_bytes()
        same_v = (tmp / "tokgeo1" / "vocab.json").read_bytes() == (tmp / "hf1" / "vocab.json").read_bytes()
        print(f"merges.txt identical: {same}, vocab.json identical: {same_v}")
        if not (same and same_v):
            sys.exit("outputs differ: no timing")
        times: dict[tuple[str, int], list[float]] = {c: [] for c in contenders}
        rss: dict[tuple[str, int], float] = {c: 0.0 for c in contenders}
        for _ in range(a.repeat):
            for c in contenders:
                r = run(c[0], c[1], corpus, a.vocab, tmp / f"{c[0]}{c[1]}")
                times[c].append(r["seconds"])
                rss[c] = max(rss[c], r["rss_mb"])
        print(f"{'contender':<22}{'min s':>8}{'median s':>10}{'peak RSS MB':>13}")
        for c in contenders:
            print(f"{c[0] + ' ' + str(c[1]) + ' thread(s)':<22}{min(times[c]):>8.3f}{statistics.median(times[c]):>10.3f}"
                  f"{rss[c]:>13.0f}")
        t1, h1, t2 = min(times[("tokgeo", 1)]), min(times[("hf", 1)]), min(times[("tokgeo", 2)])
        print(f"tokgeo vs HF, 1 thread: {h1 / t1:.2f}x   tokgeo 2 vs 1 threads: {t1 / t2:.2f}x")
        if a.warm_rounds > 0:
            (tmp / "warm").mkdir(exist_ok=True)
            r = subprocess.run([sys.executable, __file__, "--worker", "tokgeo-warm", "--corpus", str(corpus),
                                "--vocab", str(a.vocab), "--out", str(tmp / "warm"), "--warm-rounds", str(a.warm_rounds)],
                               capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
            w = json.loads(r.stdout.strip().splitlines()[-1])
            w1, w2 = w["1"], w["2"]
            print(f"steady state in one process ({a.warm_rounds} alternating rounds after a warm-up): "
                  f"1 thread min {min(w1):.3f} median {statistics.median(w1):.3f} s, "
                  f"2 threads min {min(w2):.3f} median {statistics.median(w2):.3f} s; "
                  f"2 vs 1: {min(w1) / min(w2):.2f}x (medians {statistics.median(w1) / statistics.median(w2):.2f}x)")
        if not a.no_linearity:
            print("linearity (tokgeo, 1 thread, min of repeats):")
            base = None
            for k in (1, 2, 4):
                ck = tmp / f"corpus{k}.txt"
                make_corpus(ck, a.mb * k)  # generated text k times as long, not copies
                ts = [run("tokgeo", 1, ck, a.vocab, tmp / f"lin{k}")["seconds"] for _ in range(a.repeat)]
                base = base or min(ts)
                print(f"  {k}x ({ck.stat().st_size / 1e6:.0f} MB): {min(ts):.3f} s  ({min(ts) / base:.2f}x of 1x)")
    load1 = os.getloadavg()
    print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
