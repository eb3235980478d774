"""A slow, readable Python twin of tokgeo's BPE trainer (csrc/tokenizer/bpe_train.c).

It recounts every pair after every merge (O(merges x corpus)), so it is only for small
corpora: the tests check that it and the C trainer make the same merges, and it is the
algorithm as a lesson would write it.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import regex

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: printable Latin-1 bytes are themselves, the other 68
    bytes become U+0100, U+0101, ... in byte order."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + n)
            n += 1
    return out


BYTE_TO_CHAR = _bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def train(
    texts: Iterable[str],
    vocab_size: int,
    special_tokens: Sequence[str] = (),
    min_frequency: int = 2,
    pattern: str = GPT2_PATTERN,
) -> tuple[list[bytes], list[tuple[int, int, int, int]]]:
    """Returns (vocabulary: token bytes by id, merges: (left, right, new id, count))."""
    # 1. words: pre-tokens and how often each occurs
    words: Counter[bytes] = Counter()
    for text in texts:
        for piece in regex.findall(pattern, text):
            words[piece.encode("utf-8")] += 1
    # 2. ids: specials, then the bytes in the order of their byte-level characters
    vocab: list[bytes] = []
    ids: dict[bytes, int] = {}
    for s in special_tokens:
        b = bytes(CHAR_TO_BYTE[c] for c in s)
        ids[b] = len(vocab)
        vocab.append(b)
    for ch in sorted(CHAR_TO_BYTE, key=ord):
        b = bytes([CHAR_TO_BYTE[ch]])
        if b not in ids:
            ids[b] = len(vocab)
            vocab.append(b)
    seqs = {w: [ids[bytes([c])] for c in w] for w in words}
    merges: list[tuple[int, int, int, int]] = []
    # 3. merge the most frequent pair until the vocabulary is full
    while len(ids) < vocab_size:
        counts: Counter[tuple[int, int]] = Counter()
        for w, seq in seqs.items():
            for pair in zip(seq, seq[1:]):
                counts[pair] += words[w]
        if not counts:
            break
        # highest count; on a tie the smallest (left id, right id)
        best = min(counts, key=lambda p: (-counts[p], p))
        if counts[best] < max(1, min_frequency):
            break
        a, b = best
        new = vocab[a] + vocab[b]
        if new not in ids:
            ids[new] = len(vocab)
            vocab.append(new)
        m = ids[new]
        merges.append((a, b, m, counts[best]))
        for w, seq in seqs.items():  # merge left to right in every word
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
                    out.append(m)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[w] = out
    return vocab, merges
