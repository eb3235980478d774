"""Malformed checkpoints and configs raise FormatError naming the problem (and nothing crashes).

Checkpoints are written by hand here (header JSON + bytes) so that each defect is exact.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import tokgeo
from tokgeo.errors import FormatError

CFG = dict(model_type="gpt2", n_layer=1, n_head=2, n_embd=8, n_positions=4, vocab_size=11)


def gpt2_tensors(cfg: dict = CFG, prefix: str = "transformer.") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    C, V, P, F = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], 4 * cfg["n_embd"]
    shapes = {"wte.weight": (V, C), "wpe.weight": (P, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        shapes.update({
            p + "ln_1.weight": (C,), p + "ln_1.bias": (C,), p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
            p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
            p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
            p + "mlp.c_fc.weight": (C, F), p + "mlp.c_fc.bias": (F,),
            p + "mlp.c_proj.weight": (F, C), p + "mlp.c_proj.bias": (C,),
        })
    return {prefix + k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def write_st(path: Path, tensors: dict[str, np.ndarray], *, header_extra: dict | None = None, pad_to: int = 8,
             tamper=None) -> Path:
    """Writes a safetensors file; `tamper(header_dict)` may edit the header before writing."""
    codes = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int32): "I32",
             np.dtype(np.float64): "F64"}
    header: dict = {}
    blobs = []
    at = 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    if header_extra:
        header.update(header_extra)
    if tamper:
        tamper(header)
    h = json.dumps(header).encode()
    h += b" " * ((-len(h) - 8) % pad_to)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    return path


def folder_with(tmp_path: Path, tensors: dict[str, np.ndarray] | None = None, cfg: dict = CFG, **kw) -> Path:
    d = tmp_path / "m"
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg))
    write_st(d / "model.safetensors", gpt2_tensors(cfg) if tensors is None else tensors, **kw)
    return d


def test_valid_hand_written_checkpoint_loads(tmp_path: Path) -> None:
    m = tokgeo.GPT2.from_pretrained(folder_with(tmp_path))
    assert m.run([[1, 2, 3]], capture="logits")["logits"].shape == (1, 3, 11)


def test_unaligned_f32_is_copied(tmp_path: Path) -> None:
    # a 1-byte pad after the header leaves every F32 tensor at an odd address
    t = gpt2_tensors()
    d = folder_with(tmp_path, t, pad_to=1, tamper=None)
    raw = (d / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    if (8 + n) % 4 == 0:  # force misalignment: one extra header byte
        hdr = raw[8 : 8 + n] + b" "
        (d / "model.safetensors").write_bytes(struct.pack("<Q", n + 1) + hdr + raw[8 + n :])
    m = tokgeo.GPT2.from_pretrained(d)
    assert m.copied_bytes == sum(a.nbytes for a in t.values())
    np.testing.assert_array_equal(m.W_E, t["transformer.wte.weight"])


def test_truncated_file(tmp_path: Path) -> None:
    d = folder_with(tmp_path)
    p = d / "model.safetensors"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(FormatError, match="truncated|cover|past"):
        tokgeo.GPT2.from_pretrained(d)


def test_lying_header_length(tmp_path: Path) -> None:
    d = folder_with(tmp_path)
    p = d / "model.safetensors"
    raw = bytearray(p.read_bytes())
    raw[:8] = struct.pack("<Q", len(raw) * 2)
    p.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="header"):
        tokgeo.GPT2.from_pretrained(d)


def test_overlapping_offsets(tmp_path: Path) -> None:
    def overlap(h: dict) -> None:
        b = h["transformer.wpe.weight"]["data_offsets"]
        h["transformer.wpe.weight"]["data_offsets"] = [b[0] - 4, b[1] - 4]

    with pytest.raises(FormatError, match="overlap|gap|cover"):
        tokgeo.GPT2.from_pretrained(folder_with(tmp_path, tamper=overlap))


def test_git_lfs_pointer(tmp_path: Path) -> None:
    d = folder_with(tmp_path)
    (d / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 548105171\n"
    )
    with pytest.raises(FormatError, match="LFS"):
        tokgeo.GPT2.from_pretrained(d)


def test_wrong_shape_names_tensor_and_shapes(tmp_path: Path) -> None:
    t = gpt2_tensors()
    t["transformer.h.0.mlp.c_fc.weight"] = np.zeros((32, 8), np.float32)  # transposed
    with pytest.raises(FormatError, match=r"h\.0\.mlp\.c_fc\.weight.*\[8, 32\].*\[32, 8\]"):
        tokgeo.GPT2.from_pretrained(folder_with(tmp_path, t))


def test_config_does_not_match_file(tmp_path: Path) -> None:
    d = folder_with(tmp_path)
    (d / "config.json").write_text(json.dumps({**CFG, "n_embd": 16}))
    with pytest.raises(FormatError, match=r"wte\.weight.*\[11, 16\].*\[11, 8\]"):
        tokgeo.GPT2.from_pretrained(d)
    (d / "config.json").write_text(json.dumps({**CFG, "n_layer": 0}))
    with pytest.raises(FormatError, match="n_layer"):
        tokgeo.GPT2.from_pretrained(d)
    two = gpt2_tensors({**CFG, "n_layer": 2})
    d2 = folder_with(tmp_path / "x", two)
    (d2 / "config.json").write_text(json.dumps(CFG))
    with pytest.raises(FormatError, match="block 1.*n_layer = 1"):
        tokgeo.GPT2.from_pretrained(d2)


def test_missing_duplicate_and_bad_dtype(tmp_path: Path) -> None:
    t = gpt2_tensors()
    del t["transformer.h.0.ln_2.bias"]
    with pytest.raises(FormatError, match=r"h\.0\.ln_2\.bias.*missing"):
        tokgeo.GPT2.from_pretrained(folder_with(tmp_path / "a", t))
    t = gpt2_tensors()
    t["ln_f.bias"] = t["transformer.ln_f.bias"].copy()
    with pytest.raises(FormatError, match="ln_f.bias.*twice"):
        tokgeo.GPT2.from_pretrained(folder_with(tmp_path / "b", t))
    t = gpt2_tensors()
    t["transformer.ln_f.bias"] = t["transformer.ln_f.bias"].astype(np.int32)
    with pytest.raises(FormatError, match="I32"):
        tokgeo.GPT2.from_pretrained(folder_with(tmp_path / "c", t))


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda c: c.pop("n_head"), "missing 'n_head'"),
        (lambda c: c.pop("n_positions"), "missing 'n_positions'"),
        (lambda c: c.update(n_head=3), "not divisible by n_head"),
        (lambda c: c.update(n_embd=-8), "n_embd"),
        (lambda c: c.update(n_layer="2"), "n_layer"),
        (lambda c: c.update(n_layer=True), "n_layer"),
        (lambda c: c.update(n_layer=10**30), "n_layer"),
        (lambda c: c.update(n_inner=0), "n_inner"),
        (lambda c: c.update(layer_norm_epsilon=0), "layer_norm_epsilon"),
        (lambda c: c.update(activation_function="swish"), "swish"),
        (lambda c: c.update(model_type="llama"), "llama"),
    ],
)
def test_bad_config(tmp_path: Path, edit, match: str) -> None:
    cfg = dict(CFG)
    edit(cfg)
    d = folder_with(tmp_path, gpt2_tensors())
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(FormatError, match=match):
        tokgeo.GPT2.from_pretrained(d)


def test_bad_folders(tmp_path: Path) -> None:
    d = folder_with(tmp_path)
    (d / "config.json").write_text("{not json")
    with pytest.raises(FormatError, match="JSON"):
        tokgeo.GPT2.from_pretrained(d)
    (d / "config.json").unlink()
    with pytest.raises(FormatError, match="config.json"):
        tokgeo.GPT2.from_pretrained(d)
    e = tmp_path / "bin"
    e.mkdir()
    (e / "config.json").write_text(json.dumps(CFG))
    (e / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(FormatError, match="safetensors only"):
        tokgeo.GPT2.from_pretrained(e)
    s = tmp_path / "sharded"
    s.mkdir()
    (s / "config.json").write_text(json.dumps(CFG))
    (s / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"wte.weight": "model-00001-of-00002.safetensors"}}))
    with pytest.raises(FormatError, match="missing"):
        tokgeo.GPT2.from_pretrained(s)
    (s / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"wte.weight": "../../etc/passwd"}}))
    with pytest.raises(FormatError, match="outside"):
        tokgeo.GPT2.from_pretrained(s)
    with pytest.raises(FormatError, match="config"):
        tokgeo.GPT2.from_pretrained(d / "model.safetensors")  # a lone file needs a config


def test_every_float16_value_converts_exactly(tmp_path: Path) -> None:
    """wte holds all 65536 float16 bit patterns except NaNs (subnormals, zeros, infinities
    included); the model's float32 copy must equal NumPy's conversion bit for bit."""
    cfg = {**CFG, "vocab_size": 8192}
    t = gpt2_tensors(cfg)
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    halves = bits.view(np.float16)
    halves = np.where(np.isnan(halves), np.float16(0), halves)
    t["transformer.wte.weight"] = halves.reshape(8192, 8)
    m = tokgeo.GPT2.from_pretrained(folder_with(tmp_path, t, cfg=cfg))
    assert m.copied_bytes == 65536 * 4
    np.testing.assert_array_equal(m.W_E.view(np.uint32), halves.astype(np.float32).reshape(8192, 8).view(np.uint32))


def test_f64_and_f16_tensors_are_converted(tmp_path: Path) -> None:
    t = gpt2_tensors()
    t["transformer.ln_f.bias"] = t["transformer.ln_f.bias"].astype(np.float64) + 1e-3
    t["transformer.wpe.weight"] = t["transformer.wpe.weight"].astype(np.float16)
    m = tokgeo.GPT2.from_pretrained(folder_with(tmp_path, t))
    np.testing.assert_array_equal(m.ln_final_b, t["transformer.ln_f.bias"].astype(np.float32))
    np.testing.assert_array_equal(m.W_pos, t["transformer.wpe.weight"].astype(np.float32))
    assert m.copied_bytes == 8 * 4 + 4 * 8 * 4
    assert not m.W_pos.flags.writeable
