"""Side-by-side speed and memory of tokgeo.GPT2 against Hugging Face transformers and
TransformerLens, GPT-2 small's shape (12 blocks, 768 wide, 12 heads, 50257 tokens) with
random weights, same thread count for everyone.

Workloads:
  lesson  54 sentences of 6-10 tokens (mean ~8), right-padded -- the course's batch
  long    1 x 1024 tokens

Engines (each captures everything it can):
  tokgeo        model.run(batch, capture="all")  (every hook + logits, in one arena)
  transformers  GPT2LMHeadModel(..., eager)(ids, attention_mask, output_hidden_states=True,
                output_attentions=True) under torch.no_grad()
  TransformerLens  TransformerBridge (v4) in compatibility mode, run_with_cache(tokens),
                on the same weights; skipped with a printed reason when not installed
  BLIS floor    only the matrix products of the forward pass (tokgeo._C.time_products)

Peers, logits only (one process per thread setting, the contenders interleaved call by call):
  tokgeo        model.run(rows, capture="logits")
  ONNX Runtime  the same HF model exported with torch.onnx (input_ids, attention_mask ->
                logits), then onnxruntime.transformers' GPT-2 optimizer (its fusions; the
                fused-operator counts are printed), CPU provider, intra_op_num_threads
  CTranslate2   ctranslate2.converters.TransformersConverter of the same folder, float32,
                Generator.forward_batch(rows) (unpadded id lists) -> logits, intra_threads
  at 1 and 2 threads and at each tool's default (tokgeo: all cores; ORT: 0; CT2: 0); the
  "cpu/wall" column (process CPU time / wall time per call) shows how many cores a tool
  really kept busy.  Logits are checked equal to tokgeo's (real tokens, 1e-4) before timing;
  a peer that is not installed or fails to export is skipped with the reason printed.

Peak RSS is measured in a fresh subprocess per engine (VmHWM) and compared, for
tokgeo, with (mapped weights + requested activations).

Usage: python benchmarks/bench_model.py [--threads N] [--repeats R] [--quick] [--no-tl]
                                       [--no-peers | --peers-only]
Writes benchmarks/results/model.md (and model_peers.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SMALL = dict(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257)


def make_checkpoint(folder: Path) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config(**SMALL, attn_implementation="eager")).eval()
    m.save_pretrained(folder)
    # a tokenizer for TransformerLens (tokgeo's bundled GPT-2 files are HF's vocab.json/merges.txt)
    data = ROOT / "tokgeo" / "data" / "gpt2"
    (folder / "vocab.json").write_bytes((data / "encoder.json").read_bytes())
    (folder / "merges.txt").write_bytes((data / "vocab.bpe").read_bytes())


def make_peers(folder: Path) -> None:
    """ONNX export (+ ORT's GPT-2 optimizer) and CTranslate2 conversion of the checkpoint in
    `folder`; writes folder/peers.json with, per peer, the model path or the reason it is
    unavailable."""
    status: dict[str, dict[str, str]] = {}
    try:
        import onnxruntime  # noqa: F401
        import torch
        from transformers import GPT2LMHeadModel

        hf = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()

        class LogitsOnly(torch.nn.Module):
            def __init__(self, m: torch.nn.Module) -> None:
                super().__init__()
                self.m = m

            def forward(self, ids, mask):  # type: ignore[no-untyped-def]
                return self.m(input_ids=ids, attention_mask=mask, use_cache=False, return_dict=False)[0]

        ids = torch.randint(0, 50257, (2, 8))
        raw = folder / "model.onnx"
        dyn = {"b": 0, "t": 1}
        torch.onnx.export(LogitsOnly(hf), (ids, torch.ones_like(ids)), str(raw), input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={k: {v: n for n, v in dyn.items()} for k in ("input_ids", "attention_mask", "logits")})
        path, note = raw, "torch.onnx export, not optimized"
        try:
            from onnxruntime.transformers.optimizer import optimize_model

            om = optimize_model(str(raw), model_type="gpt2", num_heads=SMALL["n_head"], hidden_size=SMALL["n_embd"])
            path = folder / "model_opt.onnx"
            om.save_model_to_file(str(path))
            fused = {k: v for k, v in om.get_fused_operator_statistics().items() if v}
            note = "onnxruntime.transformers optimizer, model_type=gpt2; fused: " + json.dumps(fused)
        except Exception as e:  # pragma: no cover - depends on the machine
            note = f"ORT optimizer failed ({type(e).__name__}: {e}); raw export"
        status["onnxruntime"] = {"path": str(path), "note": note}
    except Exception as e:  # pragma: no cover - depends on the machine
        status["onnxruntime"] = {"reason": f"{type(e).__name__}: {e}"}
    try:
        from ctranslate2.converters import TransformersConverter

        out = folder / "ct2"
        TransformersConverter(str(folder)).convert(str(out), quantization="float32", force=True)
        status["ctranslate2"] = {"path": str(out), "note": "TransformersConverter, float32"}
    except Exception as e:  # pragma: no cover - depends on the machine
        status["ctranslate2"] = {"reason": f"{type(e).__name__}: {e}"}
    (folder / "peers.json").write_text(json.dumps(status))


def workloads(quick: bool) -> dict[str, list[list[int]]]:
    import numpy as np

    rng = np.random.default_rng(0)
    lesson = [rng.integers(0, 50257, int(n)).tolist() for n in rng.integers(6, 11, 54)]
    long = [rng.integers(0, 50257, 256 if quick else 1024).tolist()]
    return {"lesson": lesson, "long": long}


def padded(rows: list[list[int]]) -> tuple:
    import numpy as np

    T = max(len(r) for r in rows)
    ids = np.full((len(rows), T), 50256, np.int64)
    mask = np.zeros((len(rows), T), np.int64)
    for b, r in enumerate(rows):
        ids[b, : len(r)] = r
        mask[b, : len(r)] = 1
    return ids, mask


def peak_rss() -> int:
    """This process's peak resident set (VmHWM).  Not ru_maxrss: Linux carries that over
    from the parent across fork + exec, so a child would report the launcher's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # pragma: no cover


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timeit(fn, repeats: int) -> tuple[float, float, float]:
    """(fastest wall seconds, median wall seconds, mean CPU seconds) per call after one
    warm-up call.  The ratios use the fastest run: on a shared machine other processes only
    ever add time.  CPU time (user + system, all threads) is shown as a second opinion."""
    fn()  # warm-up
    ts = []
    c0 = cpu_seconds()
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts), statistics.median(ts), (cpu_seconds() - c0) / repeats


