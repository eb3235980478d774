#!/usr/bin/env python3
"""Tokenizer speed, side by side on one machine: tokgeo vs tiktoken vs GPT2TokenizerFast.

The texts are generated deterministically (nothing big is committed):
  english - sentences of common English words, punctuation, numbers, paragraphs;
  mixed   - the same interleaved with Vietnamese, CJK, Arabic, Hindi, Russian, emoji and
            source code.
Every tokenizer encodes the same string in one call, single-threaded (tiktoken's
encode_ordinary is single-threaded; HF gets RAYON_NUM_THREADS=1 and
TOKENIZERS_PARALLELISM=false; tokgeo.set_num_threads(1)).  Ids are checked equal.
Then tokgeo's batch encode of the same text cut into documents runs with 1 and 2 threads.

Goals: tokgeo >= 3x tiktoken and >= 10x GPT2TokenizerFast single-threaded; 2-thread batch
>= 1.7x tokgeo's own single thread.  Results: benchmarks/results/tokenizer.md.

Peers (optional; each skipped with a printed reason when it is not installed):
  tokie 0.1.4     - Tokenizer.from_json of a tokenizer.json made from the shipped vocabulary;
  riptoken 0.2.4  - CoreBPE from the same ranks tiktoken reads, GPT-2's pattern.
They run in child processes, one per thread setting, so each tool really gets the threads
asked for: "1 thread" / "2 threads" set RAYON_NUM_THREADS=N, restrict the process to N CPUs
(tokie's encode_batch ignores RAYON_NUM_THREADS and spawns one thread per *available* CPU,
so only the CPU affinity limits it) and tokgeo.set_num_threads(N); "default" changes
nothing (each tool at its own default: tokie and riptoken use every CPU, tokgeo its
default thread count).  Rows: one 10 MB string (English, mixed) and encode_batch of about
1,000-character documents (English, mixed).  In each child the ids of every contender are
checked equal to tokgeo's first, then the contenders are timed interleaved, --repeat times;
min and median are printed with the load average.  Goal: tokgeo >= 1.5x the fastest peer on
every row at equal threads.  Outputs differ in kind: tokgeo's batch returns padded [B, T]
int64 ids + bool mask + lengths, tokie a list of Encoding objects, riptoken a list of lists.

Usage: python benchmarks/bench_tokenizer.py [--mb 10] [--repeat 3] [--skip-hf] [--skip-ref] [--skip-peers]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if "--child" not in sys.argv:  # the peers' children get their thread settings from peers_section
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import tokgeo  # noqa: E402

import tokenizer_refs as refs  # noqa: E402

WORDS = (
    "the of and to a in is that it was for on are as with his they at be this from have or by one had not but "
    "what all were when we there can an your which their said if do will each about how up out them then she "
    "many some so these would other into has more her two like him see time could no make than first been its "
    "who now people my made over did down only way find use may water long little very after words called just "
    "where most know get through back much go good new write our me man too any day same right look think also "
    "around another came come work three word must because does part even place well such here take why things "
    "help put years different away again off went old number great tell men say small every found still between "
    "name should home big give air line set own under read last never us left end along while might next sound "
    "below saw something thought both few those always looked show large often together asked house don't world "
    "going want school important until form food keep children feet land side without boy once animals life enough "
    "took sometimes four head above kind began almost live page got earth need far hand high year mother light "
    "parts country father let night following picture being study second eyes soon times story boys since white "
    "days ever paper hard near sentence better best across during today others however sure means knew it's try "
    "told young miles sun ways thing whole hear example heard several change answer room sea against top turned "
    "learn point city play toward five using himself usually geometry embedding attention transformer token "
    "gradient probability representation Marie John London Paris Tuesday September GPT-2 she'll we're they've"
).split()

FOREIGN = [
    "Tiếng Việt là ngôn ngữ chính thức của Việt Nam, người ta nói rất nhiều.",
    "中华人民共和国成立于1949年。我们的藏书有三千册，她把书给了他。",
    "日本語の文章です。ひらがな、カタカナ、漢字が混ざっています。",
    "مرحبا بالعالم! أعطت كتابها لأخيها في المدرسة.",
    "नमस्ते दुनिया! उसने अपनी किताब अपने भाई को दे दी।",
    "Она отдала свою книгу брату, и они пошли домой.",
    "😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ — “quoted” text… ½ ² €100",
]

CODE = [
    "def forward(self, x: Tensor) -> Tensor:\n    h = self.ln_1(x)\n    return x + self.attn(h)\n",
    "for (size_t i = 0; i < n; i++) {\n        out[i] = a[i] * b[i] + c;\n    }\n",
    '{"n_embd": 768, "n_layer": 12, "vocab_size": 50257, "activation": "gelu_new"}\n',
]


def make_text(kind: str, target_bytes: int, seed: int = 1234) -> str:
    rng = random.Random(seed)
    weights = [1.0 / (r + 1) for r in range(len(WORDS))]  # Zipf-like
    parts: list[str] = []
    size = 0
    while size < target_bytes:
        n = rng.randint(5, 25)
        words = rng.choices(WORDS, weights, k=n)
        words[0] = words[0].capitalize()
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), str(rng.randint(0, 10**rng.randint(1, 6))))
        s = " ".join(words) + rng.choice([".", ".", ".", "?", "!", ",", ";"])
        if kind == "mixed":
            r = rng.random()
            if r < 0.25:
                s += " " + rng.choice(FOREIGN)
            elif r < 0.32:
                s += "\n\n" + rng.choice(CODE)
        s += "\n\n" if rng.random() < 0.1 else " "
        parts.append(s)
        size += len(s.encode("utf-8"))
    return "".join(parts)


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def best_thread_cpu(fn, repeat: int) -> float:
    """CPU time of the calling thread (the OpenMP master): the critical path of a parallel
    call when every thread has a core, so its 1-thread / 2-thread ratio shows the speed-up
    even on a busy machine."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best


