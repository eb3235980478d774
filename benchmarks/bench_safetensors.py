"""Loading a GPT-2-shaped fp32 checkpoint: tokgeo.safetensors (zero-copy views over a mapping)
versus the `safetensors` package (safetensors.numpy.load_file copies every tensor; safe_open
get_tensor too), on the same machine, single process.

Two timings per reader: "open" (until the dict of arrays exists) and "open + read" (plus one
pass over every byte, i.e. the page faults a forward pass would pay on first use).  The file is
written once (random weights) and read warm from the page cache.

Usage: python3 benchmarks/bench_safetensors.py [--layers 12] [--repeat 5]
Writes benchmarks/results/safetensors.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict

import numpy as np

import tokgeo.safetensors as tst


def gpt2_tensors(n_layer: int, d: int = 768, vocab: int = 50257, ctx: int = 1024) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(0)

    def w(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    t = {"wte.weight": w(vocab, d), "wpe.weight": w(ctx, d), "ln_f.weight": w(d), "ln_f.bias": w(d)}
    for i in range(n_layer):
        p = f"h.{i}."
        t.update({p + "ln_1.weight": w(d), p + "ln_1.bias": w(d), p + "attn.c_attn.weight": w(d, 3 * d),
                  p + "attn.c_attn.bias": w(3 * d), p + "attn.c_proj.weight": w(d, d), p + "attn.c_proj.bias": w(d),
                  p + "ln_2.weight": w(d), p + "ln_2.bias": w(d), p + "mlp.c_fc.weight": w(d, 4 * d),
                  p + "mlp.c_fc.bias": w(4 * d), p + "mlp.c_proj.weight": w(4 * d, d), p + "mlp.c_proj.bias": w(d)})
    return t


def touch(arrays: Dict[str, np.ndarray]) -> float:
    return float(sum(float(a.sum(dtype=np.float64)) for a in arrays.values()))


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        save_file(gpt2_tensors(args.layers), str(path))
        size_mb = path.stat().st_size / 1e6
        load_file(str(path))  # warm the page cache

        def ref_safe_open() -> Dict[str, np.ndarray]:
            with safe_open(str(path), framework="numpy") as f:
                return {k: f.get_tensor(k) for k in f.keys()}

        rows = []
        for name, fn in [("tokgeo.safetensors.load", lambda: tst.load(path)),
                         ("safetensors.numpy.load_file", lambda: load_file(str(path))),
                         ("safetensors safe_open/get_tensor", ref_safe_open)]:
            t_open = best(fn, args.repeat)
            t_read = best(lambda: touch(fn()), args.repeat)
            rows.append((name, t_open, t_read))
        assert abs(touch(tst.load(path)) - touch(load_file(str(path)))) < 1e-6 * max(1.0, abs(touch(load_file(str(path)))))

    ref_open, ref_read = rows[1][1], rows[1][2]
    lines = [
        "# safetensors loading",
        "",
        f"GPT-2-shaped fp32 checkpoint, {args.layers} layers, {size_mb:.0f} MB, warm page cache, "
        f"median of {args.repeat}; {platform.processor() or platform.machine()}, Python {platform.python_version()}.",
        "",
        "| reader | open (ms) | open + read every byte (ms) | open ratio vs load_file | read ratio vs load_file |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, t_open, t_read in rows:
        lines.append(f"| {name} | {t_open * 1e3:.2f} | {t_read * 1e3:.1f} | {ref_open / t_open:.1f}x | {ref_read / t_read:.2f}x |")
    lines += ["", "Ratios above 1 mean tokgeo (or the row) is faster than safetensors.numpy.load_file.", ""]
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).resolve().parent / "results" / "safetensors.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
