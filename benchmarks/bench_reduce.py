"""Side-by-side timings of tokgeo's reductions against scikit-learn, same machine, same
thread count (threadpoolctl pins numpy/scipy BLAS and sklearn's OpenMP; tokgeo uses
tokgeo.set_num_threads).  Prints the ratios and writes benchmarks/results/reduce.md.

Goals (full size):
  * PCA top-50 of a 50,257 x 768 float32 matrix (GPT-2's token embeddings shape):
    tokgeo randomized >= 2x sklearn PCA(svd_solver="randomized").
  * exact t-SNE, N = 2,000:      tokgeo >= 20x sklearn TSNE(method="exact").
  * Barnes-Hut t-SNE, N = 10,000: tokgeo >= 2x sklearn TSNE(method="barnes_hut").

Usage:
  python benchmarks/bench_reduce.py                 # full sizes (sklearn exact takes minutes)
  python benchmarks/bench_reduce.py --quick         # reduced sizes/iterations, a smoke run
  python benchmarks/bench_reduce.py --threads 2 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tokgeo  # noqa: E402
from tokgeo._reduce import pca, trustworthiness, tsne  # noqa: E402


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def embedding_like(n: int, d: int, seed: int = 0) -> np.ndarray:
    """float32 rows with a decaying spectrum (like trained embeddings), randomly rotated."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = (1.0 / np.sqrt(1.0 + np.arange(d))).astype(np.float32)
    x = (rng.standard_normal((n, d), dtype=np.float32) * scales) @ q.T.astype(np.float32)
    return x + rng.standard_normal(d).astype(np.float32) * 0.1


def blobs(n: int, d: int = 50, centers: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.uniform(-10, 10, size=(centers, d))
    return c[np.arange(n) % centers] + 2.0 * rng.standard_normal((n, d))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=1, help="best of N for each timing")
    ap.add_argument("--quick", action="store_true", help="reduced sizes and iterations (smoke run)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reduce.md")
    args = ap.parse_args()

    from threadpoolctl import threadpool_info, threadpool_limits
    import sklearn
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.manifold import trustworthiness as sk_trust

    T = args.threads
    load0 = " ".join(f"{v:.2f}" for v in os.getloadavg())
    tokgeo.set_num_threads(T)
    if args.quick:
        pca_n, exact_n, bh_n, iters = 20000, 800, 3000, 300
    else:
        pca_n, exact_n, bh_n, iters = 50257, 2000, 10000, 1000
    rows: list[tuple[str, float, float, str, str]] = []

    with threadpool_limits(limits=T):
        # ---- PCA top-50
        x = embedding_like(pca_n, 768)
        t_ours, r = best_of(lambda: pca(x, 50, method="randomized", random_state=0), args.repeat)
        # both sides produce the projection too: PCAResult.projection vs fit_transform
        skp = PCA(50, svd_solver="randomized", random_state=0)
        t_sk, _ = best_of(lambda: skp.fit_transform(x), args.repeat)
        sk = skp
        err = float(np.max(np.abs(r.eigenvalues - sk.explained_variance_) / sk.explained_variance_[0]))
        rows.append((f"PCA top-50, {pca_n} x 768 float32 (randomized)", t_ours, t_sk, ">= 2x", f"max eigenvalue diff {err:.1e} (rel. to top)"))
        print(f"PCA       ours {t_ours:8.3f}s  sklearn {t_sk:8.3f}s  ratio {t_sk / t_ours:6.2f}x   ({err:.1e})", flush=True)
        del x

        # ---- exact t-SNE
        xe = blobs(exact_n)
        t_ours, ro = best_of(lambda: tsne(xe, method="exact", max_iter=iters, random_state=0), args.repeat)
        t_sk, so = best_of(lambda: TSNE(method="exact", max_iter=iters, random_state=0).fit(xe), args.repeat)
        q = f"KL {ro.kl_divergence:.4f} vs {so.kl_divergence_:.4f}; trust {trustworthiness(xe, ro.embedding):.4f} vs {sk_trust(xe, so.embedding_, n_neighbors=5):.4f}"
        rows.append((f"exact t-SNE, N={exact_n}, d=50, {iters} iterations", t_ours, t_sk, ">= 20x", q))
        print(f"t-SNE ex  ours {t_ours:8.3f}s  sklearn {t_sk:8.3f}s  ratio {t_sk / t_ours:6.2f}x   ({q})", flush=True)

        # ---- Barnes-Hut t-SNE
        xb = blobs(bh_n)
        t_ours, ro = best_of(lambda: tsne(xb, method="barnes_hut", max_iter=iters, random_state=0), args.repeat)
        t_sk, so = best_of(lambda: TSNE(method="barnes_hut", max_iter=iters, random_state=0).fit(xb), args.repeat)
        q = f"KL {ro.kl_divergence:.4f} vs {so.kl_divergence_:.4f}"
        rows.append((f"Barnes-Hut t-SNE, N={bh_n}, d=50, {iters} iterations", t_ours, t_sk, ">= 2x", q))
        print(f"t-SNE BH  ours {t_ours:8.3f}s  sklearn {t_sk:8.3f}s  ratio {t_sk / t_ours:6.2f}x   ({q})", flush=True)
        libs = ", ".join(sorted({f"{i['internal_api']}:{i.get('version') or '?'}" for i in threadpool_info()}))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Reductions: tokgeo vs scikit-learn",
        "",
        f"`python benchmarks/bench_reduce.py{' --quick' if args.quick else ''} --threads {T} --repeat {args.repeat}`"
        f" on {platform.machine()} ({os.cpu_count()} logical CPUs), Python {platform.python_version()},"
        f" numpy {np.__version__}, scikit-learn {sklearn.__version__}, tokgeo {tokgeo.__version__}; thread pools: {libs};"
        f" load average before/after: {load0} / {' '.join(f'{v:.2f}' for v in os.getloadavg())}.",
        "Both sides run with the same thread count; times are wall-clock seconds (best of the repeats),"
        " including the whole fit (affinities, PCA initialisation, optimisation).",
        "",
        "| task | tokgeo (s) | sklearn (s) | speed-up | goal | same answer? |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for name, a, b, goal, note in rows:
        lines.append(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f}x | {goal} | {note} |")
    lines.append("")
    if args.quick:
        lines.append("**Quick mode** (reduced sizes and iterations): a smoke run, not the goal measurement.")
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
