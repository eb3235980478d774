"""tokgeo.hub against a hub-shaped server on 127.0.0.1 (tests/hubserver.py).

Both backends (the built-in urllib client and huggingface_hub) run the shared tests; fault
injection (corrupt, truncated, killed, concurrent downloads) is exercised on the built-in
client, and the corrupt-payload check on both.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

import tokgeo
import tokgeo.hub as hub_mod
from tokgeo.hub import resolve_model

from conftest import require_all
from hubserver import HubServer, git_blob_sha1, resolve_in_child, sha256

TOKEN = "hf_TopSecretTokenValue1234567890"
WRONG_TOKEN = "hf_WrongTokenValueABCDEFGHIJ0987"

CONFIG = json.dumps({"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 8, "vocab_size": 50257}).encode()
VOCAB = json.dumps({"!": 0, '"': 1, "<|endoftext|>": 50256}).encode()
MERGES = b"#version: 0.2\n\xc4\xa0 t\n"


def _weights(seed: int, size: int = 300_000) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d-%d" % (seed, counter)).digest()
        counter += 1
    return bytes(out[:size])


WEIGHTS = _weights(1)
GPT2_FILES = {
    "config.json": CONFIG,
    "vocab.json": VOCAB,
    "merges.txt": MERGES,
    "model.safetensors": WEIGHTS,
    "pytorch_model.bin": b"pickle that must never be fetched",
    "README.md": b"# gpt2\n",
}
DEFAULT_FILES = {"config.json", "vocab.json", "merges.txt", "model.safetensors"}
BACKENDS = ["builtin", "huggingface_hub"]


def _have_hf() -> bool:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return False
    return True


def _need_hf() -> None:
    if not _have_hf():
        if require_all():
            pytest.fail("huggingface_hub is missing: run scripts/setup.sh")
        pytest.skip("huggingface_hub not installed")


@pytest.fixture
def hub():
    with HubServer(token=TOKEN) as server:
        server.add_repo("openai-community/gpt2", GPT2_FILES)
        server.aliases["gpt2"] = "openai-community/gpt2"
        yield server


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: HubServer) -> Path:
    """A fresh HF cache, the endpoint set to the local server, no token anywhere."""
    folder = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for var in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "TOKGEO_HUB_BACKEND",
        "HF_HUB_DISABLE_PROGRESS_BARS",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub_mod, "_RETRY_DELAYS", (0.01, 0.01, 0.01))
    if _have_hf():
        # huggingface_hub reads these once at import; keep it from calling the real hub.
        import huggingface_hub.constants as hf_constants

        monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    return folder


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, cache: Path) -> str:
    if request.param == "huggingface_hub":
        _need_hf()
    monkeypatch.setenv("TOKGEO_HUB_BACKEND", request.param)
    return request.param


def _repo_folder(cache: Path, repo_id: str = "openai-community/gpt2") -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


def _etag(name: str, data: bytes) -> str:
    return sha256(data) if name.endswith(".safetensors") else git_blob_sha1(data)


def _leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.name.endswith((".incomplete", ".tmp"))]


def _tree(folder: Path) -> dict[str, object]:
    """Relative path -> ('link', target) / ('file', bytes) / 'dir'."""
    out: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = ("file", path.read_bytes())
    return out


# --------------------------------------------------------------------------------------------
# downloads and the cache layout


def test_fresh_download_populates_the_hf_cache_layout(hub: HubServer, cache: Path, backend: str) -> None:
    commit = hub.repos["openai-community/gpt2"].commit
    folder = resolve_model("gpt2", progress=False)

    repo = _repo_folder(cache)
    assert folder == repo / "snapshots" / commit
    assert (repo / "refs" / "main").read_text() == commit
    assert {p.name for p in folder.iterdir()} == DEFAULT_FILES
    blobs = {p.name for p in (repo / "blobs").iterdir()}
    assert blobs == {_etag(name, GPT2_FILES[name]) for name in DEFAULT_FILES}
    for name in DEFAULT_FILES:
        link = folder / name
        assert link.is_symlink()
        assert os.readlink(link) == f"../../blobs/{_etag(name, GPT2_FILES[name])}"  # relative
        assert link.read_bytes() == GPT2_FILES[name]
    assert _leftovers(cache) == []
    # never the pickle, never a file outside the default set
    assert hub.count(contains="pytorch_model.bin") == 0
    assert hub.count(contains="README.md") == 0
    # the old name is mapped on our side: the server never saw it
    assert hub.count(contains="/gpt2/resolve") == hub.count(contains="/openai-community/gpt2/resolve")


def test_resolve_cache_redirects_are_followed(hub: HubServer, cache: Path, backend: str) -> None:
    hub.resolve_cache = True
    folder = resolve_model("gpt2", progress=False)
    for name in DEFAULT_FILES:
        assert (folder / name).read_bytes() == GPT2_FILES[name]
        assert os.readlink(folder / name) == f"../../blobs/{_etag(name, GPT2_FILES[name])}"
    assert hub.count("GET", contains="/api/resolve-cache/models/openai-community/gpt2/") == 3


def test_second_call_does_no_network(hub: HubServer, cache: Path, backend: str) -> None:
    first = resolve_model("gpt2", progress=False)
    seen = len(hub.requests)
    assert seen > 0
    for name in ("gpt2", "openai-community/gpt2"):
        assert resolve_model(name, progress=False) == first
    assert len(hub.requests) == seen


def test_both_backends_write_the_same_layout(hub: HubServer, cache: Path, tmp_path: Path) -> None:
    _need_hf()
    a = resolve_model("gpt2", progress=False, backend="builtin", cache_dir=tmp_path / "a")
    b = resolve_model("gpt2", progress=False, backend="huggingface_hub", cache_dir=tmp_path / "b")
    assert a.relative_to(tmp_path / "a") == b.relative_to(tmp_path / "b")
    tree_a = _tree(_repo_folder(tmp_path / "a"))
    tree_b = _tree(_repo_folder(tmp_path / "b"))
    assert tree_a == tree_b
    assert (tmp_path / "a" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_cache_is_shared_with_huggingface_hub(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_hf()
    from huggingface_hub import hf_hub_download

    folder = resolve_model("gpt2", progress=False, backend="builtin")
    commit = hub.repos["openai-community/gpt2"].commit
    before = len(hub.requests)
    for name in DEFAULT_FILES:  # huggingface_hub finds our files without any request
        path = hf_hub_download("openai-community/gpt2", name, cache_dir=cache, local_files_only=True)
        assert Path(path) == folder / name
    path = hf_hub_download("openai-community/gpt2", "config.json", revision=commit, cache_dir=cache, token=False)
    assert Path(path) == folder / "config.json"
    assert len(hub.requests) == before

    # and the other way round: a file huggingface_hub downloaded is used offline by tokgeo
    other = cache.parent / "other-cache"
    for name in DEFAULT_FILES:
        hf_hub_download("openai-community/gpt2", name, cache_dir=other, endpoint=hub.url, token=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    got = resolve_model("openai-community/gpt2", cache_dir=other, backend="builtin")
    assert got == _repo_folder(other) / "snapshots" / commit
    assert (got / "model.safetensors").read_bytes() == WEIGHTS


def test_filenames_selects_exactly_those_files(hub: HubServer, cache: Path, backend: str) -> None:
    folder = resolve_model("gpt2", filenames=["config.json", "README.md"], progress=False)
    assert {p.name for p in folder.iterdir()} == {"config.json", "README.md"}
    assert (folder / "README.md").read_bytes() == GPT2_FILES["README.md"]
    assert hub.count(contains="model.safetensors") == 0


def test_revision_by_commit_hash_needs_no_ref(hub: HubServer, cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    commit = hub.repos["openai-community/gpt2"].commit
    folder = resolve_model("openai-community/gpt2", revision=commit, progress=False)
    assert folder.name == commit
    assert not (_repo_folder(cache) / "refs").exists() or not any((_repo_folder(cache) / "refs").iterdir())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("openai-community/gpt2", revision=commit) == folder


def test_refresh_follows_a_moved_branch(hub: HubServer, cache: Path, backend: str) -> None:
    old = resolve_model("gpt2", progress=False)
    repo = hub.repos["openai-community/gpt2"]
    new_config = CONFIG.replace(b'"n_layer": 2', b'"n_layer": 3')
    repo.files["config.json"] = new_config
    repo.commit = hashlib.sha1(b"second commit").hexdigest()

    seen = len(hub.requests)
    assert resolve_model("gpt2", progress=False) == old  # no refresh: the cache answers
    assert len(hub.requests) == seen

    new = resolve_model("gpt2", progress=False, refresh=True)
    assert new == _repo_folder(cache) / "snapshots" / repo.commit
    assert (_repo_folder(cache) / "refs" / "main").read_text() == repo.commit
    assert (new / "config.json").read_bytes() == new_config
    assert (old / "config.json").read_bytes() == CONFIG  # the old snapshot is intact
    # the unchanged weights were linked, not downloaded again
    assert hub.count("GET", server="cdn") == 1
    assert os.readlink(new / "model.safetensors") == os.readlink(old / "model.safetensors")


def test_failed_refresh_keeps_the_branch_on_the_complete_snapshot(hub: HubServer, cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old = resolve_model("gpt2", progress=False)
    repo = hub.repos["openai-community/gpt2"]
    old_commit = repo.commit
    repo.files["model.safetensors"] = _weights(9)
    repo.commit = hashlib.sha1(b"new weights").hexdigest()
    hub.add_fault("model.safetensors", "corrupt", times=None)
    with pytest.raises(tokgeo.HubError, match="corrupt download"):
        resolve_model("gpt2", progress=False, refresh=True)
    assert (_repo_folder(cache) / "refs" / "main").read_text() == old_commit
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("gpt2") == old


def test_refresh_without_network_falls_back_to_the_cache(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = resolve_model("gpt2", progress=False, backend="builtin")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert resolve_model("gpt2", progress=False, backend="builtin", refresh=True) == folder


def _tiny_gpt2_checkpoint() -> tuple[dict[str, bytes], float]:
    """A real 1-layer GPT-2 checkpoint (random weights) with the shipped GPT-2 tokenizer."""
    np = pytest.importorskip("numpy")
    st = pytest.importorskip("safetensors.numpy")
    import importlib.resources

    rng = np.random.default_rng(0)
    d, ctx, vocab = 8, 16, 50257
    shapes = {
        "transformer.wte.weight": (vocab, d),
        "transformer.wpe.weight": (ctx, d),
        "transformer.ln_f.weight": (d,),
        "transformer.ln_f.bias": (d,),
        "transformer.h.0.ln_1.weight": (d,),
        "transformer.h.0.ln_1.bias": (d,),
        "transformer.h.0.attn.c_attn.weight": (d, 3 * d),
        "transformer.h.0.attn.c_attn.bias": (3 * d,),
        "transformer.h.0.attn.c_proj.weight": (d, d),
        "transformer.h.0.attn.c_proj.bias": (d,),
        "transformer.h.0.ln_2.weight": (d,),
        "transformer.h.0.ln_2.bias": (d,),
        "transformer.h.0.mlp.c_fc.weight": (d, 4 * d),
        "transformer.h.0.mlp.c_fc.bias": (4 * d,),
        "transformer.h.0.mlp.c_proj.weight": (4 * d, d),
        "transformer.h.0.mlp.c_proj.bias": (d,),
    }
    tensors = {k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()}
    config = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "n_layer": 1,
        "n_head": 2,
        "n_embd": d,
        "n_positions": ctx,
        "vocab_size": vocab,
        "bos_token_id": 50256,
        "eos_token_id": 50256,
    }
    data = importlib.resources.files("tokgeo") / "data" / "gpt2"
    files = {
        "config.json": json.dumps(config).encode(),
        "model.safetensors": st.save(tensors, metadata={"format": "pt"}),
        "vocab.json": (data / "encoder.json").read_bytes(),
        "merges.txt": (data / "vocab.bpe").read_bytes(),
    }
    return files, float(tensors["transformer.wte.weight"].astype(np.float64).sum())


@pytest.mark.slow
def test_transformers_reads_our_cache_and_we_read_its_cache(hub: HubServer, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the shared layout: no second download on either side."""
    for mod in ("transformers", "torch"):
        if importlib.util.find_spec(mod) is None:
            if require_all():
                pytest.fail(f"{mod} is missing: run scripts/setup.sh")
            pytest.skip(f"{mod} not installed")
    files, wte_sum = _tiny_gpt2_checkpoint()
    hub.add_repo("tiny/gpt2", files)
    ours = resolve_model("tiny/gpt2", progress=False, backend="builtin")
    theirs = tmp_path / "transformers-cache"
    code = f"""
import sys, transformers
kw = dict(cache_dir=sys.argv[1], local_files_only=True)
m = transformers.AutoModelForCausalLM.from_pretrained('tiny/gpt2', **kw)   # our cache, no network
t = transformers.AutoTokenizer.from_pretrained('tiny/gpt2', **kw)
print(repr(float(m.transformer.wte.weight.double().sum())), t('She gave her book')['input_ids'])
transformers.AutoModelForCausalLM.from_pretrained('tiny/gpt2', cache_dir=sys.argv[2])  # downloads
"""
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "TRANSFORMERS_VERBOSITY": "error",
    }
    before = len(hub.requests)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(cache), str(theirs)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    first_line = proc.stdout.strip().splitlines()[0]
    got_sum, ids = first_line.split(" ", 1)
    assert float(got_sum) == pytest.approx(wte_sum, rel=1e-6)
    assert ids == "[3347, 2921, 607, 1492]"  # GPT-2 ids of "She gave her book"
    assert hub.count("GET", server="cdn") == 2  # ours once, transformers' own cache once
    assert len(hub.requests) > before

    # transformers' download is a complete tokgeo snapshot: used offline, same bytes
    seen = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = resolve_model("tiny/gpt2", filenames=["config.json", "model.safetensors"], cache_dir=theirs)
    assert folder.name == ours.name
    assert (folder / "model.safetensors").read_bytes() == files["model.safetensors"]
    assert len(hub.requests) == seen