def reference_section(args: argparse.Namespace) -> list[str]:
    """tokgeo vs tiktoken and GPT2TokenizerFast (single-threaded) and tokgeo's batch speed-up."""
    tok = tokgeo.Tokenizer.gpt2()
    tk = refs.tiktoken_gpt2()
    hf = None
    if not args.skip_hf:
        import shutil
        import tempfile

        from transformers import GPT2TokenizerFast

        # a Hugging Face model folder made from the shipped files (offline, any version)
        d = refs.data_dir()
        tmp = Path(tempfile.mkdtemp(prefix="tokgeo-bench-"))
        shutil.copy(d / "encoder.json", tmp / "vocab.json")
        shutil.copy(d / "vocab.bpe", tmp / "merges.txt")
        hf = GPT2TokenizerFast.from_pretrained(str(tmp))
        hf.model_max_length = 10**12
        check = "She gave her book away"
        assert hf(check, add_special_tokens=False)["input_ids"] == tok.encode(check), "HF tokenizer not loaded"

    lines = [
        f"# Tokenizer benchmark\n",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.1f}; "
        f"text: {args.mb:g} MB each, best of {args.repeat}; single-threaded unless stated.\n",
        "| text | tokgeo MB/s | tiktoken MB/s | HF fast MB/s | tokgeo / tiktoken | tokgeo / HF fast |"
        " batch 1 thr MB/s | batch 2 thr MB/s | 2 thr / 1 thr | same, calling thread's CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    before = tokgeo.get_num_threads()
    for kind in ("english", "mixed"):
        text = make_text(kind, int(args.mb * 1e6))
        mb = len(text.encode("utf-8")) / 1e6
        tokgeo.set_num_threads(1)
        t_ours, ids = best_time(lambda: tok.encode_ordinary(text), args.repeat)
        t_tk, ids_tk = best_time(lambda: tk.encode_ordinary(text), args.repeat)
        assert ids == ids_tk, "tokgeo and tiktoken disagree"
        t_hf = float("nan")
        if hf is not None:
            t_hf, ids_hf = best_time(lambda: hf(text, add_special_tokens=False)["input_ids"], 1)
            assert ids_hf == ids, "tokgeo and GPT2TokenizerFast disagree"
        # batch: the same text as documents of about 1000 characters (cut at a space), so
        # that padding stays small and the batch measures encoding, not padding
        docs = split_docs(text)
        tokgeo.set_num_threads(1)
        t_b1, b1 = best_time(lambda: tok.encode_batch(docs), args.repeat)
        c_b1 = best_thread_cpu(lambda: tok.encode_batch(docs), args.repeat)
        tokgeo.set_num_threads(2)
        t_b2, b2 = best_time(lambda: tok.encode_batch(docs), args.repeat)
        c_b2 = best_thread_cpu(lambda: tok.encode_batch(docs), args.repeat)
        assert (b1.ids == b2.ids).all()
        r_tk, r_hf, r_b, r_c = t_tk / t_ours, t_hf / t_ours, t_b1 / t_b2, c_b1 / c_b2
        print(f"{kind}: {mb:.1f} MB, {len(ids)} tokens")
        print(f"  tokgeo   {mb / t_ours:8.1f} MB/s")
        print(f"  tiktoken {mb / t_tk:8.1f} MB/s   -> tokgeo is {r_tk:.2f}x tiktoken (goal >= 3)")
        if hf is not None:
            print(f"  HF fast  {mb / t_hf:8.1f} MB/s   -> tokgeo is {r_hf:.2f}x GPT2TokenizerFast (goal >= 10)")
        print(f"  batch of {len(docs)} docs: 1 thread {mb / t_b1:.1f} MB/s, 2 threads {mb / t_b2:.1f} MB/s "
              f"-> {r_b:.2f}x (goal >= 1.7); calling thread's CPU time 1 thread / 2 threads: {r_c:.2f}x")
        lines.append(
            f"| {kind} | {mb / t_ours:.1f} | {mb / t_tk:.1f} | {'skipped' if hf is None else f'{mb / t_hf:.2f}'} | "
            f"{r_tk:.2f}x | {'-' if hf is None else f'{r_hf:.1f}x'} | "
            f"{mb / t_b1:.1f} | {mb / t_b2:.1f} | {r_b:.2f}x | {r_c:.2f}x |"
        )
    tokgeo.set_num_threads(before)
    lines.append("\nGoals: tokgeo/tiktoken >= 3, tokgeo/HF fast >= 10, 2 threads / 1 thread >= 1.7 "
                 "(batch of ~1000-character documents; ids, mask and lengths filled, offsets are computed on first access).")
    lines.append("\nBatch MB/s include writing the padded [B, T] outputs (T = the longest document): "
                 "in the mixed text, CJK documents have several times more tokens than English ones, "
                 "so padding costs more there.  A loaded machine cannot show the 2-thread speed-up "
                 "(and OpenMP's spinning workers make it worse): compare runs whose load average is "
                 "well below 1.")
    return lines