# ----------------------------------------------------------------------------- engines
def engine_tokgeo(folder: Path, rows, threads: int):
    sys.path.insert(0, str(ROOT))
    import tokgeo

    tokgeo.set_num_threads(threads)
    model = tokgeo.GPT2.from_pretrained(folder)
    state = {}

    def run():
        state["cache"] = None  # free the previous arena first
        state["cache"] = model.run(rows, capture="all")

    return run, model


def engine_hf(folder: Path, rows, threads: int):
    import torch
    from transformers import GPT2LMHeadModel

    torch.set_num_threads(threads)
    model = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    ids, mask = padded(rows)
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    state = {}

    def run():
        state["out"] = None
        with torch.no_grad():
            state["out"] = model(ids_t, attention_mask=mask_t, output_hidden_states=True, output_attentions=True)

    return run, model


def tl_available() -> str | None:
    try:
        import transformer_lens  # noqa: F401
        from transformer_lens.model_bridge import TransformerBridge  # noqa: F401
    except Exception as e:  # pragma: no cover - depends on the machine
        return f"TransformerLens not importable ({type(e).__name__}: {e})"
    return None


def engine_tl(folder: Path, rows, threads: int):
    import torch
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import GPT2LMHeadModel, GPT2TokenizerFast

    torch.set_num_threads(threads)
    hf = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    tok = GPT2TokenizerFast.from_pretrained(folder)
    bridge = TransformerBridge.boot_transformers(str(folder), hf_model=hf, tokenizer=tok, device="cpu")
    bridge.enable_compatibility_mode(disable_warnings=True, no_processing=True)  # unprocessed weights
    ids, mask = padded(rows)
    ids_t = torch.tensor(ids)
    state = {}

    def run():
        state["out"] = None
        with torch.no_grad():
            state["out"] = bridge.run_with_cache(ids_t)  # same padded ids; TL has no padding mask here

    return run, bridge


