"""Reference GPT-2 tokenizers built OFFLINE from the vocabulary tokgeo ships (the one module
of tokenizer references for the tests and benchmarks).

tiktoken: an ``Encoding`` with GPT-2's pattern and the ranks tiktoken's own loader
(``tiktoken.load.data_gym_to_mergeable_bpe_ranks``) reads from vocab.bpe + encoder.json, the
two files its ``gpt2`` would download (tests/test_package.py pins their checksums);
``TiktokenWithOffsets`` gives it tokgeo's ``encode_with_offsets`` shape.
Hugging Face tokenizers: a byte-level BPE model from encoder.json + vocab.bpe, with the
ByteLevel pre-tokenizer (no prefix space) and decoder, "<|endoftext|>" as a special token.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from pathlib import Path

import numpy as np

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOT = "<|endoftext|>"


def data_dir() -> Path:
    return Path(str(importlib.resources.files("tokgeo") / "data" / "gpt2"))


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (written from its definition)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + extra)
            extra += 1
    return out


@functools.lru_cache(maxsize=None)
def tiktoken_gpt2():  # type: ignore[no-untyped-def]  (-> tiktoken.Encoding)
    import tiktoken
    import tiktoken.load

    d = data_dir()
    ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(str(d / "vocab.bpe"), str(d / "encoder.json"))
    eot = json.loads((d / "encoder.json").read_text(encoding="utf-8"))[EOT]
    return tiktoken.Encoding("gpt2-offline", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={EOT: eot})


class TiktokenWithOffsets:
    """tiktoken's gpt2 encoding with tokgeo's ``encode_with_offsets`` shape (characters)."""

    def __init__(self) -> None:
        self.enc = tiktoken_gpt2()

    def encode(self, text: str) -> list[int]:
        return self.enc.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.enc.decode(ids)

    def encode_with_offsets(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        ids = self.enc.encode(text)
        offs = np.zeros((len(ids), 2), dtype=np.int64)
        # token byte spans -> character spans (the texts here are ASCII or whole characters)
        pos = 0
        for j, t in enumerate(ids):
            piece = self.enc.decode_single_token_bytes(t).decode("utf-8", "replace")
            offs[j] = (pos, pos + len(piece))
            pos += len(piece)
        return np.asarray(ids, dtype=np.int64), offs


@functools.lru_cache(maxsize=None)
def hf_gpt2():  # -> tokenizers.Tokenizer
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    d = data_dir()
    tok = Tokenizer(models.BPE.from_file(str(d / "encoder.json"), str(d / "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(EOT, special=True, normalized=False)])
    return tok


def hf_encode(text: str) -> list[int]:
    return hf_gpt2().encode(text, add_special_tokens=False).ids