# --------------------------------------------------------------------------------------------
# names, aliases and redirects


def test_alias_table_matches_the_hub_moves() -> None:
    assert hub_mod.canonical_repo_id("gpt2") == "openai-community/gpt2"
    assert hub_mod.canonical_repo_id("gpt2-medium") == "openai-community/gpt2-medium"
    assert hub_mod.canonical_repo_id("gpt2-large") == "openai-community/gpt2-large"
    assert hub_mod.canonical_repo_id("gpt2-xl") == "openai-community/gpt2-xl"
    assert hub_mod.canonical_repo_id("distilgpt2") == "distilbert/distilgpt2"
    assert hub_mod.canonical_repo_id("someone/gpt2") == "someone/gpt2"


def test_renamed_repository_redirects_are_followed(hub: HubServer, cache: Path, backend: str) -> None:
    """A bare name we don't know: the server redirects (307, relative) like the real hub."""
    hub.add_repo("neworg/tiny-gpt2", GPT2_FILES)
    hub.aliases["tiny-gpt2"] = "neworg/tiny-gpt2"
    folder = resolve_model("tiny-gpt2", progress=False)
    # huggingface_hub keeps the name it was given for the cache folder; so do we
    assert folder.parent.parent == cache / "models--tiny-gpt2"
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert hub.count(contains="/tiny-gpt2/resolve/") >= 1
    assert hub.count(contains="/neworg/tiny-gpt2/resolve/") >= 1