ENGINES = {"tokgeo": engine_tokgeo, "transformers": engine_hf, "transformerlens": engine_tl}


# ----------------------------------------------------------------------------- peers (logits only)
def peers_child(args: argparse.Namespace) -> None:
    """One thread setting ("1", "2" or "default"): loads tokgeo and every available peer in
    this process, checks their logits against tokgeo's, then times them interleaved."""
    import numpy as np

    folder = Path(args.folder)
    status = json.loads((folder / "peers.json").read_text())
    n = None if args.peer_threads == "default" else int(args.peer_threads)
    sys.path.insert(0, str(ROOT))
    import tokgeo

    if n is not None:
        tokgeo.set_num_threads(n)
    model = tokgeo.GPT2.from_pretrained(folder)
    engines: dict = {}
    reasons: dict[str, str] = {}
    state: dict = {}

    def tg_run(rows):  # type: ignore[no-untyped-def]
        state["tg"] = None
        state["tg"] = model.run(rows, capture="logits")
        return state["tg"]["logits"]

    engines["tokgeo"] = tg_run
    if "path" in status.get("onnxruntime", {}):
        try:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = n or 0
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(status["onnxruntime"]["path"], so, providers=["CPUExecutionProvider"])

            def ort_run(rows):  # type: ignore[no-untyped-def]
                ids, mask = padded(rows)
                return sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]

            engines["onnxruntime"] = ort_run
        except Exception as e:  # pragma: no cover - depends on the machine
            reasons["onnxruntime"] = f"{type(e).__name__}: {e}"
    else:
        reasons["onnxruntime"] = status.get("onnxruntime", {}).get("reason", "not prepared")
    if "path" in status.get("ctranslate2", {}):
        try:
            import ctranslate2

            gen = ctranslate2.Generator(status["ctranslate2"]["path"], device="cpu", compute_type="float32",
                                        intra_threads=n or 0, inter_threads=1)

            def ct2_run(rows):  # type: ignore[no-untyped-def]
                return np.asarray(gen.forward_batch(rows))

            engines["ctranslate2"] = ct2_run
        except Exception as e:  # pragma: no cover - depends on the machine
            reasons["ctranslate2"] = f"{type(e).__name__}: {e}"
    else:
        reasons["ctranslate2"] = status.get("ctranslate2", {}).get("reason", "not prepared")
    out: dict = {"threads": args.peer_threads, "tokgeo_threads": tokgeo.get_num_threads(), "reasons": reasons,
                 "notes": {k: v.get("note", "") for k, v in status.items()}, "rows": {}}
    for wl, rows in workloads(args.quick).items():
        ref = tg_run(rows)
        lens = [len(r) for r in rows]
        for name, fn in list(engines.items())[1:]:
            got = fn(rows)
            err = max(float(np.abs(got[b, :k] - ref[b, :k]).max()) for b, k in enumerate(lens))
            if not err <= 1e-4:
                reasons[name] = f"logits differ from tokgeo's by {err:.2e} on {wl}; not timed"
                del engines[name]
        names = list(engines)
        for fn in engines.values():
            fn(rows)  # warm-up
        ts: dict[str, list[float]] = {k: [] for k in names}
        cpu: dict[str, list[float]] = {k: [] for k in names}
        load0 = os.getloadavg()
        for r in range(args.repeats):
            for k in names[r % len(names):] + names[: r % len(names)]:  # rotate the order
                c0, t0 = cpu_seconds(), time.perf_counter()
                engines[k](rows)
                ts[k].append(time.perf_counter() - t0)
                cpu[k].append(cpu_seconds() - c0)
        out["rows"][wl] = {k: {"min": min(ts[k]), "median": statistics.median(ts[k]), "cpu_min": min(cpu[k]),
                               "cpu_per_wall": sum(cpu[k]) / sum(ts[k])} for k in names}
        out["rows"][wl]["_load"] = [load0, os.getloadavg()]
        out["rows"][wl]["_shape"] = [len(rows), max(lens), sum(lens)]
    print("RESULT " + json.dumps(out))


