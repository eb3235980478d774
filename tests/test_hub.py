"""tokgeo.hub against a hub-shaped server on 127.0.0.1 (tests/hubserver.py): what is ours (names,
packaged models, local folders, the cache-first rule, the SHA-256 check) and the guarantees
against a hostile server that huggingface_hub alone does not give."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tokgeo.hub as hub_mod
from tokgeo.errors import FormatError, HubError, InvalidInputError, InvalidTypeError, OfflineError, TokgeoIOError
from tokgeo.hub import resolve, resolve_model

from hubserver import HubServer, git_blob_sha1, sha256

TOKEN = "hf_TopSecretTokenValue1234567890"
CONFIG = json.dumps({"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 8}).encode()
VOCAB = json.dumps({"!": 0, "<|endoftext|>": 1}).encode()
MERGES = b"#version: 0.2\n\xc4\xa0 t\n"
WEIGHTS = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(10_000))  # 320 kB
GPT2_FILES = {"config.json": CONFIG, "vocab.json": VOCAB, "merges.txt": MERGES, "model.safetensors": WEIGHTS,
              "pytorch_model.bin": b"never fetched", "README.md": b"# gpt2\n"}
DEFAULT_FILES = {"config.json", "vocab.json", "merges.txt", "model.safetensors"}
REPO = "models--openai-community--gpt2"


@pytest.fixture
def hub():
    with HubServer(token=TOKEN) as server:
        server.add_repo("openai-community/gpt2", GPT2_FILES)
        yield server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: HubServer) -> Path:
    """A fresh cache, the endpoint set to the local server, no token, online."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "TOKGEO_HUB_STORAGE_HOSTS", "TOKGEO_HUB_DEADLINE", "TOKGEO_HUB_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    return tmp_path / "cache"


def _written(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if not p.is_dir()}


# -- downloads, the cache, offline ---------------------------------------------------------------


def test_download_end_to_end_in_the_shared_cache_layout(hub: HubServer, cache: Path) -> None:
    commit = hub.repos["openai-community/gpt2"].commit
    info = resolve("gpt2", token=TOKEN, progress=False)
    assert (info.source, info.repo_id, info.commit) == ("hub", "openai-community/gpt2", commit)
    assert info.path == cache / REPO / "snapshots" / commit
    assert {p.name for p in info.path.iterdir()} == DEFAULT_FILES
    for name in DEFAULT_FILES:  # links into blobs/ named by the hub's digest of the bytes
        data = GPT2_FILES[name]
        digest = sha256(data) if name.endswith(".safetensors") else git_blob_sha1(data)
        assert os.path.realpath(info.path / name) == str((cache / REPO / "blobs" / digest).resolve())
        assert (info.path / name).read_bytes() == data
    assert (cache / REPO / "refs" / "main").read_text() == commit
    assert info.digest() == "sha256:" + hashlib.sha256(WEIGHTS).hexdigest()
    paths = [path for _, _, path, _ in hub.requests]
    assert not any("pytorch_model.bin" in p or "README" in p for p in paths)
    for server, _, _, headers in hub.requests:  # the token goes to the endpoint, never to storage
        assert (headers.get("authorization") == f"Bearer {TOKEN}") == (server == "hub")


