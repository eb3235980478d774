"""Writes the seed corpus of fuzz/fuzz_safetensors.c (small valid and invalid files).

Run from anywhere: python3 fuzz/make_corpus_safetensors.py  (needs numpy and safetensors).
"""
import json
import struct
from pathlib import Path

import numpy as np
from safetensors.numpy import save

out = str(Path(__file__).resolve().parent / "corpus" / "fuzz_safetensors") + "/"
def raw(h, data=b"", declared=None):
    hb = h if isinstance(h, bytes) else json.dumps(h, separators=(",", ":")).encode()
    return struct.pack("<Q", len(hb) if declared is None else declared) + hb + data
files = {
    "valid_small": save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], np.int64),
                         "s": np.array(7, np.uint8), "e": np.zeros((0, 2), np.float16)}, metadata={"k": "v"}),
    "valid_all_dtypes": save({f"t{i}": np.ones(3, dt) for i, dt in enumerate(
        [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.float16, np.int32, np.uint32, np.float32,
         np.float64, np.int64, np.uint64])}),
    "valid_bf16_unaligned": raw({"x": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]},
                                 "y": {"dtype": "BF16", "shape": [2], "data_offsets": [3, 7]}}, bytes(range(7))),
    "valid_empty": raw({}),
    "valid_meta_null": raw({"__metadata__": None}),
    "bad_truncated": save({"w": np.ones(8, np.float32)})[:-5],
    "bad_overlap": raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
    "bad_gap": raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                    "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, bytes(12)),
    "bad_shape": raw({"a": {"dtype": "F32", "shape": [-1, 2**62], "data_offsets": [0, 4]}}, bytes(4)),
    "bad_dup": raw(b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', bytes(2)),
    "bad_length": raw({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"x", declared=2**40),
    "bad_lfs": b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 12345\n",
    "bad_json": raw(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]'),
    "bad_short": b"\x02\x00\x00",
}
for k, v in files.items():
    open(out + k, "wb").write(v)