def test_former_name_reuses_an_existing_old_cache_folder(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_hf()
    from huggingface_hub import hf_hub_download

    # what transformers did with from_pretrained("gpt2") before the move: models--gpt2
    for name in DEFAULT_FILES:
        hf_hub_download("gpt2", name, cache_dir=cache, endpoint=hub.url, token=False)
    assert (cache / "models--gpt2").is_dir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = resolve_model("gpt2")
    assert folder.parent.parent == cache / "models--gpt2"
    assert not _repo_folder(cache).exists()


# --------------------------------------------------------------------------------------------
# offline mode


def test_offline_with_warm_cache_works_without_network(hub: HubServer, cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = resolve_model("gpt2", progress=False)
    seen = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # no hub at all
    assert resolve_model("gpt2") == folder
    assert resolve_model("openai-community/gpt2", revision="main") == folder
    assert len(hub.requests) == seen


def test_offline_with_cold_cache_raises_offline_error(hub: HubServer, cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(tokgeo.OfflineError, match="config.json") as info:
        resolve_model("gpt2")
    message = str(info.value)
    assert "HF_HUB_OFFLINE" in message and "openai-community/gpt2" in message
    assert "hf download" in message and "local folder" in message
    assert isinstance(info.value, tokgeo.HubError) and isinstance(info.value, OSError)
    assert len(hub.requests) == 0
    assert not cache.exists() or not any(cache.rglob("models--*"))


def test_offline_names_the_one_missing_file(hub: HubServer, cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = resolve_model("gpt2", progress=False)
    (folder / "vocab.json").unlink()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(tokgeo.OfflineError) as info:
        resolve_model("gpt2")
    assert "vocab.json" in str(info.value)
    assert "config.json" not in str(info.value).split(" of ")[0]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert resolve_model("gpt2", progress=False) == folder  # online again: the gap is filled
    assert (folder / "vocab.json").read_bytes() == VOCAB


# --------------------------------------------------------------------------------------------
# integrity: corrupt, interrupted, killed and concurrent downloads


def test_corrupt_weights_are_detected_and_nothing_is_kept(hub: HubServer, cache: Path, backend: str) -> None:
    hub.add_fault("model.safetensors", "corrupt", times=None)
    with pytest.raises(tokgeo.HubError, match="corrupt download of model.safetensors") as info:
        resolve_model("gpt2", progress=False)
    assert "SHA-256" in str(info.value)
    blobs = _repo_folder(cache) / "blobs"
    assert not (blobs / sha256(WEIGHTS)).exists()
    assert not any(p.name.startswith(sha256(WEIGHTS)) for p in blobs.iterdir())
    snapshot = _repo_folder(cache) / "snapshots" / hub.repos["openai-community/gpt2"].commit
    assert not os.path.lexists(snapshot / "model.safetensors")
    assert _leftovers(cache) == []
    hub.clear_faults()
    folder = resolve_model("gpt2", progress=False)
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS


def test_corrupt_git_file_fails_the_blob_sha1(hub: HubServer, cache: Path) -> None:
    hub.add_fault("config.json", "corrupt", times=None)
    with pytest.raises(tokgeo.HubError, match="git blob SHA-1"):
        resolve_model("gpt2", progress=False, backend="builtin")
    assert not (_repo_folder(cache) / "blobs" / git_blob_sha1(CONFIG)).exists()
    assert _leftovers(cache) == []


def test_interrupted_download_leaves_no_file_and_a_retry_succeeds(hub: HubServer, cache: Path) -> None:
    hub.add_fault("model.safetensors", "truncate", times=None)
    with pytest.raises(tokgeo.HubError, match="interrupted") as info:
        resolve_model("gpt2", progress=False, backend="builtin")
    assert "call again" in str(info.value)
    assert "SECRETSIGNATURE" not in str(info.value)  # signed storage URLs are not echoed
    assert not (_repo_folder(cache) / "blobs" / sha256(WEIGHTS)).exists()
    assert _leftovers(cache) == []
    assert hub.count("GET", server="cdn") == hub_mod._DOWNLOAD_RETRIES + 1
    hub.clear_faults()
    folder = resolve_model("gpt2", progress=False, backend="builtin")
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS


@pytest.mark.parametrize("range_support", [True, False])
def test_dropped_connection_is_resumed_within_one_call(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, range_support: bool) -> None:
    with HubServer(range_support=range_support) as server:
        server.add_repo("openai-community/gpt2", GPT2_FILES)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        server.add_fault("model.safetensors", "truncate", times=1)
        folder = resolve_model("gpt2", progress=False, backend="builtin")
        assert (folder / "model.safetensors").read_bytes() == WEIGHTS
        gets = [r for r in server.requests if r.server == "cdn"]
        assert len(gets) == 2
        assert "Range" not in gets[0].headers
        assert gets[1].headers.get("Range") == f"bytes={len(WEIGHTS) // 2}-"
    assert _leftovers(cache) == []


def test_server_errors_are_retried_then_reported(hub: HubServer, cache: Path) -> None:
    hub.add_fault("api", "status500", times=2)
    folder = resolve_model("gpt2", progress=False, backend="builtin")
    assert folder.is_dir()
    assert hub.count("GET", contains="/api/models/") == 3

    hub.add_fault("api", "status500", times=None)
    with pytest.raises(tokgeo.HubError, match="HTTP 500") as info:
        resolve_model("gpt2", progress=False, backend="builtin", refresh=True, cache_dir=cache.parent / "c2")
    assert hub.url in str(info.value) and "HF_HUB_OFFLINE" in str(info.value)


def test_server_error_during_download_is_retried(hub: HubServer, cache: Path) -> None:
    hub.add_fault("model.safetensors", "status500", times=1)
    folder = resolve_model("gpt2", progress=False, backend="builtin")
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS


def test_slow_server_times_out_with_a_clear_error(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "0.3")
    hub.add_fault("api", "stall", times=1, delay=2.0)
    start = time.monotonic()
    with pytest.raises(tokgeo.HubError, match="no answer within 0.3 s") as info:
        resolve_model("gpt2", progress=False, backend="builtin")
    assert time.monotonic() - start < 1.8
    assert "HF_HUB_OFFLINE=1" in str(info.value)

    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "0.3")
    monkeypatch.delenv("HF_HUB_ETAG_TIMEOUT")
    hub.add_fault("model.safetensors", "stall", times=None, delay=1.0)
    with pytest.raises(tokgeo.HubError, match="interrupted"):
        resolve_model("gpt2", progress=False, backend="builtin")
    assert not (_repo_folder(cache) / "blobs" / sha256(WEIGHTS)).exists()
    assert _leftovers(cache) == []


def test_killed_download_leaves_no_final_file(hub: HubServer, cache: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    hub.add_fault("model.safetensors", "slow", times=1, delay=0.5)
    result = ctx.Queue()
    child = ctx.Process(target=resolve_in_child, args=(hub.url, str(cache), "gpt2", "builtin", None, result))
    child.start()
    try:
        deadline = time.monotonic() + 30
        while hub.bytes_sent < 64 * 1024 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hub.bytes_sent >= 64 * 1024, "the child never started downloading the weights"
        child.kill()
    finally:
        child.join(timeout=10)
    assert child.exitcode is not None and child.exitcode < 0
    blobs = _repo_folder(cache) / "blobs"
    assert not (blobs / sha256(WEIGHTS)).exists()
    commit = hub.repos["openai-community/gpt2"].commit
    assert not os.path.lexists(_repo_folder(cache) / "snapshots" / commit / "model.safetensors")
    assert any(p.name.endswith(".incomplete") for p in blobs.iterdir())  # what SIGKILL leaves

    hub.clear_faults()
    folder = resolve_model("gpt2", progress=False, backend="builtin")
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert _leftovers(cache) == []  # the stale temporary file was cleaned under the lock


@pytest.mark.parametrize("child_backend", BACKENDS)
def test_two_processes_download_one_blob(hub: HubServer, cache: Path, child_backend: str) -> None:
    if child_backend == "huggingface_hub":
        _need_hf()
    ctx = multiprocessing.get_context("spawn")
    hub.add_fault("model.safetensors", "slow", times=None, delay=0.15)
    barrier = ctx.Barrier(2)
    result = ctx.Queue()
    children = [
        ctx.Process(target=resolve_in_child, args=(hub.url, str(cache), "gpt2", child_backend, barrier, result))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    try:
        outcomes = [result.get(timeout=60) for _ in children]
    finally:
        for child in children:
            child.join(timeout=20)
            if child.is_alive():
                child.kill()
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    assert outcomes[0][1] == outcomes[1][1]
    folder = Path(outcomes[0][1])
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    blobs = sorted(p.name for p in (_repo_folder(cache) / "blobs").iterdir())
    assert blobs == sorted(_etag(n, GPT2_FILES[n]) for n in DEFAULT_FILES)
    assert hub.count("GET", server="cdn") == 1  # the second process waited on the lock
    assert _leftovers(cache) == []


# --------------------------------------------------------------------------------------------
# tokens and access errors


def test_token_is_sent_to_the_hub_only_and_never_leaked(hub: HubServer, cache: Path, backend: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hub.add_repo("me/private-gpt2", GPT2_FILES, private=True)
    folder = resolve_model("me/private-gpt2", token=TOKEN, progress=False)
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    hub_requests = [r for r in hub.requests if r.server == "hub" and "/api/agent" not in r.path]
    assert hub_requests and all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in hub_requests)
    cdn_requests = [r for r in hub.requests if r.server == "cdn"]
    assert cdn_requests and all("Authorization" not in r.headers for r in cdn_requests)

    with pytest.raises(tokgeo.HubError) as info:
        resolve_model("me/private-gpt2", token=WRONG_TOKEN, progress=False, cache_dir=cache.parent / "c2")
    err = info.value
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert "private" in str(err) and "refused" in str(err)
    for secret in (TOKEN, WRONG_TOKEN, TOKEN[3:15], WRONG_TOKEN[3:15]):
        assert secret not in text and secret not in repr(err)
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()


def test_missing_token_for_a_private_model_explains_how_to_log_in(hub: HubServer, cache: Path, backend: str) -> None:
    hub.add_repo("me/private-gpt2", GPT2_FILES, private=True)
    with pytest.raises(tokgeo.HubError) as info:
        resolve_model("me/private-gpt2", progress=False)
    message = str(info.value)
    assert "private or gated" in message and "HF_TOKEN" in message and "hf auth login" in message
    assert "No token was sent" in message


@pytest.mark.parametrize("source", ["env", "file", "token_path"])
def test_token_from_environment_or_token_file(hub: HubServer, cache: Path, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    hub.add_repo("me/private-gpt2", GPT2_FILES, private=True)
    if source == "env":
        monkeypatch.setenv("HF_TOKEN", TOKEN)
    elif source == "file":
        home = Path(os.environ["HF_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        (home / "token").write_text(TOKEN + "\n")
    else:
        path = tmp_path / "elsewhere" / "tok"
        path.parent.mkdir()
        path.write_text(TOKEN)
        monkeypatch.setenv("HF_TOKEN_PATH", str(path))
    folder = resolve_model("me/private-gpt2", progress=False)
    assert (folder / "config.json").read_bytes() == CONFIG
    assert any(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in hub.requests)


def test_token_false_sends_nothing(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    resolve_model("gpt2", token=False, progress=False, backend="builtin")
    assert all("Authorization" not in r.headers for r in hub.requests)
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(tokgeo.HubError, match="token=True but no token"):
        resolve_model("gpt2", token=True, refresh=True, backend="builtin")


def test_gated_model(hub: HubServer, cache: Path, backend: str) -> None:
    hub.add_repo("corp/gated-gpt2", GPT2_FILES, gated=True)
    with pytest.raises(tokgeo.HubError, match="gated model") as info:
        resolve_model("corp/gated-gpt2", progress=False)
    assert f"{hub.url}/corp/gated-gpt2" in str(info.value)
    folder = resolve_model("corp/gated-gpt2", token=TOKEN, progress=False)
    assert (folder / "merges.txt").read_bytes() == MERGES


def test_unknown_model_file_and_revision(hub: HubServer, cache: Path, backend: str) -> None:
    with pytest.raises(tokgeo.HubError, match="does not exist"):
        resolve_model("nobody/nothing", progress=False)
    with pytest.raises(tokgeo.HubError, match="no such"):
        resolve_model("nobody/nothing", token=TOKEN, progress=False)
    with pytest.raises(tokgeo.HubError, match="no such file") as info:
        resolve_model("gpt2", filenames=["tokenizer.json"], progress=False)
    assert "tokenizer.json" in str(info.value)
    with pytest.raises(tokgeo.HubError, match="no revision 'v9'"):
        resolve_model("gpt2", revision="v9", progress=False)
    assert not any(cache.rglob("snapshots/*/*"))


def test_repository_without_safetensors_is_refused(hub: HubServer, cache: Path, backend: str) -> None:
    files = {k: v for k, v in GPT2_FILES.items() if k != "model.safetensors"}
    hub.add_repo("old/pickled-gpt2", files)
    with pytest.raises(tokgeo.HubError, match="no safetensors weights") as info:
        resolve_model("old/pickled-gpt2", progress=False)
    assert "pytorch_model.bin" in str(info.value) and "safe_serialization=True" in str(info.value)
    assert hub.count(contains="pytorch_model.bin") == 0


def test_connection_failure_names_the_endpoint_and_the_offline_hint(cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    with pytest.raises(tokgeo.HubError) as info:
        resolve_model("gpt2", progress=False)
    message = str(info.value)
    assert endpoint in message and "HF_HUB_OFFLINE=1" in message and "local folder" in message


def test_credentials_in_the_endpoint_url_are_not_echoed(cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://mirror-user:MirrorPassw0rd@127.0.0.1:{_closed_port()}")
    with pytest.raises(tokgeo.HubError) as info:
        resolve_model("gpt2", progress=False)
    assert "MirrorPassw0rd" not in str(info.value) and "127.0.0.1" in str(info.value)


# --------------------------------------------------------------------------------------------
# sharded checkpoints


def _sharded_files() -> dict[str, bytes]:
    shard1, shard2 = _weights(2, 150_000), _weights(3, 120_000)
    index = {
        "metadata": {"total_size": len(shard1) + len(shard2)},
        "weight_map": {
            "wte.weight": "model-00001-of-00002.safetensors",
            "h.0.attn.c_attn.weight": "model-00001-of-00002.safetensors",
            "ln_f.weight": "model-00002-of-00002.safetensors",
        },
    }
    files = {k: v for k, v in GPT2_FILES.items() if k != "model.safetensors"}
    files.update(
        {
            "model.safetensors.index.json": json.dumps(index).encode(),
            "model-00001-of-00002.safetensors": shard1,
            "model-00002-of-00002.safetensors": shard2,
        }
    )
    return files


def test_sharded_checkpoint_fetches_the_index_and_every_shard(hub: HubServer, cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _sharded_files()
    hub.add_repo("big/sharded-gpt2", files)
    folder = resolve_model("big/sharded-gpt2", progress=False)
    expected = {
        "config.json",
        "vocab.json",
        "merges.txt",
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    }
    assert {p.name for p in folder.iterdir()} == expected
    for name in expected:
        assert (folder / name).read_bytes() == files[name]
    assert hub.count(contains="pytorch_model.bin") == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model("big/sharded-gpt2") == folder
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(tokgeo.OfflineError, match="model-00002-of-00002.safetensors"):
        resolve_model("big/sharded-gpt2")


def test_index_naming_a_missing_shard_is_an_error(hub: HubServer, cache: Path, backend: str) -> None:
    files = _sharded_files()
    del files["model-00002-of-00002.safetensors"]
    hub.add_repo("big/broken-gpt2", files)
    with pytest.raises(tokgeo.HubError, match="model-00002-of-00002.safetensors"):
        resolve_model("big/broken-gpt2", progress=False)


def test_index_with_a_path_escape_is_a_format_error(hub: HubServer, cache: Path) -> None:
    files = _sharded_files()
    files["model.safetensors.index.json"] = json.dumps({"weight_map": {"w": "../../../../etc/passwd"}}).encode()
    hub.add_repo("evil/gpt2", files)
    with pytest.raises(tokgeo.FormatError, match="shard name"):
        resolve_model("evil/gpt2", progress=False, backend="builtin")


@pytest.mark.parametrize("layout", ["single", "sharded", "none"])
def test_server_that_does_not_list_files(cache: Path, backend: str, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    files = dict(GPT2_FILES) if layout == "single" else _sharded_files()
    if layout == "none":
        files = {k: v for k, v in GPT2_FILES.items() if k != "model.safetensors"}
    with HubServer(list_files=False) as server:
        server.add_repo("mirror/gpt2", files)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        if layout == "none":
            with pytest.raises(tokgeo.HubError, match="neither model.safetensors nor model.safetensors.index.json"):
                resolve_model("mirror/gpt2", progress=False)
            return
        folder = resolve_model("mirror/gpt2", progress=False)
    names = {p.name for p in folder.iterdir()}
    if layout == "single":
        assert names == DEFAULT_FILES
    else:
        assert names == {"config.json", "vocab.json", "merges.txt", "model.safetensors.index.json",
                         "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    for name in names:
        assert (folder / name).read_bytes() == files[name]


def test_not_enough_disk_space_is_reported_before_downloading(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_mod, "_free_bytes", lambda folder: 1000)
    with pytest.raises(tokgeo.TokgeoIOError, match="not enough disk space for model.safetensors") as info:
        resolve_model("gpt2", progress=False, backend="builtin")
    assert "HF_HUB_CACHE" in str(info.value)
    assert hub.count("GET", server="cdn") == 0
    assert _leftovers(cache) == []


def test_write_failure_is_not_retried_and_leaves_nothing(hub: HubServer, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(self: object, chunk: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hub_mod._Hasher, "update", full_disk)
    with pytest.raises(tokgeo.TokgeoIOError, match="No space left on device"):
        resolve_model("gpt2", filenames=["model.safetensors"], progress=False, backend="builtin")
    assert hub.count("GET", server="cdn") == 1  # a local failure is not a network failure
    assert not (_repo_folder(cache) / "blobs" / sha256(WEIGHTS)).exists()
    assert _leftovers(cache) == []


# --------------------------------------------------------------------------------------------
# local paths and bad arguments


def _write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_local_folder_is_returned_as_is(tmp_path: Path, cache: Path, hub: HubServer) -> None:
    folder = _write_folder(tmp_path / "my-gpt2", {k: GPT2_FILES[k] for k in DEFAULT_FILES})
    assert resolve_model(folder) == folder
    assert resolve_model(str(folder)) == folder
    sharded = _write_folder(tmp_path / "sharded", _sharded_files())
    assert resolve_model(sharded) == sharded
    weights = folder / "model.safetensors"
    assert resolve_model(weights) == weights
    assert len(hub.requests) == 0


def test_local_folder_missing_files_says_what_is_needed(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "half", {"vocab.json": VOCAB, "merges.txt": MERGES, "pytorch_model.bin": b"x"})
    with pytest.raises(tokgeo.TokgeoIOError) as info:
        resolve_model(folder)
    message = str(info.value)
    assert message.startswith(f"no config.json, model.safetensors in {folder}")
    assert "model.safetensors.index.json" in message and "merges.txt" in message
    assert "pytorch_model.bin" in message
    sharded = _write_folder(tmp_path / "sharded", _sharded_files())
    (sharded / "model-00001-of-00002.safetensors").unlink()
    with pytest.raises(tokgeo.TokgeoIOError, match="no model-00001-of-00002.safetensors in"):
        resolve_model(sharded)
    with pytest.raises(tokgeo.TokgeoIOError, match="no tokenizer.json in"):
        resolve_model(sharded, filenames=["config.json", "tokenizer.json"])


def test_local_folder_shadowing_a_hub_name_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub: HubServer, cache: Path) -> None:
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "train.py").write_text("# not a checkpoint")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(tokgeo.TokgeoIOError, match="pass 'openai-community/gpt2' instead"):
        resolve_model("gpt2")
    assert resolve_model("openai-community/gpt2", progress=False).name == hub.repos["openai-community/gpt2"].commit


def test_missing_local_path_is_not_sent_to_the_hub(tmp_path: Path, hub: HubServer, cache: Path) -> None:
    for name in ("./no-such-folder", str(tmp_path / "nope"), "~/nope-tokgeo", "weights.safetensors", "a/b/c"):
        with pytest.raises(tokgeo.TokgeoIOError, match="no such file or folder"):
            resolve_model(name)
    with pytest.raises(tokgeo.TokgeoIOError, match="no such file or folder"):
        resolve_model(tmp_path / "nope")
    assert len(hub.requests) == 0


def test_bad_arguments_raise_clear_errors(cache: Path, hub: HubServer) -> None:
    with pytest.raises(tokgeo.InvalidInputError, match="hub name"):
        resolve_model("bad name!")
    with pytest.raises(tokgeo.InvalidInputError, match="hub name"):
        resolve_model("org/with--dashes")
    with pytest.raises(tokgeo.InvalidInputError, match="revision"):
        resolve_model("gpt2", revision="../../etc")
    with pytest.raises(tokgeo.InvalidTypeError, match="list of file names"):
        resolve_model("gpt2", filenames="config.json")
    with pytest.raises(tokgeo.InvalidInputError, match="file name"):
        resolve_model("gpt2", filenames=["../config.json"])
    with pytest.raises(tokgeo.InvalidInputError, match="file name"):
        resolve_model("gpt2", filenames=["/etc/passwd"])
    with pytest.raises(tokgeo.InvalidInputError, match="TOKGEO|backend"):
        resolve_model("gpt2", backend="curl")
    with pytest.raises(tokgeo.InvalidInputError, match="empty"):
        resolve_model("gpt2", token="  ")
    with pytest.raises(tokgeo.InvalidTypeError):
        resolve_model(42)  # type: ignore[arg-type]
    with pytest.raises(tokgeo.InvalidInputError, match="HF_ENDPOINT"):
        os.environ["HF_ENDPOINT"] = "ftp://example"
        try:
            resolve_model("gpt2", refresh=True)
        finally:
            os.environ["HF_ENDPOINT"] = hub.url
    assert len(hub.requests) == 0


# --------------------------------------------------------------------------------------------
# progress display and import weight


def test_progress_line_without_tqdm(hub: HubServer, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails as if not installed
    monkeypatch.setattr(hub_mod, "_PROGRESS_MIN_BYTES", 100_000)
    resolve_model("gpt2", backend="builtin")
    err = capsys.readouterr().err
    assert "tokgeo: downloading model.safetensors (293.0 KiB)" in err
    assert "done, 293.0 KiB" in err
    assert "config.json" not in err  # small files get no progress line

    resolve_model("gpt2", backend="builtin", progress=False, cache_dir=cache.parent / "quiet")
    assert capsys.readouterr().err == ""


def test_progress_with_tqdm(hub: HubServer, cache: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.setattr(hub_mod, "_PROGRESS_MIN_BYTES", 100_000)
    resolve_model("gpt2", backend="builtin")
    err = capsys.readouterr().err
    assert "model.safetensors" in err and "100%" in err


def test_import_tokgeo_does_not_import_the_hub(tmp_path: Path) -> None:
    code = "import sys, tokgeo; print('tokgeo.hub' in sys.modules, 'huggingface_hub' in sys.modules)"
    # cwd outside the checkout: `python -c` puts the cwd first on sys.path
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         cwd=tmp_path)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "~/.cache/huggingface/hub"),
        ({"XDG_CACHE_HOME": "xdg"}, "xdg/huggingface/hub"),
        ({"HF_HOME": "home", "XDG_CACHE_HOME": "xdg"}, "home/hub"),
        ({"HF_HUB_CACHE": "hub", "HF_HOME": "home"}, "hub"),
        ({"HUGGINGFACE_HUB_CACHE": "legacy"}, "legacy"),
    ],
)
def test_cache_dir_follows_the_hf_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], expected: str) -> None:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, str(tmp_path / value))
    want = Path(expected).expanduser() if expected.startswith("~") else tmp_path / expected
    assert hub_mod.cache_dir() == want
    if _have_hf():  # the same answer as huggingface_hub's own rule
        code = "import huggingface_hub.constants as c; print(c.HF_HUB_CACHE)"
        out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, timeout=60, check=True)
        assert Path(out.stdout.strip()) == want


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