def test_cache_first_and_offline_open_no_connection(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as err:
        resolve_model("gpt2-medium")
    message = str(err.value)
    assert "hf download openai-community/gpt2-medium config.json vocab.json merges.txt model.safetensors" in message
    assert "--local-dir gpt2-medium" in message and "scp -r" in message and "./gpt2-medium" in message
    assert hub.connections == 0
    monkeypatch.delenv("HF_HUB_OFFLINE")
    first = resolve_model("gpt2", progress=False)
    seen = hub.connections
    assert resolve_model("gpt2") == first  # complete snapshot: no request at all
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("openai-community/gpt2") == first
    assert hub.connections == seen
    (first / "vocab.json").unlink()  # incomplete snapshot: offline names the missing file
    with pytest.raises(OfflineError, match="vocab.json"):
        resolve_model("gpt2")
    assert hub.connections == seen


def test_filenames_fetches_exactly_those(hub: HubServer, cache: Path) -> None:
    folder = resolve_model("gpt2", filenames=["config.json"], progress=False)
    assert [p.name for p in folder.iterdir()] == ["config.json"]
    assert all("model.safetensors" not in path for _, _, path, _ in hub.requests)
    with pytest.raises(HubError, match="no nothing.json"):
        resolve_model("gpt2", filenames=["nothing.json"])


def test_refresh_follows_a_moved_branch_and_ref_moves_last(hub: HubServer, cache: Path) -> None:
    old = resolve_model("gpt2", progress=False)
    hub.add_repo("openai-community/gpt2", {**GPT2_FILES, "config.json": b"{}"})
    assert resolve_model("gpt2") == old  # cache first
    hub.evil["model.safetensors"] = {"body": "corrupt"}  # same blob: already there, not fetched
    new = resolve_model("gpt2", refresh=True, progress=False)
    assert new != old and (new / "config.json").read_bytes() == b"{}"


def test_corrupt_download_is_deleted_then_retried(hub: HubServer, cache: Path) -> None:
    hub.evil["model.safetensors"] = {"body": "corrupt"}
    with pytest.raises(HubError, match="corrupt download of model.safetensors"):
        resolve_model("gpt2", progress=False)
    assert not any(p.name == sha256(WEIGHTS) for p in _written(cache))
    assert not (cache / REPO / "refs" / "main").exists()
    del hub.evil["model.safetensors"]
    assert (resolve_model("gpt2", progress=False) / "model.safetensors").read_bytes() == WEIGHTS


def test_killed_download_leaves_nothing_that_loads_as_complete(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    hub.evil["model.safetensors"] = {"body": "half", "delay": 60}
    code = "import tokgeo.hub; tokgeo.hub.resolve_model('gpt2', progress=False)"
    # cwd outside the checkout: `python -c` puts the cwd first on sys.path, and a clean
    # checkout's tokgeo/ has no compiled core
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                             cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while hub.bytes_sent < len(WEIGHTS) // 2 and time.monotonic() - t0 < 60:
        if child.poll() is not None:
            pytest.fail(f"the downloading child exited early ({child.returncode}): {child.stderr.read()[-2000:] if child.stderr else ''}")
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait()
    if child.stderr:
        child.stderr.close()
    assert hub.bytes_sent >= len(WEIGHTS) // 2
    names = {p.name for p in _written(cache)}
    assert sha256(WEIGHTS) not in names and not (cache / REPO / "refs" / "main").exists()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="model.safetensors"):
        resolve_model("gpt2")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    del hub.evil["model.safetensors"]
    assert (resolve_model("gpt2", progress=False) / "model.safetensors").read_bytes() == WEIGHTS


def _tiny_gpt2() -> tuple[dict[str, bytes], float]:
    """A real 1-layer GPT-2 checkpoint (random weights) with GPT-2's own tokenizer files."""
    import importlib.resources

    import numpy as np
    from safetensors.numpy import save

    rng, d, vocab = np.random.default_rng(0), 8, 50257
    shapes = {"wte.weight": (vocab, d), "wpe.weight": (16, d), "ln_f.weight": (d,), "ln_f.bias": (d,)}
    for part, shape in {"ln_1.weight": (d,), "ln_1.bias": (d,), "attn.c_attn.weight": (d, 3 * d), "attn.c_attn.bias": (3 * d,),
                        "attn.c_proj.weight": (d, d), "attn.c_proj.bias": (d,), "ln_2.weight": (d,), "ln_2.bias": (d,),
                        "mlp.c_fc.weight": (d, 4 * d), "mlp.c_fc.bias": (4 * d,), "mlp.c_proj.weight": (4 * d, d), "mlp.c_proj.bias": (d,)}.items():
        shapes[f"h.0.{part}"] = shape
    tensors = {f"transformer.{k}": rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 1, "n_head": 2, "n_embd": d,
              "n_positions": 16, "vocab_size": vocab, "bos_token_id": 50256, "eos_token_id": 50256}
    data = importlib.resources.files("tokgeo") / "data" / "gpt2"
    files = {"config.json": json.dumps(config).encode(), "model.safetensors": save(tensors, metadata={"format": "pt"}),
             "vocab.json": (data / "encoder.json").read_bytes(), "merges.txt": (data / "vocab.bpe").read_bytes()}
    return files, float(tensors["transformer.wte.weight"].astype(np.float64).sum())


@pytest.mark.slow
def test_transformers_finds_offline_what_tokgeo_downloaded(hub: HubServer, cache: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    files, wte_sum = _tiny_gpt2()
    hub.add_repo("tiny/gpt2", files)
    folder = resolve_model("tiny/gpt2", progress=False)
    seen = hub.connections
    code = (
        "import sys, transformers\n"
        "m = transformers.AutoModelForCausalLM.from_pretrained('tiny/gpt2', cache_dir=sys.argv[1])\n"
        "t = transformers.AutoTokenizer.from_pretrained('tiny/gpt2', cache_dir=sys.argv[1])\n"
        "print(repr(float(m.transformer.wte.weight.double().sum())), t('She gave her book')['input_ids'])\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home"), "TRANSFORMERS_VERBOSITY": "error"}
    proc = subprocess.run([sys.executable, "-c", code, str(cache)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got, ids = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert float(got) == pytest.approx(wte_sum, rel=1e-6) and ids == "[3347, 2921, 607, 1492]"
    assert hub.connections == seen
    import tokgeo

    assert tokgeo.GPT2.from_pretrained(folder).config.n_layer == 1


# -- hostile server: nothing outside the cache, no reading past the size, deadlines -------------


@pytest.mark.parametrize("file,headers", [
    ("config.json", {"ETag": '"../../../outside/pwned"'}),
    ("config.json", {"ETag": '"/absolute/path"'}),
    ("config.json", {"X-Repo-Commit": "../../../outside/pwned"}),
    ("model.safetensors", {"X-Linked-Etag": '"../../../../outside/pwned"'}),
    ("model.safetensors", {"X-Linked-Size": "-5"}),
])
def test_hostile_names_write_nothing_outside_the_cache(hub: HubServer, cache: Path, tmp_path: Path, file: str, headers: dict) -> None:
    hub.evil[file] = {"head": headers}
    before = _written(tmp_path) | {p for p in (Path("/absolute/path"), Path("/absolute/path.lock")) if p.exists()}
    with pytest.raises(HubError, match="refused while fetching"):
        resolve_model("gpt2", progress=False)
    after = _written(tmp_path)
    assert not any("pwned" in str(p) or "absolute" in str(p) for p in after)
    assert not Path("/absolute/path").exists() or Path("/absolute/path") in before
    assert all(p.is_relative_to(cache) for p in after - before)
    blobs = cache / REPO / "blobs"
    assert all(len(p.name) in (40, 64) or p.name.endswith(".incomplete") for p in (blobs.iterdir() if blobs.exists() else []))


@pytest.mark.parametrize("where", ["file:///etc/passwd", "http://localhost:{port}/lfs/x", "ftp://127.0.0.1/x"])
def test_redirects_only_to_the_endpoints_storage(hub: HubServer, cache: Path, where: str) -> None:
    hub.evil["model.safetensors"] = {"head": {"Location": where.format(port=hub.cdn_url.rsplit(":", 1)[1])}}
    with pytest.raises(HubError, match="is not http"):
        resolve_model("gpt2", progress=False)
    assert hub.count(server="cdn") == 0


def test_storage_hosts_can_be_added(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = hub.cdn_url.rsplit(":", 1)[1]
    hub.evil["model.safetensors"] = {"head": {"Location": f"http://localhost:{port}/lfs/{sha256(WEIGHTS)}"}}
    monkeypatch.setenv("TOKGEO_HUB_STORAGE_HOSTS", "localhost")
    assert (resolve_model("gpt2", progress=False) / "model.safetensors").read_bytes() == WEIGHTS


@pytest.mark.parametrize("file,evil", [
    ("model.safetensors", {"head": {"X-Linked-Size": "1000"}}),  # Content-Length 320 kB > 1000: refused at once
    ("model.safetensors", {"head": {"X-Linked-Size": "1000"}, "body": "flood"}),  # no length: stopped at 1000
    ("config.json", {"head": {"Content-Length": None}, "body": "flood"}),  # nothing announced: 16 MiB ceiling
])
def test_no_reading_past_the_announced_size(hub: HubServer, cache: Path, file: str, evil: dict) -> None:
    hub.evil[file] = evil
    with pytest.raises(HubError, match="announced"):
        resolve_model("gpt2", progress=False)
    assert hub.bytes_sent < 48 << 20  # the flood stops once we hang up (plus socket buffers)
    assert not [p for p in _written(cache) if p.name.endswith(".incomplete")]


def test_a_dripping_server_hits_the_file_deadline(hub: HubServer, cache: Path) -> None:
    hub.evil["config.json"] = {"body": "drip", "delay": 0.5}
    t0 = time.monotonic()
    with pytest.raises(HubError, match=r"deadline=2 s"):
        resolve_model("gpt2", progress=False, deadline=2)
    assert time.monotonic() - t0 < 4.5


def test_a_silent_server_hits_the_deadline_through_retries(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.evil["config.json"] = {"body": "half", "delay": 30}
    monkeypatch.setenv("TOKGEO_HUB_DEADLINE", "3")
    t0 = time.monotonic()
    with pytest.raises(HubError, match="deadline=3 s"):
        resolve_model("gpt2", progress=False, timeout=1)
    assert time.monotonic() - t0 < 6


def test_json_bomb_in_the_api_reply_is_a_hub_error(hub: HubServer, cache: Path) -> None:
    hub.api_body = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(HubError, match="nested too deeply"):
        resolve_model("gpt2", progress=False)
    hub.api_body = b"{" + b'"a":' * 10 + b"x"
    with pytest.raises(HubError):
        resolve_model("gpt2", progress=False)


# -- names: packaged models, aliases, local folders ----------------------------------------------


def _folder(path: Path, files: dict[str, bytes]) -> Path:
    path.mkdir(parents=True)
    for name, data in files.items():
        (path / name).write_bytes(data)
    return path


def test_packaged_model_by_name_before_any_hub_lookup(hub: HubServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "packaged"
    folder = _folder(models / "tiny-mini", {"config.json": CONFIG, "model.safetensors": WEIGHTS})
    _folder(models / "gpt2", {"config.json": CONFIG, "model.safetensors": WEIGHTS})
    _folder(models / "half", {"config.json": CONFIG})
    monkeypatch.setattr(hub_mod, "PACKAGED_MODELS_DIR", models)
    info = resolve("tiny-mini")
    assert (info.source, info.path, info.commit) == ("packaged", folder, None)
    assert info.digest() == "sha256:" + sha256(WEIGHTS)
    assert resolve("gpt2").source == "packaged"
    assert hub.connections == 0
    with pytest.raises(HubError, match="does not exist"):  # no weights: not a packaged model
        resolve("half", progress=False)


def test_alias_goes_to_the_hub_even_beside_a_same_named_folder(hub: HubServer, cache: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    local = _folder(tmp_path / "gpt2", {"config.json": b"{}"})
    _folder(tmp_path / "my-model", {"config.json": b"{}"})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"write '\./gpt2' to use the local one"):
        resolve("gpt2")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with caplog.at_level(logging.WARNING, logger="tokgeo.hub"):
        assert resolve("gpt2", progress=False).source == "hub"
    assert "write './gpt2'" in caplog.text
    assert resolve("./gpt2").path.resolve() == local
    assert resolve(Path("gpt2")).source == "local"
    assert resolve("my-model").source == "local"  # not reserved: an existing folder is used


def test_aliases_renamed_repositories_and_the_old_cache_folder(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [hub_mod.canonical_repo_id(n) for n in ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "someone/gpt2")] == [
        "openai-community/gpt2", "openai-community/gpt2-medium", "openai-community/gpt2-large", "openai-community/gpt2-xl", "someone/gpt2"]
    hub.add_repo("neworg/tiny", GPT2_FILES)
    hub.aliases["tiny"] = "neworg/tiny"
    assert (resolve_model("tiny", progress=False) / "model.safetensors").read_bytes() == WEIGHTS
    hub.add_repo("gpt2-large", GPT2_FILES)  # what older transformers cached as models--gpt2-large
    import huggingface_hub

    for name in DEFAULT_FILES:
        huggingface_hub.hf_hub_download("gpt2-large", name, cache_dir=cache, endpoint=hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve("gpt2-large").path.parent.parent.name == "models--gpt2-large"


def _sharded() -> dict[str, bytes]:
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    return {"config.json": CONFIG, "vocab.json": VOCAB, "merges.txt": MERGES, "model.safetensors.index.json": json.dumps(index).encode(),
            "model-00001-of-00002.safetensors": WEIGHTS[:1000], "model-00002-of-00002.safetensors": WEIGHTS[1000:2000]}


def test_sharded_checkpoint_and_its_digest(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.add_repo("big/gpt2", _sharded())
    folder = resolve_model("big/gpt2", progress=False)
    assert {p.name for p in folder.iterdir()} == set(_sharded())
    lines = f"{sha256(WEIGHTS[:1000])}  model-00001-of-00002.safetensors\n{sha256(WEIGHTS[1000:2000])}  model-00002-of-00002.safetensors\n"
    assert hub_mod.checkpoint_digest(folder) == "sha256:" + sha256(lines.encode())
    assert hub_mod.checkpoint_digest(folder, verify=True) == hub_mod.checkpoint_digest(folder)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("big/gpt2") == folder
    bad = {**_sharded(), "model.safetensors.index.json": b'{"weight_map": {"a": "../escape.safetensors"}}'}
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub.add_repo("bad/gpt2", bad)
    with pytest.raises(FormatError, match="relative"):
        resolve_model("bad/gpt2", progress=False)


def test_refusals_say_what_to_do(hub: HubServer, cache: Path) -> None:
    hub.add_repo("old/bin-only", {"config.json": CONFIG, "vocab.json": VOCAB, "merges.txt": MERGES, "pytorch_model.bin": b"x"})
    with pytest.raises(HubError, match=r"no safetensors weights \(pytorch_model.bin\).*save_pretrained"):
        resolve_model("old/bin-only", progress=False)
    hub.add_repo("me/private", GPT2_FILES, private=True)
    with pytest.raises(HubError, match="hf auth login"):
        resolve_model("me/private", token=False, progress=False)
    assert resolve_model("me/private", token=TOKEN, progress=False).is_dir()
    with pytest.raises(HubError, match="no such revision"):
        resolve_model("gpt2", revision="v9", progress=False)


def test_unreachable_hub_names_the_way_out(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://user:pw@127.0.0.1:{port}")
    with pytest.raises(HubError, match="HF_HUB_OFFLINE=1") as err:
        resolve_model("gpt2", progress=False, timeout=2)
    assert "pw" not in str(err.value)


def test_bad_arguments(cache: Path, tmp_path: Path) -> None:
    for bad, exc in [("", InvalidInputError), (b"gpt2", InvalidTypeError), ("org/a--b", InvalidInputError),
                     ("./missing", TokgeoIOError), ("a/b/c", TokgeoIOError)]:
        with pytest.raises(exc):
            resolve_model(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="revision"):
        resolve_model("gpt2", revision="../x")
    with pytest.raises(InvalidTypeError, match="filenames"):
        resolve_model("gpt2", filenames="config.json")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="deadline"):
        resolve_model("gpt2", deadline=-1)
    assert resolve_model(tmp_path) == tmp_path


def test_local_use_does_not_import_huggingface_hub(tmp_path: Path) -> None:
    code = ("import sys, tokgeo, tokgeo.hub; p = tokgeo.hub.resolve(sys.argv[1]); "
            "assert p.source == 'local' and 'huggingface_hub' not in sys.modules, sorted(sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env, cwd=tmp_path)


def test_cache_dir_follows_the_hf_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert hub_mod.cache_dir() == tmp_path / "x" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "h"))
    assert hub_mod.cache_dir() == tmp_path / "h" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    assert hub_mod.cache_dir() == tmp_path / "c"
