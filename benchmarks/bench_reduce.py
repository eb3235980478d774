"""Side-by-side timings of tokgeo's reductions against their peers, same machine, same
thread count (threadpoolctl pins numpy/scipy BLAS and sklearn's OpenMP, openTSNE gets
n_jobs, tokgeo uses tokgeo.set_num_threads), at 1 and 2 threads by default.

Contenders of one case run interleaved (round r runs every contender once, in turn), and
each timing is reported as min and median over the rounds, with the load average before
and after.  Every contender's output is checked on the same yardstick first:
  * PCA top-50 of a 50,257 x 768 float32 matrix (GPT-2 small's token-embedding shape):
    tokgeo exact (the default) and randomized, sklearn PCA(svd_solver="randomized", same
    oversampling 10 and 7 power iterations), NumPy's exact route (float64 covariance
    through one BLAS product + numpy.linalg.eigh).  Columns: time, peak resident memory
    above the baseline (sampled from /proc every 5 ms, so C allocations count), and the
    largest relative eigenvalue error against NumPy's exact eigenvalues.
  * t-SNE (2-D, perplexity 30, 750 iterations = 250 exaggerated + 500) at N = 2,000,
    10,000 and 50,257 of embedding-like data: tokgeo's default (method="auto", sklearn's
    schedule and learning rate N / 48), tokgeo FFT and Barnes-Hut with openTSNE's learning
    rate N / 12 (from 20,000 points, where tokgeo's default neighbour search is the
    approximate one, also FFT with the exact neighbours, and the approximate graph's edge
    and P-mass recall against the exact one), openTSNE FFT and BH (its defaults: learning rate N / 12; the BH rows up to
    --bh-max, default 10,000) and sklearn (BH; up to --sklearn-max, default 10,000).  The KL divergence of every
    final map is computed the same way here (tokgeo's sparse P on the 90 nearest
    neighbours, exact Q normaliser summed over all pairs in blocks), and trustworthiness
    (k = 5) on a random sample of 2,000 points.

  * t-SNE quality at small N (issue 9; ``--only quality``): N = 30, 52 (the embedding
    lesson's 52 words), 200, 1,000 and 10,000, perplexity min(30, (N - 1) / 3), over many
    seeds (a new data draw and seed each): tokgeo's default against sklearn's
    (init="pca"), mean KL as each reports it (each on its own P at that perplexity), the
    paired per-seed difference with its standard error, and the mean time per map.

Goals (issue 14): exact PCA >= 1.5x NumPy's exact route; t-SNE >= 2x openTSNE FFT at
N >= 10,000 with KL within 5% (compared at the same learning rate, N / 12).

Usage:
  python benchmarks/bench_reduce.py                      # full sizes, 1 and 2 threads
  python benchmarks/bench_reduce.py --quick              # small sizes, a smoke run
  python benchmarks/bench_reduce.py --threads 1 --rounds 3 --only pca
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tokgeo  # noqa: E402
from tokgeo import _C  # noqa: E402
from tokgeo._reduce import choose_tsne_method, choose_tsne_neighbors, pca, trustworthiness, tsne  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def measured(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, peak RSS above the start in bytes, result)."""
    base = rss()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    stop.set()
    th.join()
    peak[0] = max(peak[0], rss())
    return dt, float(peak[0] - base), out


def interleaved(contenders: dict[str, Callable[[], Any]], rounds: int) -> dict[str, dict[str, Any]]:
    """Every contender once per round; the order rotates by one each round (so that no
    contender always runs right after the same other one: on the AMD VM NumPy's exact PCA took
    ~1.1 s after sklearn's fit and ~0.8 s after tokgeo's), and the garbage collector runs
    before each call, outside its time."""
    res: dict[str, dict[str, Any]] = {k: {"t": [], "mem": 0.0, "out": None} for k in contenders}
    names = list(contenders)
    for rnd in range(rounds):
        for name in names[rnd % len(names):] + names[: rnd % len(names)]:
            fn = contenders[name]
            gc.collect()
            dt, mem, out = measured(fn)
            r = res[name]
            r["t"].append(dt)
            r["mem"] = max(r["mem"], mem)
            r["out"] = out
    return res