def run_peers(folder: Path, args: argparse.Namespace) -> list[str]:
    print("exporting the checkpoint for ONNX Runtime and CTranslate2 ...", flush=True)
    p = subprocess.run([sys.executable, __file__, "--make-peers", str(folder)], capture_output=True, text=True)
    if p.returncode != 0:
        print(f"peer preparation failed:\n{p.stderr[-2000:]}")
        return []
    lines = ["", "## Logits only, side by side with ONNX Runtime and CTranslate2", "",
             "Each thread setting runs in its own process; the contenders are interleaved call by call "
             f"({args.repeats} rounds, the order rotated each round, after one warm-up each). "
             "CPU (min): the smallest process CPU time (user + system, all threads) of one call, less "
             "sensitive to a loaded machine than wall time; cpu/wall: CPU seconds per wall second during the "
             "calls (cores really kept busy).", ""]
    notes_done = False
    for th in ("1", "2", "default"):
        cmd = [sys.executable, __file__, "--folder", str(folder), "--peers-child", "--peer-threads", th,
               "--repeats", str(args.repeats)] + (["--quick"] if args.quick else [])
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        if th != "default":
            env["OMP_NUM_THREADS"] = th
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
        if p.returncode != 0 or not line:
            print(f"peers at threads={th} failed:\n{p.stderr[-3000:]}", flush=True)
            continue
        r = json.loads(line[0][7:])
        if not notes_done:
            for k, v in r["notes"].items():
                if v:
                    lines.append(f"- {k}: {v}")
            notes_done = True
        for k, why in r["reasons"].items():
            print(f"threads={th}: {k} skipped: {why}")
            lines.append(f"- threads={th}: {k} skipped: {why}")
        lines += ["", f"threads = {th}" + (f" (tokgeo: {r['tokgeo_threads']})" if th == "default" else ""), "",
                  "| workload | B x T (real tokens) | engine | min | median | CPU (min) | cpu/wall | peer / tokgeo (min) | load avg (1 min, before -> after) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for wl, res in r["rows"].items():
            B, T, real = res.pop("_shape")
            (l0, _, _), (l1, _, _) = res.pop("_load")
            tg = res["tokgeo"]["min"]
            for k, v in res.items():
                lines.append(f"| {wl} | {B} x {T} ({real}) | {k} | {v['min'] * 1e3:.0f} ms | {v['median'] * 1e3:.0f} ms | "
                             f"{v['cpu_min'] * 1e3:.0f} ms | {v['cpu_per_wall']:.2f} | {v['min'] / tg:.2f} | {l0:.1f} -> {l1:.1f} |")
                print(f"threads={th:7s} {wl:7s} {k:12s} min {v['min'] * 1e3:8.1f} ms  median {v['median'] * 1e3:8.1f} ms  "
                      f"CPU min {v['cpu_min'] * 1e3:8.1f} ms  cpu/wall {v['cpu_per_wall']:.2f}  peer/tokgeo {v['min'] / tg:.2f}  "
                      f"load {l0:.1f}->{l1:.1f}", flush=True)
    return lines


def child(args: argparse.Namespace) -> None:
    """Runs one engine on one workload in this (fresh) process and prints JSON."""
    folder = Path(args.folder)
    rows = workloads(args.quick)[args.workload]
    run, model = ENGINES[args.engine](folder, rows, args.threads)
    rss_loaded = peak_rss()
    t, med, cpu = timeit(run, args.repeats)
    peak = peak_rss()
    out = {"seconds": t, "median_seconds": med, "cpu_seconds": cpu, "peak_rss": peak, "rss_loaded": rss_loaded}
    if args.engine == "tokgeo":
        import numpy as np

        ids, _ = padded(rows)
        want = __import__("tokgeo.hooks", fromlist=["capture_flags"]).capture_flags("all", None, 12)
        plan = model._c.plan(ids.shape[0], ids.shape[1], want)
        out["arena_bytes"] = plan["arena_bytes"]
        out["scratch_bytes"] = plan["scratch_bytes"]
        out["weights_bytes"] = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        sys.path.insert(0, str(ROOT))
        from tokgeo import _C

        cfg = model.config._c_tuple()
        fl = []
        for _ in range(max(2, args.repeats)):
            c0 = cpu_seconds()
            w = _C.time_products(cfg, ids.shape[0], ids.shape[1], True)
            fl.append((w, cpu_seconds() - c0))
        out["floor_seconds"] = min(w for w, _ in fl)
        _ = np
    print("RESULT " + json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="256 instead of 1024 tokens for the long workload")
    ap.add_argument("--no-tl", action="store_true", help="skip TransformerLens")
    ap.add_argument("--no-peers", action="store_true", help="skip the ONNX Runtime / CTranslate2 comparison")
    ap.add_argument("--peers-only", action="store_true", help="only the ONNX Runtime / CTranslate2 comparison")
    ap.add_argument("--make-peers", help=argparse.SUPPRESS)
    ap.add_argument("--peers-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peer-threads", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--make-checkpoint", help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_checkpoint:
        make_checkpoint(Path(args.make_checkpoint))
        return
    if args.make_peers:
        make_peers(Path(args.make_peers))
        return
    if args.peers_child:
        peers_child(args)
        return
    if args.engine:
        child(args)
        return
    tl_reason = "skipped (--no-tl)" if args.no_tl else tl_available()
    engines = ["tokgeo", "transformers"] + ([] if tl_reason else ["transformerlens"])
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "gpt2-small-random"
        print("writing a random GPT-2 small checkpoint ...", flush=True)
        # in a child: the launcher itself must not import torch, whose idle OpenMP threads
        # could keep spinning on a core while the measured children run
        subprocess.run([sys.executable, __file__, "--make-checkpoint", str(folder)], check=True,
                       capture_output=True)
        peer_lines = [] if args.no_peers else run_peers(folder, args)
        if peer_lines:
            out = HERE / "results" / "model_peers.md"
            out.parent.mkdir(exist_ok=True)
            head = ["# tokgeo.GPT2 vs ONNX Runtime and CTranslate2 (logits only)", "",
                    f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; GPT-2 small shape, "
                    "random weights." + (" QUICK mode: the long workload has 256 tokens." if args.quick else "")]
            out.write_text("\n".join(head + peer_lines) + "\n")
            print(f"wrote {out}")
        if args.peers_only:
            return
        for wl in ("lesson", "long"):
            for eng in engines:
                cmd = [sys.executable, __file__, "--folder", str(folder), "--engine", eng, "--workload", wl,
                       "--threads", str(args.threads), "--repeats", str(args.repeats)] + (["--quick"] if args.quick else [])
                env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                           OMP_NUM_THREADS=str(args.threads))
                p = subprocess.run(cmd, capture_output=True, text=True, env=env)
                line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
                if p.returncode != 0 or not line:
                    print(f"{eng} on {wl} failed:\n{p.stderr[-3000:]}", flush=True)
                    results[(wl, eng)] = None
                    continue
                results[(wl, eng)] = json.loads(line[0][7:])
                r = results[(wl, eng)]
                print(f"{wl:7s} {eng:16s} {r['seconds'] * 1e3:9.1f} ms fastest {r['median_seconds'] * 1e3:9.1f} ms median "
                      f"{r['cpu_seconds'] * 1e3:9.1f} ms CPU   "
                      f"peak RSS {r['peak_rss'] / 2**20:8.0f} MiB", flush=True)
    report(results, args, tl_reason)


def report(results: dict, args: argparse.Namespace, tl_reason: str | None) -> None:
    lines = [
        "# tokgeo.GPT2 benchmark",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; threads = {args.threads}; "
        f"{args.repeats} runs after a warm-up; GPT-2 small shape, random weights."
        + (" QUICK mode: the long workload has 256 tokens." if args.quick else ""),
        "",
        "Wall time of the fastest run (other processes on a shared machine only add time), "
        "in brackets the median wall time and the mean CPU time (user + system, all threads).",
        "",
        "| workload | tokgeo (all hooks) | transformers | TransformerLens | BLIS products alone | tokgeo vs HF | tokgeo vs TL | tokgeo / BLIS floor |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    mem = ["", "| workload | tokgeo peak RSS | weights + activations | ratio | transformers peak RSS | TL peak RSS |",
           "| --- | --- | --- | --- | --- | --- |"]
    for wl in ("lesson", "long"):
        tg, hf, tl = (results.get((wl, e)) for e in ("tokgeo", "transformers", "transformerlens"))
        if tg is None:
            continue
        f = tg["floor_seconds"]
        ms = lambda r: (  # noqa: E731
            f"{r['seconds'] * 1e3:.0f} ms ({r['median_seconds'] * 1e3:.0f}, {r['cpu_seconds'] * 1e3:.0f} CPU)" if r else "n/a"
        )
        ratio = lambda r: (  # noqa: E731
            f"{r['seconds'] / tg['seconds']:.2f}x ({r['cpu_seconds'] / tg['cpu_seconds']:.2f}x CPU)" if r else "n/a"
        )
        lines.append(f"| {wl} | {ms(tg)} | {ms(hf)} | {ms(tl)} | {f * 1e3:.0f} ms | {ratio(hf)} | {ratio(tl)} | "
                     f"{tg['seconds'] / f:.2f} |")
        need = tg["weights_bytes"] + tg["arena_bytes"]
        mib = lambda b: f"{b / 2**20:.0f} MiB"  # noqa: E731
        mem.append(f"| {wl} | {mib(tg['peak_rss'])} | {mib(need)} | {tg['peak_rss'] / need:.2f} | "
                   f"{mib(hf['peak_rss']) if hf else 'n/a'} | {mib(tl['peak_rss']) if tl else 'n/a'} |")
        sp = lambda r, key: r[key] / tg[key] if r else float("nan")  # noqa: E731
        print(f"{wl}: speed-up vs HF {sp(hf, 'seconds'):.2f} wall / {sp(hf, 'cpu_seconds'):.2f} CPU (goal >= 1.5); "
              f"vs TL {sp(tl, 'seconds'):.2f} wall / {sp(tl, 'cpu_seconds'):.2f} CPU (goal >= 2); "
              f"tokgeo / BLIS floor {tg['seconds'] / f:.2f} (goal <= 1.5); "
              f"peak RSS / (weights + activations) {tg['peak_rss'] / need:.2f} (goal <= 1.1)")
    text = "\n".join(lines + mem)
    if tl_reason:
        text += f"\n\nTransformerLens: {tl_reason}.\n"
    text += (
        "\nNotes: the BLIS floor runs the same products (4 projections per block, per-head attention "
        "products over causal 64-row blocks, logits) on scratch buffers with the same thread count. "
        "Peak RSS includes the Python interpreter, NumPy and the extension (~40 MiB), and the mapped "
        "weights once touched.\n"
    )
    out = HERE / "results" / "model.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