def split_docs(text: str, size: int = 1000) -> list[str]:
    """The text as documents of about `size` characters, each cut before a space."""
    docs, start = [], 0
    while start < len(text):
        cut = text.find(" ", start + size)
        cut = len(text) if cut < 0 else cut
        docs.append(text[start:cut])
        start = cut
    return docs


def load_peers() -> tuple[dict[str, object], list[str]]:
    """The installed peers by name, and the reasons the others are skipped."""
    peers: dict[str, object] = {}
    skipped: list[str] = []
    try:
        import tokie

        tmp = Path(tempfile.mkdtemp(prefix="tokgeo-bench-")) / "tokenizer.json"
        refs.hf_gpt2().save(str(tmp))  # tokie reads Hugging Face's tokenizer.json
        peers["tokie"] = tokie.Tokenizer.from_json(str(tmp))
    except ImportError as e:
        skipped.append(f"tokie skipped: not installed ({e}); pip install tokie==0.1.4")
    try:
        import riptoken
        import tiktoken.load

        d = refs.data_dir()
        ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(str(d / "vocab.bpe"), str(d / "encoder.json"))
        peers["riptoken"] = riptoken.CoreBPE(ranks, {refs.EOT: 50256}, refs.GPT2_PATTERN)
    except ImportError as e:
        skipped.append(f"riptoken skipped: not installed ({e}); pip install riptoken==0.2.4")
    return peers, skipped


def peer_child(config: str, mb: float, repeat: int) -> None:
    """One thread setting (see the module docstring); prints one JSON line per row."""
    nt = None if config == "default" else int(config)
    tok = tokgeo.Tokenizer.gpt2()
    if nt is not None:
        tokgeo.set_num_threads(nt)
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < nt:
            print(json.dumps({"error": f"{nt} threads asked, {len(cpus)} CPUs available"}), flush=True)
            return
        os.sched_setaffinity(0, cpus[:nt])
    peers, skipped = load_peers()
    for why in skipped:
        print(json.dumps({"skipped": why}), flush=True)
    for kind in ("english", "mixed"):
        text = make_text(kind, int(mb * 1e6))
        size = len(text.encode("utf-8")) / 1e6
        docs = split_docs(text)
        single = {"tokgeo": lambda: tok.encode_ordinary(text)}
        batch = {"tokgeo": lambda: tok.encode_batch(docs)}
        if "tokie" in peers:
            tk = peers["tokie"]
            single["tokie"] = lambda: tk.encode(text, add_special_tokens=False).ids
            batch["tokie"] = lambda: tk.encode_batch(docs, add_special_tokens=False)
        if "riptoken" in peers:
            rt = peers["riptoken"]
            single["riptoken"] = lambda: rt.encode_ordinary(text)
            batch["riptoken"] = lambda: rt.encode_ordinary_batch(docs)
        as_lists = {
            "tokgeo": lambda b: [b.token_ids(i).tolist() for i in range(len(b))],
            "tokie": lambda b: [e.ids for e in b],
            "riptoken": lambda b: b,
        }
        for row, fns in ((f"{kind}, one {mb:g} MB string", single), (f"{kind}, encode_batch of {len(docs)} docs", batch)):
            # outputs first: every contender's ids equal tokgeo's
            want = None
            for name, fn in fns.items():
                got = fn()
                if fns is batch:
                    got = as_lists[name](got)
                if want is None:
                    want = got
                elif got != want:
                    raise SystemExit(f"{name} and tokgeo disagree on '{row}'")
            times: dict[str, list[float]] = {name: [] for name in fns}
            for _ in range(repeat):  # interleaved
                for name, fn in fns.items():
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
            print(json.dumps({"row": row, "mb": size, "load": os.getloadavg()[0],
                              "min": {k: min(v) for k, v in times.items()},
                              "median": {k: statistics.median(v) for k, v in times.items()}}), flush=True)


