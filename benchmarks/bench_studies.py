#!/usr/bin/env python3
"""The rotation lesson end to end: tokgeo vs the usual transformers + numpy + scipy route.

Both sides do the same work on the same random-weight GPT-2 checkpoint (gpt2-small shape
by default) with the same thread count: tokenize the 54 "her" sentences, run the model
capturing every hidden state, take the angle of the target, the previous word and a control
between consecutive layers, and t-test target vs non-target at every layer.

    python benchmarks/bench_studies.py [--layers 12 --embd 768 --heads 12] [--threads 2] [--repeat 3]

Prints the times and their ratio and writes benchmarks/results/studies_rotation.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ["TOKGEO_PROGRESS"] = "0"

    import numpy as np
    import torch
    from scipy import stats

    import tokgeo
    from checkpoints import load_hf, tiny_gpt2
    from tokenizer_refs import tiktoken_gpt2

    torch.set_num_threads(args.threads)
    tokgeo.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = tiny_gpt2(Path(tmp) / "m", n_layer=args.layers, n_embd=args.embd, n_head=args.heads, n_positions=1024)
        sents = tokgeo.datasets.her_sentences()

        def run_tokgeo() -> np.ndarray:
            model = tokgeo.GPT2.from_pretrained(folder)
            res = tokgeo.studies.Rotation(model, sents, progress=False, batch_size=16).run()
            return np.asarray(res["t"])

        hf = load_hf(folder)
        enc = tiktoken_gpt2()

        def run_reference() -> np.ndarray:
            L = args.layers
            tgt, non = np.zeros((len(sents), L)), np.zeros((len(sents), L))
            rows = [enc.encode(s) for s in sents]
            for i0 in range(0, len(rows), 16):
                chunk = rows[i0 : i0 + 16]
                T = max(len(r) for r in chunk)
                ids = torch.full((len(chunk), T), 50256, dtype=torch.long)
                mask = torch.zeros((len(chunk), T), dtype=torch.long)
                for b, r in enumerate(chunk):
                    ids[b, : len(r)] = torch.tensor(r)
                    mask[b, : len(r)] = 1
                with torch.no_grad():
                    hs = hf(ids, attention_mask=mask, output_hidden_states=True).hidden_states
                h = torch.stack(hs).numpy().astype(np.float64)  # [L+1, B, T, C]
                for b, r in enumerate(chunk):
                    t = r.index(607)
                    for k, p in ((tgt, t), (non, t - 1)):
                        v = h[:, b, p]
                        c = (v[1:] * v[:-1]).sum(-1) / np.linalg.norm(v[1:], axis=-1) / np.linalg.norm(v[:-1], axis=-1)
                        k[i0 + b] = np.degrees(np.arccos(np.clip(c, -1, 1)))
            return stats.ttest_ind(tgt, non, axis=0).statistic

        def best(fn) -> tuple[float, np.ndarray]:  # type: ignore[no-untyped-def]
            times, out = [], None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                out = fn()
                times.append(time.perf_counter() - t0)
            return min(times), out  # type: ignore[return-value]

        t_tok, r_tok = best(run_tokgeo)
        t_ref, r_ref = best(run_reference)
    agree = float(np.max(np.abs(r_tok - r_ref)))
    shape = f"{args.layers} layers, n_embd {args.embd}, {args.heads} heads"
    lines = [
        "# Rotation lesson end to end (54 sentences)",
        "",
        f"Random-weight GPT-2 ({shape}); {args.threads} threads on both sides; best of {args.repeat}.",
        "tokgeo: `GPT2.from_pretrained` + `studies.Rotation(...).run()` (load, tokenize, forward, angles, control, CIs, t-tests).",
        "reference: transformers `output_hidden_states` in batches of 16 + numpy angles + `scipy.stats.ttest_ind` (model already loaded).",
        "",
        "| route | seconds |",
        "| --- | --- |",
        f"| tokgeo | {t_tok:.3f} |",
        f"| transformers + numpy + scipy | {t_ref:.3f} |",
        "",
        f"ratio reference / tokgeo: {t_ref / t_tok:.2f}; max |t difference| between the routes: {agree:.2e}",
        "",
        f"Load average (1, 5, 15 min) when the run ended: {os.getloadavg()[0]:.2f}, {os.getloadavg()[1]:.2f}, {os.getloadavg()[2]:.2f}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks" / "results" / "studies_rotation.md").write_text(text)


if __name__ == "__main__":
    main()
