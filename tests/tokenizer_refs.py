"""Reference GPT-2 tokenizers built OFFLINE from the vocabulary tokgeo ships.

tiktoken: an ``Encoding`` with GPT-2's pattern and ranks read from encoder.json through
GPT-2's byte<->unicode map (tiktoken's own ``gpt2`` would download the same files).
Hugging Face tokenizers: a byte-level BPE model from encoder.json + vocab.bpe, with the
ByteLevel pre-tokenizer (no prefix space) and decoder, "<|endoftext|>" as a special token.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from pathlib import Path

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
def tiktoken_gpt2():  # -> tiktoken.Encoding
    import tiktoken

    u2b = {c: b for b, c in byte_to_unicode().items()}
    encoder = json.loads((data_dir() / "encoder.json").read_text(encoding="utf-8"))
    ranks = {bytes(u2b[c] for c in tok): i for tok, i in encoder.items() if tok != EOT}
    return tiktoken.Encoding(
        "gpt2-offline", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={EOT: encoder[EOT]}
    )


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