def peers_section(args: argparse.Namespace) -> list[str]:
    ncpu = len(os.sched_getaffinity(0))
    configs = [c for c in ("1", "2") if int(c) <= ncpu] + ["default"]
    lines = [
        "\n## Peers: tokie and riptoken, equal threads\n",
        f"load average at start {os.getloadavg()[0]:.1f}; {ncpu} CPUs; {args.mb:g} MB texts, {args.repeat} interleaved "
        "repeats; MB/s from the min (median in brackets).  Threads: 1 and 2 = RAYON_NUM_THREADS and the CPU affinity "
        "of the process limited to N CPUs and tokgeo.set_num_threads(N); default = each tool's own default.\n",
        "| row | threads | tokgeo MB/s | tokie MB/s | riptoken MB/s | tokgeo / fastest peer | load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    env = dict(os.environ)
    for config in configs:
        cenv = dict(env)
        if config == "default":
            cenv.pop("RAYON_NUM_THREADS", None)
        else:
            cenv["RAYON_NUM_THREADS"] = config
        cmd = [sys.executable, __file__, "--child", config, "--mb", str(args.mb), "--repeat", str(args.repeat)]
        proc = subprocess.run(cmd, env=cenv, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"peer run with threads={config} failed:\n{proc.stderr}")
        for line in proc.stdout.splitlines():
            rec = json.loads(line)
            if "skipped" in rec:
                if config == configs[0]:
                    print(rec["skipped"])
                    lines.append(f"- {rec['skipped']}")
                continue
            if "error" in rec:
                print(f"threads={config}: {rec['error']}")
                continue
            mb, mn, md = rec["mb"], rec["min"], rec["median"]

            def cell(name: str) -> str:
                return f"{mb / mn[name]:.1f} ({mb / md[name]:.1f})" if name in mn else "-"

            peer_best = min((v for k, v in mn.items() if k != "tokgeo"), default=None)
            ratio = f"{peer_best / mn['tokgeo']:.2f}x" if peer_best else "-"
            print(f"threads={config:7s} {rec['row']:42s} tokgeo {cell('tokgeo'):>15s}  tokie {cell('tokie'):>15s}  "
                  f"riptoken {cell('riptoken'):>15s}  -> {ratio} the fastest peer (goal >= 1.5)  load {rec['load']:.1f}")
            lines.append(f"| {rec['row']} | {config} | {cell('tokgeo')} | {cell('tokie')} | {cell('riptoken')} | "
                         f"{ratio} | {rec['load']:.1f} |")
    lines.append("\nGoal: tokgeo >= 1.5x the fastest peer on every row, same threads.  tokgeo's batch writes padded "
                 "[B, T] int64 ids, a bool mask and lengths; tokie returns Encoding objects, riptoken lists.")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=10.0, help="size of each text in MB (default 10)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-hf", action="store_true", help="skip GPT2TokenizerFast (slow)")
    ap.add_argument("--skip-ref", action="store_true", help="skip the tiktoken / GPT2TokenizerFast section")
    ap.add_argument("--skip-peers", action="store_true", help="skip the tokie / riptoken section")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tokenizer.md"))
    args = ap.parse_args()
    if args.child:
        peer_child(args.child, args.mb, args.repeat)
        return
    lines: list[str] = []
    if not args.skip_ref:
        lines += reference_section(args)
    if not args.skip_peers:
        lines += peers_section(args)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
