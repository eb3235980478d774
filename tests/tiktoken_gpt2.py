"""GPT-2's tiktoken encoding built offline from the vocabulary tokgeo ships (a test reference).

tiktoken normally downloads these two files; here they come from tokgeo/data/gpt2, whose
checksums tests/test_package.py pins to the ones tiktoken expects.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "tokgeo" / "data" / "gpt2"
# GPT-2's pre-tokenizer pattern, as published with the model
GPT2_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)


@functools.lru_cache(maxsize=1)
def encoding():  # type: ignore[no-untyped-def]
    import tiktoken
    import tiktoken.load

    ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
        str(DATA / "vocab.bpe"), str(DATA / "encoder.json")
    )
    return tiktoken.Encoding(
        name="gpt2-offline",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
    )


class TiktokenWithOffsets:
    """tiktoken's gpt2 encoding with tokgeo's ``encode_with_offsets`` shape (characters)."""

    def __init__(self) -> None:
        self.enc = encoding()

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
