"""Tokens per second of a corpus-scale per-token run, tokgeo vs transformers + numpy.

    python benchmarks/bench_corpus.py                 # >= 5,000 sentences, gpt2-small and -medium shapes
    python benchmarks/bench_corpus.py --quick         # a few sentences: checks that it works

The per-token measurements are those of the path-length lessons: every block's step length
``||h(l) - h(l-1)||`` (Hugging Face hidden states), the log-probability of the actual next
token and the next-token entropy.  The peer is written the way a course notebook would:
``GPT2LMHeadModel`` with ``output_hidden_states=True`` one sentence at a time, then NumPy /
torch for the norms, log-softmax and entropy, on the same number of threads.  Outputs are
checked equal first (rtol 1e-4); contenders are interleaved; min and median of the repeats
and the load average are printed.  Then the same tokgeo call on a Dask LocalCluster with
1 and 2 worker processes (threads split between them).  Weights are random (the shapes of
gpt2 / gpt2-medium; no download); timing does not depend on the values.
Writes benchmarks/results/corpus.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import tokgeo  # noqa: E402
from tokgeo.studies import default_pos_sentences, measure_corpus  # noqa: E402

MEASURES = ["step_length", "logprob_next", "entropy"]
SHAPES = {"gpt2-small": dict(n_layer=12, n_embd=768, n_head=12), "gpt2-medium": dict(n_layer=24, n_embd=1024, n_head=16)}


def corpus(n: int) -> list[str]:
    """n sentences recombined from the shipped sentence set (deterministic)."""
    base = default_pos_sentences()[0]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        a, b = rng.integers(len(base), size=2)
        out.append(base[a] if i % 2 == 0 else base[a][:-1] + ", and " + base[b][0].lower() + base[b][1:])
    return out


def peer(hf, enc, texts):  # type: ignore[no-untyped-def]
    """The course's way: one sentence at a time through transformers, NumPy for the rest."""
    import torch

    steps, lps, ents = [], [], []
    with torch.no_grad():
        for t in texts:
            ids = enc.encode(t)
            out = hf(torch.tensor([ids]), output_hidden_states=True)
            h = torch.stack(out.hidden_states)[:, 0].numpy()  # [L+1, T, C]
            steps.append(np.linalg.norm(np.diff(h, axis=0), axis=-1).T)
            ls = torch.log_softmax(out.logits[0], dim=-1)
            p = ls.exp()
            ents.append(-(p * ls).sum(-1).numpy())
            lp = np.full(len(ids), np.nan)
            lp[:-1] = ls[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()
            lps.append(lp)
    return np.concatenate(steps), np.concatenate(lps), np.concatenate(ents)


def timed(fn, repeat):  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a few sentences, gpt2-small shape only")
    ap.add_argument("--sentences", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--shape", choices=list(SHAPES), action="append",
                    help="model shapes to run (repeatable; default both)")
    args = ap.parse_args()
    n = 40 if args.quick else max(5000, args.sentences)
    shapes = ["gpt2-small"] if args.quick else (args.shape or list(SHAPES))
    repeat = 1 if args.quick else args.repeat
    import torch
    from checkpoints import load_hf, tiny_gpt2
    from tokenizer_refs import tiktoken_gpt2 as encoding

    torch.set_num_threads(args.threads)
    tokgeo.set_num_threads(args.threads)
    texts = corpus(n)
    enc = encoding()
    n_tokens = sum(len(enc.encode(t)) for t in texts)
    lines = [f"# corpus benchmark ({'quick' if args.quick else 'full'})", "",
             f"{n} sentences, {n_tokens} tokens; threads {args.threads}; load average {os.getloadavg()}", "",
             "| shape | contender | min s | median s | tokens/s (min) |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            folder = tiny_gpt2(Path(tmp) / shape, n_positions=1024, **SHAPES[shape])
            model = tokgeo.GPT2.from_pretrained(folder)
            hf = load_hf(folder)
            # equal outputs first
            tab = measure_corpus(model, texts[:8], MEASURES, progress=False)
            s, lp, en = peer(hf, enc, texts[:8])
            np.testing.assert_allclose(tab["step_length"], s, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(tab["logprob_next"], lp, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(tab["entropy"], en, rtol=1e-4, atol=1e-4)
            res: dict[str, list[float]] = {"tokgeo": [], "transformers+numpy": []}
            for _ in range(repeat):  # interleaved
                res["tokgeo"] += timed(lambda: measure_corpus(model, texts, MEASURES, progress=False), 1)
                res["transformers+numpy"] += timed(lambda: peer(hf, enc, texts), 1)
            for k, v in res.items():
                lines.append(f"| {shape} | {k} | {min(v):.2f} | {statistics.median(v):.2f} | {n_tokens / min(v):.0f} |")
            ratio = min(res["transformers+numpy"]) / min(res["tokgeo"])
            lines.append(f"| {shape} | ratio (peer / tokgeo) | | | {ratio:.2f}x |")
            print("\n".join(lines[-3:]), flush=True)
            if not args.no_dask:
                from dask.distributed import Client, LocalCluster

                for workers in (1, 2):
                    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None, silence_logs=50,
                                      env={"OMP_NUM_THREADS": str(max(1, args.threads // workers))}) as lc, \
                            Client(lc) as client:
                        first = measure_corpus(model, texts, MEASURES, progress=False, client=client)  # opens the model
                        assert np.array_equal(first["step_length"], measure_corpus(model, texts, MEASURES, progress=False)["step_length"])
                        v = timed(lambda: measure_corpus(model, texts, MEASURES, progress=False, client=client), repeat)
                    lines.append(f"| {shape} | tokgeo on Dask, {workers} worker(s) | {min(v):.2f} | "
                                 f"{statistics.median(v):.2f} | {n_tokens / min(v):.0f} |")
                    print(lines[-1], flush=True)
            del model, hf
    lines += ["", f"load average after: {os.getloadavg()}"]
    name = "corpus-quick" if args.quick else "corpus" if not args.shape else "corpus-" + "-".join(args.shape)
    out = ROOT / "benchmarks" / "results" / (name + ".md")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("wrote", out)


if __name__ == "__main__":
    main()