def embedding_like(n: int, d: int, seed: int = 0) -> np.ndarray:
    """float32 rows with a decaying spectrum (like trained embeddings), randomly rotated,
    plus cluster structure so that t-SNE has something to find."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = (1.0 / np.sqrt(1.0 + np.arange(d))).astype(np.float32)
    x = (rng.standard_normal((n, d), dtype=np.float32) * scales) @ q.T.astype(np.float32)
    centres = rng.standard_normal((20, d)).astype(np.float32) * 0.3
    return x + centres[rng.integers(0, 20, n)]


_EXACT_P: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def exact_affinities(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tokgeo's sparse P from the exact neighbours (perplexity 30), computed once per data set."""
    key = (id(x), *x.shape)
    if key not in _EXACT_P:
        _EXACT_P.clear()
        _EXACT_P[key] = _C._tsne_affinities(np.ascontiguousarray(x), 1, 0, 30.0, 0, 0)
    return _EXACT_P[key]


def neighbour_recall(x: np.ndarray) -> tuple[float, float]:
    """Share of the exact affinity graph's edges (and of P's mass) that the approximate
    neighbour search's graph has."""
    import scipy.sparse as sp

    n = len(x)
    ei, ej, ev = exact_affinities(x)
    ai, aj, av = _C._tsne_affinities(np.ascontiguousarray(x), 1, 0, 30.0, 1, 0)
    e = sp.csr_matrix((ev, ej, ei), shape=(n, n))
    a = sp.csr_matrix((np.ones_like(av), aj, ai), shape=(n, n))
    both = e.multiply(a)
    return float(both.nnz / e.nnz), float(both.sum() / e.sum())


def kl_same_way(x: np.ndarray, emb: np.ndarray) -> float:
    """KL(P || Q): P = tokgeo's symmetrised sparse affinities (perplexity 30, 90 nearest
    neighbours, as Barnes-Hut and openTSNE use), Q = Student-t over ALL pairs (exact
    normaliser, blocked)."""
    indptr, indices, values = exact_affinities(x)
    y = np.asarray(emb, dtype=np.float64)
    n = len(y)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    d2 = ((y[rows] - y[indices]) ** 2).sum(1)
    z = 0.0
    sq = (y * y).sum(1)
    for s in range(0, n, 2048):
        blk = np.maximum(sq[s : s + 2048, None] + sq[None, :] - 2.0 * (y[s : s + 2048] @ y.T), 0.0)
        z += float((1.0 / (1.0 + blk)).sum())
    z -= n  # the diagonal
    p = values
    return float((p * np.log(p)).sum() + (p * np.log1p(d2)).sum() + np.log(z))


def trust_sample(x: np.ndarray, emb: np.ndarray, m: int = 2000) -> float:
    idx = np.random.default_rng(1).choice(len(x), size=min(m, len(x)), replace=False)
    return trustworthiness(x[idx], np.asarray(emb)[idx], 5)


def fmt_t(ts: list[float]) -> str:
    return f"{min(ts):.3f} / {statistics.median(ts):.3f}"


