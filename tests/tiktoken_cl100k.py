"""GPT-4's cl100k_base split pattern and tiktoken references built offline.

tiktoken downloads cl100k_base.tiktoken, which this machine cannot; the pattern below is
the one tiktoken publishes (tiktoken_ext/openai_public.py, checked by
test_cl100k.py::test_pattern_is_tiktokens).  The rank tables the tests use are made here:
GPT-2's ranks re-keyed as a tiktoken table, or one trained by tokgeo.
"""

from __future__ import annotations

import base64
from pathlib import Path

CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIALS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def gpt2_ranks() -> dict[bytes, int]:
    """GPT-2's vocabulary as tiktoken mergeable ranks (bytes -> id), without <|endoftext|>."""
    import tokenizer_refs as refs

    return refs.tiktoken_gpt2()._mergeable_ranks  # type: ignore[no-any-return]


def write_tiktoken_file(ranks: dict[bytes, int], path: Path) -> Path:
    """Writes ranks in the .tiktoken format: "base64(token) rank" per line."""
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in sorted(ranks.items(), key=lambda kv: kv[1])))
    return path


def encoding(ranks: dict[bytes, int], specials: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    import tiktoken

    return tiktoken.Encoding("cl100k-offline", pat_str=CL100K_PATTERN, mergeable_ranks=ranks,
                             special_tokens=specials or {})