def quality_rows(args: argparse.Namespace, T: int, TSNE: Any) -> list[str]:
    """Mean KL over many seeds, tokgeo's default vs sklearn's, at the small sizes where
    issue 9 found tokgeo worse (each a fresh draw of the data and seed)."""
    load0 = os.getloadavg()
    sizes = [30, 52, 200] if args.quick else [30, 52, 200, 1000, 10000]
    out = ["", f"## t-SNE quality at small N: mean KL over seeds, tokgeo default vs sklearn, {T} thread(s)", "",
           "| N | perplexity | seeds | tokgeo method | tokgeo mean KL | sklearn mean KL | tokgeo - sklearn (paired, +- 1 s.e.) "
           "| mean time per map (s): tokgeo / sklearn |",
           "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for n in sizes:
        perp = min(30.0, (n - 1) / 3.0)
        seeds = args.seeds if n <= 1000 else max(3, args.seeds // 4)
        ours, theirs, t_ours, t_theirs, method = [], [], [], [], ""
        for s_ in range(seeds):
            x = embedding_like(n, 64, seed=1000 + s_)
            t0 = time.perf_counter()
            r = tsne(x, perplexity=perp, random_state=s_)
            t_ours.append(time.perf_counter() - t0)
            method = r.method
            t0 = time.perf_counter()
            sk = TSNE(perplexity=perp, random_state=s_, init="pca").fit(x)
            t_theirs.append(time.perf_counter() - t0)
            ours.append(r.kl_divergence)
            theirs.append(float(sk.kl_divergence_))
        a, b = np.array(ours), np.array(theirs)
        se = float(np.std(a - b, ddof=1)) / np.sqrt(len(a))
        out.append(f"| {n:,} | {perp:.1f} | {seeds} | {method} | {a.mean():.4f} | {b.mean():.4f} | "
                   f"{a.mean() - b.mean():+.4f} +- {se:.4f} | {np.mean(t_ours):.3f} / {np.mean(t_theirs):.3f} |")
        print(f"[{T}t] quality N={n}: tokgeo {a.mean():.4f} sklearn {b.mean():.4f} diff {a.mean() - b.mean():+.4f} "
              f"+- {se:.4f}", flush=True)
    out += ["", f"load average {load0[0]:.2f} -> {os.getloadavg()[0]:.2f}", ""]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, action="append", help="thread counts (repeatable; default 1 and 2)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case (min and median over them)")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--only", choices=["pca", "tsne", "quality"], action="append")
    ap.add_argument("--seeds", type=int, default=12, help="seeds per size of the small-N quality case")
    ap.add_argument("--sizes", type=int, action="append", help="t-SNE sizes (default 2000, 10000, 50257)")
    ap.add_argument("--sklearn-max", type=int, default=10000, help="largest N at which sklearn's t-SNE runs")
    ap.add_argument("--bh-max", type=int, default=10000, help="largest N for the Barnes-Hut contenders (ours and openTSNE's)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reduce.md")
    ap.add_argument("--note", default="")
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits
    import sklearn
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    try:
        import openTSNE
    except ImportError:  # pragma: no cover - optional peer
        openTSNE = None
        print("openTSNE not installed (pip install openTSNE): its rows are skipped")

    threads = args.threads or [1, 2]
    cases = set(args.only or ["pca", "tsne"])
    pca_n = 20000 if args.quick else 50257
    sizes = args.sizes or ([2000, 5000] if args.quick else [2000, 10000, 50257])
    iters = 750
    lines = [
        "# Reductions: tokgeo vs NumPy, scikit-learn and openTSNE",
        "",
        f"`python benchmarks/bench_reduce.py {' '.join(sys.argv[1:])}` on {platform.machine()} ({os.cpu_count()} logical CPUs),"
        f" Python {platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__},"
        f" openTSNE {getattr(openTSNE, '__version__', 'absent')}, tokgeo {tokgeo.__version__}.",
        "Times: wall-clock seconds, min / median over interleaved rounds.",
        "",
    ]

    for T in threads:
        tokgeo.set_num_threads(T)
        with threadpool_limits(limits=T):
            if "pca" in cases:
                load0 = os.getloadavg()
                x = embedding_like(pca_n, 768)

                def numpy_exact() -> np.ndarray:
                    a = x.astype(np.float64)
                    a -= a.mean(0)
                    c = a.T @ a / (len(a) - 1)
                    return np.linalg.eigh(c)[0][::-1][:50]

                sk = PCA(50, svd_solver="randomized", n_oversamples=10, iterated_power=7, random_state=0)
                res = interleaved(
                    {
                        "tokgeo exact (default)": lambda: pca(x, 50, projection=False).eigenvalues,
                        "tokgeo randomized": lambda: pca(x, 50, method="randomized", projection=False).eigenvalues,
                        "sklearn randomized": lambda: sk.fit(x).explained_variance_,
                        "NumPy exact (cov + eigh)": numpy_exact,
                    },
                    args.rounds,
                )
                ref = res["NumPy exact (cov + eigh)"]["out"]
                load1 = os.getloadavg()
                lines += [
                    f"## PCA top-50 of {pca_n} x 768 float32, {T} thread(s); load average {load0[0]:.2f} -> {load1[0]:.2f}",
                    "",
                    "| contender | time (s) min / median | peak memory (MB) | max rel. eigenvalue error vs NumPy exact |",
                    "| --- | ---: | ---: | ---: |",
                ]
                for name, r in res.items():
                    err = float(np.max(np.abs(np.asarray(r["out"]) - ref) / ref))
                    lines.append(f"| {name} | {fmt_t(r['t'])} | {r['mem'] / 1e6:.0f} | {err:.1e} |")
                    print(f"[{T}t] PCA {name:26s} {fmt_t(r['t'])} s  {r['mem'] / 1e6:6.0f} MB  err {err:.1e}", flush=True)
                lines.append("")
                del x

            if "tsne" in cases:
                for n in sizes:
                    load0 = os.getloadavg()
                    x = embedding_like(n, 768 if n > 2000 else 100, seed=n)
                    lr = n / 12.0  # openTSNE's learning rate ("auto": N / exaggeration)
                    auto = choose_tsne_method(n)
                    nbrs = choose_tsne_neighbors(n)
                    cont: dict[str, Callable[[], Any]] = {
                        f"tokgeo auto ({auto}, {nbrs} neighbours), sklearn's learning rate N/48": lambda: tsne(
                            x, max_iter=iters, random_state=0
                        ).embedding,
                        f"tokgeo FFT, learning rate N/12 ({nbrs} neighbours)": lambda: tsne(
                            x, method="fft", learning_rate=lr, max_iter=iters, random_state=0
                        ).embedding,
                    }
                    if nbrs == "approximate":
                        cont["tokgeo FFT, learning rate N/12 (exact neighbours)"] = lambda: tsne(
                            x, method="fft", learning_rate=lr, max_iter=iters, random_state=0, neighbors="exact"
                        ).embedding
                    if n <= args.bh_max:
                        cont["tokgeo Barnes-Hut, learning rate N/12"] = lambda: tsne(
                            x, method="barnes_hut", learning_rate=lr, max_iter=iters, random_state=0
                        ).embedding
                    if openTSNE is not None:
                        for gm in ("fft", "bh"):
                            if gm == "bh" and n > args.bh_max:
                                continue
                            cont[f"openTSNE {gm.upper()} (learning rate N/12)"] = lambda gm=gm: np.asarray(
                                openTSNE.TSNE(perplexity=30, n_iter=iters - 250, negative_gradient_method=gm, n_jobs=T, random_state=0).fit(x)
                            )
                    if n <= args.sklearn_max:
                        cont["sklearn (Barnes-Hut)"] = lambda: TSNE(max_iter=iters, random_state=0, init="pca").fit_transform(x)
                    rounds = args.rounds if n <= 10000 else 1
                    res = interleaved(cont, rounds)
                    load1 = os.getloadavg()
                    lines += [
                        f"## t-SNE, N = {n}, d = {x.shape[1]}, {iters} iterations, {T} thread(s); load average {load0[0]:.2f} -> {load1[0]:.2f}",
                        "",
                        "| contender | time (s) min / median | peak memory (MB) | KL (same yardstick) | trustworthiness (k=5, 2,000-point sample) |",
                        "| --- | ---: | ---: | ---: | ---: |",
                    ]
                    for name, r in res.items():
                        kl = kl_same_way(x, r["out"])
                        tr = trust_sample(x, r["out"])
                        lines.append(f"| {name} | {fmt_t(r['t'])} | {r['mem'] / 1e6:.0f} | {kl:.4f} | {tr:.4f} |")
                        print(f"[{T}t] t-SNE N={n} {name:22s} {fmt_t(r['t'])} s  {r['mem'] / 1e6:6.0f} MB  KL {kl:.4f}  trust {tr:.4f}", flush=True)
                    if nbrs == "approximate":
                        edges, mass = neighbour_recall(x)
                        lines += ["", f"Approximate neighbours: {edges:.4f} of the exact affinity graph's edges, {mass:.4f} of P's mass."]
                        print(f"[{T}t] approximate neighbours: edge recall {edges:.4f}, P-mass recall {mass:.4f}", flush=True)
                    lines.append("")
            if "quality" in cases:
                lines += quality_rows(args, T, TSNE)
    if args.quick:
        lines.append("**Quick mode** (reduced sizes): a smoke run, not the goal measurement.")
    if args.note:
        lines += ["", args.note]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
