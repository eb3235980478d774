"""Find a GPT-2 checkpoint on disk or on the Hugging Face hub, and cache it.

:func:`resolve_model` turns what a user typed (``"gpt2"``, ``"openai-community/gpt2-xl"``,
``"~/models/my-gpt2"``) into a local folder that holds ``config.json``, the safetensors
weights and the tokenizer files.  :class:`tokgeo.GPT2` and :class:`tokgeo.Tokenizer` call it;
users can call it directly::

    import tokgeo.hub
    folder = tokgeo.hub.resolve_model("gpt2")           # downloads once, then works offline
    sorted(p.name for p in folder.iterdir())
    # ['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']

This module is not imported by ``import tokgeo``; import it as ``tokgeo.hub``.

The cache
---------
Downloads go into the standard Hugging Face cache, so files that ``transformers`` or
``huggingface_hub`` already downloaded are reused, and the other way round.  The folder is
``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
``~/.cache/huggingface/hub``; inside it, one folder per repository::

    models--openai-community--gpt2/
        blobs/<etag>                      the file contents, named by the hub's ETag
        refs/main                         text: the commit hash that "main" pointed to
        snapshots/<commit>/config.json -> ../../blobs/<etag>   (relative symbolic links)

(The ETag of a file kept with Git LFS, such as the weights, is the SHA-256 of its contents;
the ETag of a small file kept in git itself is the git blob SHA-1.)  Locks live in
``<cache>/.locks/models--org--name/<etag>.lock``, the same lock files ``huggingface_hub``
uses, so the two never download the same blob at once.

Environment
-----------
``HF_HUB_OFFLINE=1``
    Use only the cache: a missing file raises :class:`tokgeo.OfflineError`.
``HF_ENDPOINT``
    The hub to ask (default ``https://huggingface.co``); a mirror must speak the hub's API.
``HF_TOKEN``
    An access token for private or gated models (otherwise ``$HF_TOKEN_PATH`` or
    ``$HF_HOME/token``, the file ``hf auth login`` writes).  It is sent as
    ``Authorization: Bearer`` to the endpoint only, never to the storage host that large files
    are redirected to, and never appears in messages or logs.
``TOKGEO_HUB_BACKEND``
    ``builtin`` (a small ``urllib`` client in this module) or ``huggingface_hub`` (its
    ``hf_hub_download``).  By default ``huggingface_hub`` is used when it is installed.
``HF_HUB_ETAG_TIMEOUT`` / ``HF_HUB_DOWNLOAD_TIMEOUT``
    Seconds to wait for metadata (default 10) and for each piece of a download (default 30).
``HF_HUB_DISABLE_PROGRESS_BARS=1``
    No progress display (as ``progress=False``).

What the built-in client checks
-------------------------------
Every file is written to a temporary ``blobs/<etag>.<random>.incomplete`` file, flushed to
disk, checked, and only then renamed to ``blobs/<etag>``: a killed process or a lost
connection never leaves a file under its final name.  The check is

* for an LFS file (64 hexadecimal digits ETag): the SHA-256 of the bytes equals the ETag;
* for a git file (40 hexadecimal digits ETag): the git blob SHA-1 (SHA-1 of
  ``b"blob <size>\\0" + bytes``) equals the ETag;
* for any other ETag (some mirrors): only the size announced by the server.

A download that fails the check is deleted and raises :class:`tokgeo.HubError`.  With the
``huggingface_hub`` backend the same hash check runs on each freshly downloaded file.

Design choices (and how they differ from ``huggingface_hub``)
--------------------------------------------------------------
* A complete snapshot in the cache is used without asking the hub (``huggingface_hub``
  sends a HEAD request per file on every call).  GPT-2 checkpoints do not change; pass
  ``refresh=True`` to follow a moved branch, or a commit hash to pin one.
* All files of one call come from one commit: the commit of ``revision`` is asked once
  (``/api/models/{repo}/revision/{revision}``, which also lists the files) and every file is
  fetched at that commit.  ``refs/<revision>`` moves to the new commit only after every file
  is in place, so a failed refresh leaves the previous complete snapshot usable offline.
* Former top-level names (``"gpt2"``) map to their new organisation before any request, but
  if only the old cache folder (``models--gpt2``, written by older ``transformers``) exists,
  that folder is used, so nothing is downloaded twice.
* Redirects are followed on the endpoint's own origin (renamed repositories, the hub's
  ``resolve-cache``); a redirect to another host (the LFS storage, with a signed URL) is
  read for the file's metadata, and the download goes there without the token.  Query strings
  (signatures) are cut from URLs in messages.
* A dropped connection is resumed with ``Range`` up to three times within one call (from the
  start if the server ignores ``Range``); HTTP 429/5xx on metadata requests is retried three
  times with short waits.  Timeouts come from ``HF_HUB_ETAG_TIMEOUT`` and
  ``HF_HUB_DOWNLOAD_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ._version import __version__
from .errors import (
    FormatError,
    TokgeoError,
    HubError,
    InvalidInputError,
    InvalidTypeError,
    OfflineError,
    TokgeoIOError,
)

__all__ = [
    "resolve_model",
    "cache_dir",
    "canonical_repo_id",
    "DEFAULT_ENDPOINT",
    "GPT2_ALIASES",
]

logger = logging.getLogger("tokgeo.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"

#: Names of the former top-level ("canonical") repositories and the organisation each moved
#: to in 2024.  The hub still redirects the old names; tokgeo uses the new ones directly.
GPT2_ALIASES: dict[str, str] = {
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "gpt2-xl": "openai-community/gpt2-xl",
    "distilgpt2": "distilbert/distilgpt2",
}

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"
TOKENIZER_NAMES = ("vocab.json", "merges.txt")

_FOLDER_NEEDS = (
    "a GPT-2 folder needs config.json, model.safetensors (or sharded "
    "model-0000N-of-0000M.safetensors + model.safetensors.index.json), vocab.json, merges.txt"
)

_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_NAME_PART_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_HUB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_ETAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}")
_TRUE = {"1", "ON", "YES", "TRUE"}
_BACKENDS = ("builtin", "huggingface_hub")

# Waits between tries of a metadata request that got 429/5xx; tests shorten them.
_RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
# How many times one download may resume after the connection dropped.
_DOWNLOAD_RETRIES = 3
_MAX_REDIRECTS = 10
_CHUNK = 1 << 20
_PROGRESS_MIN_BYTES = 1 << 20  # smaller files get no progress display
_MAX_API_BYTES = 64 << 20


# --------------------------------------------------------------------------------------------
# public helpers


def cache_dir() -> Path:
    """The Hugging Face hub cache folder that :func:`resolve_model` uses.

    ``$HF_HUB_CACHE`` (or the older ``$HUGGINGFACE_HUB_CACHE``), else ``$HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``: the same rule as
    ``huggingface_hub``.  The folder may not exist yet.

    >>> import tokgeo.hub
    >>> tokgeo.hub.cache_dir()                  # doctest: +SKIP
    PosixPath('/home/me/.cache/huggingface/hub')
    >>> # HF_HUB_CACHE=/data/hf python ...  ->  PosixPath('/data/hf')
    """
    return _default_cache_dir()


def _default_cache_dir() -> Path:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(var)
        if value:
            return Path(os.path.expanduser(os.path.expandvars(value)))
    return _hf_home() / "hub"


def canonical_repo_id(name: str) -> str:
    """The hub repository id tokgeo uses for ``name``.

    Former top-level GPT-2 names map to the organisation they moved to (the hub itself
    redirects them); any other name is returned unchanged after validation.

    >>> canonical_repo_id("gpt2-xl")
    'openai-community/gpt2-xl'
    >>> canonical_repo_id("openai-community/gpt2")
    'openai-community/gpt2'

    Raises:
        InvalidInputError: ``name`` is not of the form ``name`` or ``org/name``.
    """
    if not isinstance(name, str):
        raise InvalidTypeError(f"a repository id must be a str, not {type(name).__name__}")
    repo_id = GPT2_ALIASES.get(name, name)
    _check_repo_id(repo_id)
    return repo_id


# --------------------------------------------------------------------------------------------
# resolve_model


def resolve_model(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str = "main",
    filenames: Sequence[str] | None = None,
    token: str | bool | None = None,
    progress: bool = True,
    backend: str | None = None,
    refresh: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Return a local folder (or file) holding a GPT-2 checkpoint, downloading it if needed.

    Args:
        name_or_path: one of

            * a local folder (``"./my-gpt2"``, a :class:`pathlib.Path`): checked to hold
              ``config.json``, ``model.safetensors`` (or ``model.safetensors.index.json`` and
              every shard it names), ``vocab.json`` and ``merges.txt`` (or the ``filenames``
              given), and returned unchanged;
            * a local file (e.g. ``"weights.safetensors"``): checked to exist and returned
              unchanged;
            * a hub name: ``"gpt2"``, ``"gpt2-medium"``, ``"gpt2-large"``, ``"gpt2-xl"``,
              ``"distilgpt2"`` (mapped to the organisations they moved to, see
              :data:`GPT2_ALIASES`) or any ``"org/name"``.

            An existing local path always wins over a hub name of the same spelling.
        revision: branch, tag or commit hash on the hub (``"main"``).
        filenames: the files to fetch instead of the default set, which is ``config.json``,
            ``vocab.json``, ``merges.txt`` and ``model.safetensors`` -- or, when the
            repository is sharded, ``model.safetensors.index.json`` plus every shard it names.
            ``pytorch_model.bin`` is never fetched by default: tokgeo reads safetensors only.
        token: access token for private or gated models.  ``None`` uses ``$HF_TOKEN`` or the
            token file written by ``hf auth login`` if there is one; ``True`` requires one of
            those; ``False`` sends no token; a string is used as the token.
        progress: show the progress of downloads of 1 MiB or more (tqdm if installed -- a
            widget in notebooks --, else a line on stderr).
        backend: ``"builtin"`` or ``"huggingface_hub"``; default ``$TOKGEO_HUB_BACKEND``, else
            ``huggingface_hub`` when it is installed.
        refresh: ask the hub which commit ``revision`` points to now even when the cache
            already holds a complete snapshot for it (by default a complete snapshot is used
            without any network access; pass a commit hash as ``revision`` to pin one).
        cache_dir: the hub cache folder (default :func:`cache_dir`).

    Returns:
        For a hub name, ``<cache>/models--org--name/snapshots/<commit>``: a folder of
        symbolic links into the cache.  For a local path, that path.

    Raises:
        OfflineError: ``HF_HUB_OFFLINE`` is set and a needed file is not in the cache.
        HubError: the hub refused (private/gated model, bad token), has no such model, file
            or revision, has no safetensors weights, could not be reached, or sent a file
            that failed its checksum (nothing is left in the cache then).
        TokgeoIOError: a local path does not exist or lacks a needed file.
        InvalidInputError / InvalidTypeError: a malformed name, revision or file name.

    Examples:
        >>> import tokgeo.hub
        >>> tokgeo.hub.resolve_model("gpt2")                        # doctest: +SKIP
        PosixPath('/home/me/.cache/huggingface/hub/models--openai-community--gpt2/snapshots/607a30d783dfa663caf39e06633721c8d4cfcd7e')
        >>> tokgeo.hub.resolve_model("./checkpoints/step-1000")    # doctest: +SKIP
        PosixPath('checkpoints/step-1000')
        >>> tokgeo.hub.resolve_model("gpt2", filenames=["config.json"], progress=False)  # doctest: +SKIP
    """
    if not isinstance(revision, str):
        raise InvalidTypeError(f"revision must be a str, not {type(revision).__name__}")
    wanted = _check_filenames(filenames)
    local = _local_path(name_or_path)
    if local is not None:
        try:
            return _check_local(local, wanted)
        except TokgeoIOError as err:
            if isinstance(name_or_path, str) and _HUB_NAME_RE.fullmatch(name_or_path):
                hub_name = GPT2_ALIASES.get(name_or_path, name_or_path)
                how = (
                    f"pass {hub_name!r} instead"
                    if hub_name != name_or_path
                    else "rename the folder or call from another working directory"
                )
                raise TokgeoIOError(
                    f"{err}. (A local folder named {name_or_path!r} exists, so it was used instead of "
                    f"the hub model; to get the hub model, {how}.)"
                ) from None
            raise
    name = str(name_or_path)
    _check_revision(revision)
    root = Path(os.path.expanduser(os.fspath(cache_dir))) if cache_dir is not None else _default_cache_dir()
    repo_id = _repo_id_for_cache(name, root)
    repo = _RepoCache(root, repo_id)

    if _offline():
        snapshot, missing = repo.complete_snapshot(revision, wanted)
        if snapshot is not None:
            return snapshot
        raise OfflineError(_offline_message(repo, revision, missing))

    if not refresh:
        snapshot, _ = repo.complete_snapshot(revision, wanted)
        if snapshot is not None:
            logger.debug("using cached snapshot %s", snapshot)
            return snapshot

    client = _make_client(backend, token=token, progress=progress)
    client.root = root
    try:
        return _download_snapshot(client, repo, revision, wanted)
    except HubError as err:
        if refresh and not isinstance(err, OfflineError):
            snapshot, _ = repo.complete_snapshot(revision, wanted)
            if snapshot is not None and _is_connection_error(err):
                logger.warning("could not refresh %s (%s); using the cached snapshot", repo_id, err)
                return snapshot
        raise


def _download_snapshot(client: _Client, repo: _RepoCache, revision: str, wanted: tuple[str, ...] | None) -> Path:
    commit, siblings = client.repo_info(repo.repo_id, revision)
    if not _COMMIT_RE.fullmatch(commit):
        raise HubError(
            f"the hub at {_redact_url(client.endpoint)} answered commit {commit!r} for {repo.repo_id}@{revision}, "
            "which is not a 40-digit commit hash; is HF_ENDPOINT a Hugging Face hub?"
        )
    files = _plan_files(repo.repo_id, revision, siblings, wanted)
    snapshot = repo.snapshot_dir(commit)
    for filename in list(files):
        if _is_file(snapshot / filename):
            continue
        try:
            client.fetch(repo, commit, filename)
        except HubError as err:
            # a server that does not list files: single-file weights missing -> try the index
            if not (siblings is None and wanted is None and filename == WEIGHTS_NAME and _is_not_found(err)):
                raise
            files[files.index(WEIGHTS_NAME)] = INDEX_NAME
            if not _is_file(snapshot / INDEX_NAME):
                try:
                    client.fetch(repo, commit, INDEX_NAME)
                except HubError as err2:
                    if _is_not_found(err2):
                        raise HubError(
                            f"{repo.repo_id}@{revision} has neither {WEIGHTS_NAME} nor {INDEX_NAME}; "
                            "tokgeo reads only safetensors weights"
                        ) from None
                    raise
    if wanted is None and INDEX_NAME in files:
        shards = _read_index(snapshot / INDEX_NAME)
        available = set(siblings) if siblings is not None else None
        for shard in shards:
            if available is not None and shard not in available:
                raise HubError(
                    f"{repo.repo_id}@{revision}: {INDEX_NAME} names the shard {shard!r}, which the "
                    "repository does not contain; the checkpoint is incomplete on the hub"
                )
            if not _is_file(snapshot / shard):
                client.fetch(repo, commit, shard)
    # Only now that the snapshot is complete does the branch move to the new commit: a failed
    # refresh leaves refs/<revision> on the old, complete snapshot, which offline use needs.
    if revision != commit:
        repo.write_ref(revision, commit)
    return snapshot


def _plan_files(repo_id: str, revision: str, siblings: list[str] | None, wanted: tuple[str, ...] | None) -> list[str]:
    """The files to fetch for ``wanted`` (``None``: the default GPT-2 set)."""
    if wanted is not None:
        if siblings is not None:
            missing = [f for f in wanted if f not in siblings]
            if missing:
                raise HubError(
                    f"no such file in {repo_id}@{revision}: {', '.join(missing)} (the repository has: "
                    f"{_short_list(siblings)})"
                )
        return list(wanted)
    if siblings is None:  # a mirror that does not list files: the common single-file layout
        return [CONFIG_NAME, *TOKENIZER_NAMES, WEIGHTS_NAME]
    missing = [f for f in (CONFIG_NAME, *TOKENIZER_NAMES) if f not in siblings]
    if missing:
        raise HubError(
            f"{repo_id}@{revision} has no {', '.join(missing)}; {_FOLDER_NEEDS}. The repository has: "
            f"{_short_list(siblings)}. Pass filenames=[...] to fetch other files."
        )
    if WEIGHTS_NAME in siblings:
        weights = WEIGHTS_NAME
    elif INDEX_NAME in siblings:
        weights = INDEX_NAME
    else:
        other = [f for f in siblings if f.endswith((".bin", ".h5", ".msgpack", ".ckpt", ".pt", ".pth"))]
        extra = f" (it has {', '.join(other[:4])}, which tokgeo does not read)" if other else ""
        raise HubError(
            f"{repo_id}@{revision} has no safetensors weights{extra}. tokgeo reads only "
            f"{WEIGHTS_NAME} or sharded safetensors with {INDEX_NAME}. Convert the checkpoint "
            "(transformers: model.save_pretrained(folder, safe_serialization=True)) and pass the "
            "folder, or pick a revision that has safetensors (e.g. the conversion bot's "
            "'refs/pr/N')."
        )
    return [CONFIG_NAME, *TOKENIZER_NAMES, weights]


# --------------------------------------------------------------------------------------------
# argument checks and local paths


def _check_repo_id(repo_id: str) -> None:
    parts = repo_id.split("/")
    if (
        not 1 <= len(parts) <= 2
        or not all(_NAME_PART_RE.fullmatch(p) for p in parts)
        or any("--" in p or ".." in p or p.endswith(".git") for p in parts)
    ):
        raise InvalidInputError(
            f"{repo_id!r} is neither an existing local path nor a hub model name; a hub name is "
            "'name' or 'org/name' (letters, digits, '-', '_', '.'), e.g. 'gpt2' or "
            "'openai-community/gpt2-xl'"
        )


def _check_relative(kind: str, value: str) -> None:
    if (
        not value
        or "\\" in value
        or "\0" in value
        or value.startswith("/")
        or any(part in ("", ".", "..") for part in value.split("/"))
    ):
        raise InvalidInputError(
            f"bad {kind} {value!r}: use a relative name with '/' separators and no '.' or '..' parts"
        )


def _check_revision(revision: str) -> None:
    _check_relative("revision", revision)


def _check_filenames(filenames: Sequence[str] | None) -> tuple[str, ...] | None:
    if filenames is None:
        return None
    if isinstance(filenames, (str, bytes)) or not isinstance(filenames, Sequence):
        raise InvalidTypeError(
            f"filenames must be a list of file names, not {type(filenames).__name__}; "
            "write filenames=['config.json'] for a single file"
        )
    out: list[str] = []
    for name in filenames:
        if not isinstance(name, str):
            raise InvalidTypeError(f"file names must be str, not {type(name).__name__}")
        _check_relative("file name", name)
        if name not in out:
            out.append(name)
    if not out:
        raise InvalidInputError("filenames is empty; pass None for the default GPT-2 files")
    return tuple(out)


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~", "."))
        or "\\" in name
        or name.count("/") > 1
        or name.endswith((".safetensors", ".json", ".txt"))
        or (len(name) > 1 and name[1] == ":")
    )


def _local_path(name_or_path: str | os.PathLike[str]) -> Path | None:
    """The local path meant by ``name_or_path``, or None for a hub name."""
    if isinstance(name_or_path, os.PathLike):
        raw = os.fspath(name_or_path)
        if not isinstance(raw, str):
            raise InvalidTypeError("a bytes path is not supported; pass a str or pathlib.Path")
        path = Path(os.path.expanduser(raw))
        if not path.exists():
            raise TokgeoIOError(f"no such file or folder: {path}")
        return path
    if not isinstance(name_or_path, str):
        raise InvalidTypeError(
            f"expected a model name or a path (str or os.PathLike), not {type(name_or_path).__name__}"
        )
    if not name_or_path:
        raise InvalidInputError("empty model name; use e.g. 'gpt2' or a folder path")
    path = Path(os.path.expanduser(name_or_path))
    if path.exists():
        return path
    if _looks_like_path(name_or_path):
        raise TokgeoIOError(
            f"no such file or folder: {path}. Pass an existing folder holding a GPT-2 checkpoint, "
            "or a hub name such as 'gpt2' or 'openai-community/gpt2-xl'"
        )
    return None


def _check_local(path: Path, wanted: tuple[str, ...] | None) -> Path:
    if path.is_file():
        if wanted is not None:
            raise InvalidInputError(f"filenames= applies to folders and hub names, but {path} is a file")
        if not os.access(path, os.R_OK):
            raise TokgeoIOError(f"{path} is not readable (permission denied)")
        return path
    if not path.is_dir():
        raise TokgeoIOError(f"{path} is neither a regular file nor a folder")
    missing = _missing_in_folder(path, wanted)
    if missing:
        hint = "" if wanted is not None else f"; {_FOLDER_NEEDS}"
        extra = ""
        if wanted is None and not (path / WEIGHTS_NAME).exists() and (path / "pytorch_model.bin").exists():
            extra = (
                ". It has pytorch_model.bin, which tokgeo does not read: convert it with transformers "
                "(model.save_pretrained(folder, safe_serialization=True))"
            )
        raise TokgeoIOError(f"no {', '.join(missing)} in {path}{hint}{extra}")
    return path


def _missing_in_folder(folder: Path, wanted: tuple[str, ...] | None) -> list[str]:
    """Files of ``wanted`` (or of the default set) that ``folder`` lacks, in a stable order."""
    if wanted is not None:
        return [f for f in wanted if not _is_file(folder / f)]
    missing = [f for f in (CONFIG_NAME,) if not _is_file(folder / f)]
    if _is_file(folder / WEIGHTS_NAME):
        pass
    elif _is_file(folder / INDEX_NAME):
        missing += [s for s in _read_index(folder / INDEX_NAME) if not _is_file(folder / s)]
    else:
        missing.append(WEIGHTS_NAME)
    missing += [f for f in TOKENIZER_NAMES if not _is_file(folder / f)]
    return missing


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()  # follows symbolic links: a dangling link is not a file
    except OSError:
        return False


def _read_index(path: Path) -> list[str]:
    """The shard file names that a ``model.safetensors.index.json`` names, sorted."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(_MAX_API_BYTES))
    except (OSError, ValueError) as err:
        raise FormatError(f"cannot read the shard index {path}: {err}") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise FormatError(f"{path} has no 'weight_map' object mapping tensor names to shard files")
    shards = sorted({v for v in weight_map.values() if isinstance(v, str)})
    if len(shards) == 0 or not all(isinstance(v, str) for v in weight_map.values()):
        raise FormatError(f"{path}: every 'weight_map' value must be a shard file name")
    for shard in shards:
        try:
            _check_relative("shard name", shard)
        except InvalidInputError as err:
            raise FormatError(f"{path}: {err}") from None
    return shards


def _short_list(items: Sequence[str], limit: int = 12) -> str:
    items = list(items)
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f", ... ({len(items)} files)"
    return text or "no files"


# --------------------------------------------------------------------------------------------
# environment


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in _TRUE


def _offline() -> bool:
    return _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")


def _hf_home() -> Path:
    value = os.environ.get("HF_HOME")
    if value:
        return Path(os.path.expanduser(os.path.expandvars(value)))
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface"


def _endpoint() -> str:
    endpoint = (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).strip().rstrip("/")
    parsed = urllib.parse.urlsplit(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        raise InvalidInputError(
            f"HF_ENDPOINT={_redact_url(endpoint)!r} is not an http(s) URL such as {DEFAULT_ENDPOINT}"
        )
    return endpoint


def _env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidInputError(f"{name}={value!r} is not a number of seconds") from None
    if not seconds > 0:
        raise InvalidInputError(f"{name}={value!r} must be a positive number of seconds")
    return seconds


def _resolve_token(token: str | bool | None) -> str | None:
    """The token to send (never logged), or None."""
    if token is False:
        return None
    if isinstance(token, str):
        token = token.strip()
        if not token:
            raise InvalidInputError("token is an empty string; pass None or False for no token")
        if any(c.isspace() for c in token) or not token.isprintable():
            raise InvalidInputError("the token contains whitespace or control characters")
        return token
    if token is not None and token is not True:
        raise InvalidTypeError(f"token must be a str, bool or None, not {type(token).__name__}")
    if token is None and _env_true("HF_HUB_DISABLE_IMPLICIT_TOKEN"):
        return None
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    token_path = os.environ.get("HF_TOKEN_PATH")
    path = Path(os.path.expanduser(os.path.expandvars(token_path))) if token_path else _hf_home() / "token"
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        value = ""
    if value:
        return value
    if token is True:
        raise HubError(
            "token=True but no token was found: set HF_TOKEN, run `hf auth login`, or pass "
            "token='hf_...'"
        )
    return None


def _repo_id_for_cache(name: str, root: Path) -> str:
    """The repository id for ``name``; a former top-level name keeps its old cache folder if
    only that one exists, so that files transformers cached under it are reused."""
    if not isinstance(name, str):
        raise InvalidTypeError(f"expected a str, not {type(name).__name__}")
    repo_id = canonical_repo_id(name)
    if repo_id != name:
        new = root / _folder_name(repo_id)
        old = root / _folder_name(name)
        if not new.exists() and old.is_dir():
            logger.debug("reusing the cache folder %s of the former name %r", old, name)
            return name  # the hub redirects the old name
    return repo_id


def _folder_name(repo_id: str) -> str:
    return "--".join(["models", *repo_id.split("/")])


def _redact_url(url: str) -> str:
    """A URL without its query string (signed storage URLs carry credentials there)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]  # no user:password@
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _origin(url: str) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme, 0)
    try:
        port = parts.port or default
    except ValueError:
        port = -1
    return (parts.scheme, (parts.hostname or "").lower(), port)


# --------------------------------------------------------------------------------------------
# the cache layout


class _RepoCache:
    """One repository's folder in the hub cache (``models--org--name``)."""

    def __init__(self, root: Path, repo_id: str) -> None:
        self.root = root
        self.repo_id = repo_id
        self.folder = root / _folder_name(repo_id)

    def snapshot_dir(self, commit: str) -> Path:
        return self.folder / "snapshots" / commit

    def blob_path(self, etag: str) -> Path:
        return self.folder / "blobs" / etag

    def lock_path(self, etag: str) -> Path:
        return self.root / ".locks" / _folder_name(self.repo_id) / f"{etag}.lock"

    def read_ref(self, revision: str) -> str | None:
        if _COMMIT_RE.fullmatch(revision):
            return revision
        try:
            commit = (self.folder / "refs" / revision).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return commit if _COMMIT_RE.fullmatch(commit) else None

    def write_ref(self, revision: str, commit: str) -> None:
        """Record that ``revision`` points to ``commit`` (atomically: readers never see half)."""
        path = self.folder / "refs" / revision
        try:
            if path.read_text(encoding="ascii") == commit:
                return
        except (OSError, UnicodeDecodeError):
            pass
        self._prepare_root()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "w", encoding="ascii") as f:
                f.write(commit)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def complete_snapshot(self, revision: str, wanted: tuple[str, ...] | None) -> tuple[Path | None, list[str]]:
        """(snapshot folder, []) if the cache holds every needed file, else (None, missing)."""
        commit = self.read_ref(revision)
        if commit is None:
            return None, list(wanted) if wanted is not None else [CONFIG_NAME, *TOKENIZER_NAMES, WEIGHTS_NAME]
        snapshot = self.snapshot_dir(commit)
        try:
            missing = _missing_in_folder(snapshot, wanted)
        except FormatError:
            missing = [INDEX_NAME]
        return (snapshot, []) if not missing else (None, missing)

    def _prepare_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TokgeoIOError(
                f"cannot create the hub cache folder {self.root} ({err.strerror}); set HF_HUB_CACHE "
                "to a writable folder"
            ) from None
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            with contextlib.suppress(OSError):
                tag.write_text(
                    "Signature: 8a477f597d28d172789f06886806bc55\n"
                    "# This file is a cache directory tag (Hugging Face hub cache).\n"
                )

    def link(self, etag: str, commit: str, filename: str) -> Path:
        """Point ``snapshots/<commit>/<filename>`` at ``blobs/<etag>`` (a relative link)."""
        blob = self.blob_path(etag)
        pointer = self.snapshot_dir(commit) / filename
        pointer.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(blob, pointer.parent)
        if os.path.islink(pointer) and os.readlink(pointer) == target:
            return pointer
        tmp = pointer.with_name(f".{pointer.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            try:
                os.symlink(target, tmp)
            except OSError:  # no symbolic links here (Windows without developer mode): copy
                shutil.copyfile(blob, tmp)
            os.replace(tmp, pointer)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return pointer


def _offline_message(repo: _RepoCache, revision: str, missing: list[str]) -> str:
    commit = repo.read_ref(revision)
    where = f"{repo.repo_id}@{revision}" + (f" (commit {commit})" if commit and commit != revision else "")
    have = "no snapshot of it" if commit is None else "an incomplete snapshot"
    files = " ".join(missing)
    return (
        f"HF_HUB_OFFLINE is set and {', '.join(missing)} of {where} is not in the cache "
        f"{repo.root} (it has {have}). To get it, run once with network access (unset "
        f"HF_HUB_OFFLINE), e.g. `python -c \"import tokgeo.hub; tokgeo.hub.resolve_model("
        f"'{repo.repo_id}', revision='{revision}')\"` or `hf download {repo.repo_id} {files} "
        f"--revision {revision}`; or pass the path of a local folder that holds the files."
    )


# --------------------------------------------------------------------------------------------
# locking


@contextlib.contextmanager
def _file_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (``fcntl.flock``, as ``huggingface_hub`` does).

    Waits as long as another process holds it (that process is downloading the same blob);
    Ctrl-C interrupts the wait.  On systems without ``fcntl`` the atomic rename alone keeps
    the cache consistent (two processes may then both download).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    waited = 0.0
    delay = 0.02
    next_note = 5.0
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as err:
                    if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                if waited >= next_note:
                    logger.info("waiting for another process to finish downloading %s (%.0f s)", what, waited)
                    next_note += 10.0
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 0.25)
            # the lock file may have been deleted and re-created by someone between our open()
            # and flock(): then we hold a lock nobody else sees; start over
            st = os.fstat(fd)
            try:
                same = st.st_nlink > 0 and os.stat(path).st_ino == st.st_ino
            except FileNotFoundError:
                same = False
            if not same:
                continue
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            return
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# progress


class _Progress:
    """Byte progress: tqdm (tqdm.auto: a widget in notebooks) when installed, else stderr."""

    def __init__(self, desc: str, total: int | None, enabled: bool) -> None:
        self.desc = desc
        self.total = total
        self.done = 0
        self._bar: Any = None
        self._plain = False
        self._last = 0.0
        self._width = 0
        self._tty = False
        if not enabled or _env_true("HF_HUB_DISABLE_PROGRESS_BARS"):
            return
        if total is not None and total < _PROGRESS_MIN_BYTES:
            return  # config and tokenizer files arrive in a blink: no bar for them
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._plain = True
            self._tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
            self._write(final=False)
            return
        self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=True)

    def reset(self) -> None:
        self.done = 0
        if self._bar is not None:
            self._bar.reset(total=self.total)

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._plain and self._tty and time.monotonic() - self._last > 0.5:
            self._write(final=False)

    def close(self, ok: bool) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._plain:
            self._write(final=True, ok=ok)

    def _write(self, final: bool, ok: bool = True) -> None:
        self._last = time.monotonic()
        size = _human(self.total) if self.total is not None else "unknown size"
        if final:
            state = f"done, {_human(self.done)}" if ok else f"failed after {_human(self.done)}"
            line = f"tokgeo: downloading {self.desc} ({size}): {state}\n"
            prefix = "\r" if self._tty else ""
        elif self.done == 0:
            line, prefix = f"tokgeo: downloading {self.desc} ({size})" + ("" if self._tty else "\n"), ""
        else:
            pct = f" {100 * self.done // self.total}%" if self.total else ""
            line, prefix = f"tokgeo: downloading {self.desc} ({size}):{pct} {_human(self.done)}", "\r"
        if prefix == "\r":  # overwrite the whole previous line
            width = len(line.rstrip("\n"))
            line = line.rstrip("\n").ljust(self._width) + ("\n" if line.endswith("\n") else "")
            self._width = max(self._width, width)
        else:
            self._width = len(line.rstrip("\n"))
        try:
            sys.stderr.write(prefix + line)
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


# --------------------------------------------------------------------------------------------
# clients


class _Client:
    """What a backend provides: repository info and one file into the cache."""

    endpoint: str
    root: Path | None = None

    def repo_info(self, repo_id: str, revision: str) -> tuple[str, list[str] | None]:
        """(commit hash, file names or None if the server did not list them)."""
        raise NotImplementedError

    def fetch(self, repo: _RepoCache, commit: str, filename: str) -> Path:
        """Make ``snapshots/<commit>/<filename>`` exist in ``repo``; return it."""
        raise NotImplementedError


def _make_client(backend: str | None, *, token: str | bool | None, progress: bool) -> _Client:
    choice = backend if backend is not None else (os.environ.get("TOKGEO_HUB_BACKEND") or "").strip()
    if not isinstance(choice, str):
        raise InvalidTypeError(f"backend must be a str or None, not {type(choice).__name__}")
    choice = choice.lower() or "auto"
    if choice not in (*_BACKENDS, "auto"):
        source = "backend" if backend is not None else "TOKGEO_HUB_BACKEND"
        raise InvalidInputError(f"{source}={choice!r}: use 'builtin', 'huggingface_hub' or leave it unset")
    endpoint = _endpoint()
    secret = _resolve_token(token)
    if choice == "auto":
        import importlib.util

        choice = "huggingface_hub" if importlib.util.find_spec("huggingface_hub") is not None else "builtin"
    if choice == "huggingface_hub":
        return _HFClient(endpoint, secret, progress)
    return _BuiltinClient(endpoint, secret, progress)


@dataclass
class _FileMeta:
    etag: str
    size: int | None
    commit: str | None
    url: str  # where to GET the bytes (may be a storage host)


class _ConnectionFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Response:
    """A response whose body has not been read yet (or an error/redirect response)."""

    def __init__(self, status: int, headers: Any, url: str, raw: Any) -> None:
        self.status = status
        self.headers = headers
        self.url = url
        self.raw = raw

    def header(self, name: str) -> str | None:
        value = self.headers.get(name) if self.headers is not None else None
        return value if value is None else str(value)

    def close(self) -> None:
        if self.raw is not None:
            with contextlib.suppress(Exception):
                self.raw.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None  # we follow redirects ourselves, deciding where the token may go


def _not_found(message: str) -> HubError:
    err = HubError(message)
    err._tokgeo_not_found = True  # type: ignore[attr-defined]
    return err


def _is_not_found(err: BaseException) -> bool:
    return getattr(err, "_tokgeo_not_found", False) is True


def _is_connection_error(err: BaseException) -> bool:
    return getattr(err, "_tokgeo_connection", False) is True


def _connection_error(endpoint: str, reason: str, root: Path | None) -> HubError:
    err = HubError(
        f"could not reach the Hugging Face hub at {_redact_url(endpoint)} ({reason}). Check the network, a proxy "
        "(HTTPS_PROXY) or HF_ENDPOINT; to work without network set HF_HUB_OFFLINE=1 with the files "
        f"already in the cache ({root or _default_cache_dir()}), or pass a local folder: "
        "resolve_model('/path/to/gpt2-folder')"
    )
    err._tokgeo_connection = True  # type: ignore[attr-defined]
    return err


class _BuiltinClient(_Client):
    """A small hub client on urllib: metadata, redirects, verified atomic downloads."""

    def __init__(self, endpoint: str, token: str | None, progress: bool) -> None:
        self.endpoint = endpoint
        self._token = token
        self._progress = progress
        self._meta_timeout = _env_seconds("HF_HUB_ETAG_TIMEOUT", 10.0)
        self._read_timeout = _env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 30.0)
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:  # never show the token
        return f"_BuiltinClient({self.endpoint!r}, token={'***' if self._token else None})"

    # -- HTTP ------------------------------------------------------------------------------

    def _headers(self, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "User-Agent": f"tokgeo/{__version__}; python/{sys.version.split()[0]}",
            "Accept-Encoding": "identity",
        }
        if self._token is not None and _origin(url) == _origin(self.endpoint):
            headers["Authorization"] = f"Bearer {self._token}"
        if extra:
            headers.update(extra)
        return headers

    def _send(self, method: str, url: str, timeout: float, extra: dict[str, str] | None = None) -> _Response:
        request = urllib.request.Request(url, method=method, headers=self._headers(url, extra))
        try:
            raw = self._opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as err:  # 3xx (not followed), 4xx, 5xx
            return _Response(err.code, err.headers, url, err)
        except urllib.error.URLError as err:
            reason = err.reason
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
            raise _ConnectionFailed(f"{text or 'connection failed'} for {_redact_url(url)}") from None
        except (TimeoutError, socket.timeout):
            raise _ConnectionFailed(f"no answer within {timeout:g} s from {_redact_url(url)}") from None
        except (http.client.HTTPException, OSError) as err:
            raise _ConnectionFailed(f"{type(err).__name__}: {err} for {_redact_url(url)}") from None
        return _Response(raw.status, raw.headers, url, raw)

    def _request(
        self, method: str, url: str, timeout: float, what: str, extra: dict[str, str] | None = None
    ) -> _Response:
        """Send, following redirects on the same origin, retrying 429/5xx a few times.

        A redirect to another origin (the storage host of LFS files) is returned unfollowed.
        """
        tries = 0
        hops = 0
        while True:
            try:
                response = self._send(method, url, timeout, extra)
            except _ConnectionFailed as err:
                raise _connection_error(self.endpoint, err.reason, self.root) from None
            status = response.status
            if status in (301, 302, 303, 307, 308) and response.header("Location"):
                target = urllib.parse.urljoin(url, response.header("Location") or "")
                if _origin(target) != _origin(url):
                    return response
                response.close()
                hops += 1
                if hops > _MAX_REDIRECTS:
                    raise HubError(f"too many redirects while fetching {what} from {_redact_url(url)}")
                url = target
                continue
            if (status == 429 or status >= 500) and tries < len(_RETRY_DELAYS):
                response.close()
                delay = _RETRY_DELAYS[tries]
                retry_after = response.header("Retry-After")
                if retry_after and retry_after.isdigit():
                    delay = min(max(delay, float(retry_after)), 30.0)
                logger.info("HTTP %d for %s; retrying in %.1f s", status, _redact_url(url), delay)
                time.sleep(delay)
                tries += 1
                continue
            return response

    def _raise_for(self, response: _Response, what: str, repo_id: str, revision: str) -> None:
        status = response.status
        if 200 <= status < 300:
            return
        response.close()
        code = response.header("X-Error-Code") or ""
        server_msg = (response.header("X-Error-Message") or "").strip()
        detail = f" (the hub says: {server_msg[:300]})" if server_msg else ""
        url = _redact_url(response.url)
        page = f"{_redact_url(self.endpoint)}/{repo_id}"
        if code == "GatedRepo" or (status == 403 and "gated" in server_msg.lower()):
            raise HubError(
                f"{repo_id} is a gated model: accept its conditions at {page} while logged in, then "
                f"pass token='hf_...', set HF_TOKEN or run `hf auth login` (HTTP {status} for {url}){detail}"
            )
        if status in (401, 403):
            sent = (
                "The token that was sent was refused: it may be expired, mistyped, or lack access to this model."
                if self._token is not None
                else "No token was sent."
            )
            raise HubError(
                f"the hub refused access to {what} (HTTP {status} for {url}): {repo_id} is private or "
                "gated, or does not exist (the hub answers 401 for unknown names when no token is "
                f"sent). Check the spelling; for a private or gated model log in with `hf auth login`, "
                f"set HF_TOKEN, or pass token='hf_...'. {sent}{detail}"
            )
        if status == 404:
            if code == "RevisionNotFound":
                raise HubError(f"no revision {revision!r} in {repo_id} ({url}){detail}")
            if code == "EntryNotFound":
                raise _not_found(f"no such file: {what} in {repo_id}@{revision} ({url}){detail}")
            raise _not_found(f"no such model or file: {what} ({url}) on {_redact_url(self.endpoint)}{detail}")
        if status == 429:
            raise HubError(f"the hub at {_redact_url(self.endpoint)} is rate-limiting requests (HTTP 429 for {url}); wait and retry{detail}")
        if status >= 500:
            raise HubError(
                f"the hub at {_redact_url(self.endpoint)} failed with HTTP {status} for {url} after "
                f"{len(_RETRY_DELAYS) + 1} tries; try again later, or set HF_HUB_OFFLINE=1 with the "
                f"files already in the cache, or pass a local folder{detail}"
            )
        raise HubError(f"unexpected HTTP {status} for {what} ({url}){detail}")

    # -- metadata --------------------------------------------------------------------------

    def repo_info(self, repo_id: str, revision: str) -> tuple[str, list[str] | None]:
        quoted_rev = urllib.parse.quote(revision, safe="")
        url = f"{self.endpoint}/api/models/{repo_id}/revision/{quoted_rev}"
        what = f"the model {repo_id}"
        response = self._request("GET", url, self._meta_timeout, what)
        if 300 <= response.status < 400:
            response.close()
            raise HubError(f"the hub redirected {_redact_url(url)} to another host; is HF_ENDPOINT right?")
        self._raise_for(response, what, repo_id, revision)
        try:
            body = response.raw.read(_MAX_API_BYTES + 1)
        except (OSError, http.client.HTTPException) as err:
            raise _connection_error(
                self.endpoint, f"{type(err).__name__} while reading {_redact_url(url)}", self.root
            ) from None
        finally:
            response.close()
        try:
            if len(body) > _MAX_API_BYTES:
                raise ValueError("answer too large")
            data = json.loads(body)
            commit = data["sha"]
            siblings_raw = data.get("siblings")
            siblings = None if siblings_raw is None else [str(s["rfilename"]) for s in siblings_raw]
            if not isinstance(commit, str):
                raise ValueError("'sha' is not a string")
        except (ValueError, KeyError, TypeError) as err:
            raise HubError(
                f"{_redact_url(url)} did not answer like a Hugging Face hub ({err}); check HF_ENDPOINT"
            ) from None
        return commit, siblings

    def _head(self, repo_id: str, commit: str, filename: str) -> _FileMeta:
        url = f"{self.endpoint}/{repo_id}/resolve/{commit}/{urllib.parse.quote(filename)}"
        response = self._request("HEAD", url, self._meta_timeout, filename)
        redirected = 300 <= response.status < 400
        if not redirected:
            self._raise_for(response, filename, repo_id, commit)
        response.close()
        etag = _normalize_etag(response.header("X-Linked-Etag") or response.header("ETag"))
        if etag is None or not _ETAG_RE.fullmatch(etag):
            raise HubError(
                f"{_redact_url(response.url)} sent no usable ETag header, so the file cannot be "
                "cached safely; is HF_ENDPOINT a Hugging Face hub?"
            )
        size_text = response.header("X-Linked-Size") or (None if redirected else response.header("Content-Length"))
        try:
            size = int(size_text) if size_text is not None else None
        except ValueError:
            size = None
        if size is not None and size < 0:
            size = None
        location = urllib.parse.urljoin(response.url, response.header("Location") or "") if redirected else response.url
        return _FileMeta(etag=etag, size=size, commit=response.header("X-Repo-Commit"), url=location)

    # -- download --------------------------------------------------------------------------

    def fetch(self, repo: _RepoCache, commit: str, filename: str) -> Path:
        meta = self._head(repo.repo_id, commit, filename)
        blob = repo.blob_path(meta.etag)
        if blob.is_file():
            return repo.link(meta.etag, commit, filename)
        repo._prepare_root()
        blob.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(repo.lock_path(meta.etag), f"{repo.repo_id}/{filename}"):
            if not blob.is_file():  # another process may have finished it while we waited
                for stale in blob.parent.glob(f"{_glob_escape(meta.etag)}.*.incomplete"):
                    with contextlib.suppress(OSError):
                        stale.unlink()  # left by a killed process: we hold the lock
                self._download(meta, blob, filename, repo.repo_id, commit)
            return repo.link(meta.etag, commit, filename)

    def _download(self, meta: _FileMeta, blob: Path, filename: str, repo_id: str, commit: str) -> None:
        tmp = blob.with_name(f"{blob.name}.{uuid.uuid4().hex[:8]}.incomplete")
        if meta.size is not None:
            free = _free_bytes(blob.parent)
            if free is not None and free < meta.size:
                raise TokgeoIOError(
                    f"not enough disk space for {filename} ({_human(meta.size)}): {_human(free)} free "
                    f"in {blob.parent}. Free some space or set HF_HUB_CACHE to a folder on a larger disk"
                )
        bar = _Progress(filename, meta.size, self._progress)
        ok = False
        try:
            try:
                with open(tmp, "xb") as f:
                    hasher = _Hasher(meta.etag, meta.size)
                    self._stream_into(meta, f, hasher, bar, filename, repo_id, commit)
                    f.flush()
                    os.fsync(f.fileno())
                    written = f.tell()
            except OSError as err:
                if isinstance(err, TokgeoError):
                    raise
                raise TokgeoIOError(
                    f"cannot write the download of {filename} to {tmp.parent}: "
                    f"{err.strerror or err}. Check free space and permissions, or set HF_HUB_CACHE to "
                    "another folder"
                ) from None
            if meta.size is not None and written != meta.size:
                raise HubError(
                    f"download of {filename} from {_redact_url(meta.url)} delivered {written} bytes "
                    f"instead of {meta.size}; nothing was kept, call again to retry"
                )
            hasher.check(tmp, filename, _redact_url(meta.url))
            mode = 0o666 & ~_umask()
            with contextlib.suppress(OSError):
                os.chmod(tmp, mode)
            os.replace(tmp, blob)
            _fsync_dir(blob.parent)
            ok = True
        finally:
            bar.close(ok)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _stream_into(
        self, meta: _FileMeta, f: IO[bytes], hasher: _Hasher, bar: _Progress, filename: str, repo_id: str, commit: str
    ) -> None:
        """Write the file's bytes into ``f``, resuming with Range after a dropped connection."""
        offset = 0
        failures = 0
        last_error = ""
        while True:
            extra = {"Range": f"bytes={offset}-"} if offset > 0 else None
            try:
                response = self._send("GET", meta.url, self._read_timeout, extra)
            except _ConnectionFailed as err:
                response, last_error = None, err.reason
            if response is not None:
                status = response.status
                if status in (301, 302, 303, 307, 308) and response.header("Location"):
                    response.close()  # a storage host bouncing once more (same file)
                    meta.url = urllib.parse.urljoin(meta.url, response.header("Location") or "")
                    failures += 1
                    if failures > _MAX_REDIRECTS:
                        raise HubError(f"too many redirects while downloading {filename}")
                    continue
                if offset > 0 and status == 200:  # Range ignored: start over
                    f.seek(0)
                    f.truncate()
                    hasher.reset()
                    bar.reset()
                    offset = 0
                elif offset > 0 and status == 206:
                    start = _content_range_start(response.header("Content-Range"))
                    if start != offset:
                        response.close()
                        raise HubError(f"{_redact_url(meta.url)} answered a range request with the wrong range")
                elif status != 200:
                    if status >= 500 or status == 429:
                        response.close()
                        last_error = f"HTTP {status}"
                        response = None
                    else:
                        self._raise_for(response, filename, repo_id, commit)
                if response is not None and meta.size is None and status == 200:
                    length = response.header("Content-Length")
                    meta.size = int(length) if length is not None and length.isdigit() else None
                if response is not None:
                    try:
                        while True:
                            read_error = None
                            try:
                                chunk = response.raw.read(_CHUNK)
                            except (http.client.HTTPException, OSError) as err:  # network only
                                chunk = getattr(err, "partial", b"") or b""
                                read_error = f"{type(err).__name__}: {err}"
                            if chunk:  # a failed write (disk full) propagates: no retry
                                f.write(chunk)
                                hasher.update(chunk)
                                bar.update(len(chunk))
                                offset += len(chunk)
                            if read_error is not None:
                                last_error = f"{read_error} after {offset} bytes"
                                break
                            if not chunk:
                                if meta.size is None or offset >= meta.size:
                                    return
                                last_error = f"the server closed the connection after {offset} of {meta.size} bytes"
                                break
                    finally:
                        response.close()
            failures += 1
            if failures > _DOWNLOAD_RETRIES:
                size = f" of {meta.size}" if meta.size is not None else ""
                raise HubError(
                    f"download of {filename} from {_redact_url(meta.url)} was interrupted "
                    f"({last_error}; {offset}{size} bytes received, {failures} tries); nothing was "
                    "kept in the cache: call again to retry"
                )
            logger.info("download of %s interrupted (%s); resuming at byte %d", filename, last_error, offset)
            time.sleep(min(0.2 * failures, 1.0))


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _content_range_start(value: str | None) -> int | None:
    match = re.match(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)", value or "")
    return int(match.group(1)) if match else None


def _normalize_etag(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    return value or None


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Hasher:
    """Checks a download against its ETag (see the module docstring for the rule)."""

    def __init__(self, etag: str, size: int | None) -> None:
        self.etag = etag
        self.size = size
        self.kind = "sha256" if _SHA256_RE.fullmatch(etag) else "git-sha1" if _COMMIT_RE.fullmatch(etag) else "size"
        self.reset()

    def reset(self) -> None:
        self._h: Any = None
        self._streaming = False
        if self.kind == "sha256":
            self._h, self._streaming = hashlib.sha256(), True
        elif self.kind == "git-sha1" and self.size is not None:
            self._h, self._streaming = hashlib.sha1(f"blob {self.size}\0".encode()), True

    def update(self, chunk: bytes) -> None:
        if self._streaming:
            self._h.update(chunk)

    def check(self, path: Path, filename: str, url: str) -> None:
        if self.kind == "size":
            return
        if self._streaming:
            digest = self._h.hexdigest()
        else:
            digest = _file_digest(path, self.kind)
        if digest != self.etag:
            label = "SHA-256" if self.kind == "sha256" else "git blob SHA-1"
            raise HubError(
                f"corrupt download of {filename} from {url}: its {label} is {digest}, the hub says "
                f"{self.etag}. The file was deleted; call again to retry (if it persists, the "
                "network or mirror alters the data)"
            )


def _file_digest(path: Path, kind: str) -> str:
    if kind == "sha256":
        h = hashlib.sha256()
    else:
        h = hashlib.sha1(f"blob {os.path.getsize(path)}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# huggingface_hub backend


class _HFClient(_Client):
    """Delegates to ``huggingface_hub`` (``HfApi.model_info`` and ``hf_hub_download``)."""

    def __init__(self, endpoint: str, token: str | None, progress: bool) -> None:
        try:
            import huggingface_hub
        except ImportError:
            raise HubError(
                "the huggingface_hub backend was asked for but huggingface_hub is not installed: "
                "pip install huggingface_hub, or use TOKGEO_HUB_BACKEND=builtin"
            ) from None
        self._hf = huggingface_hub
        self.endpoint = endpoint
        self._token = token
        self._progress = progress

    def __repr__(self) -> str:
        return f"_HFClient({self.endpoint!r}, token={'***' if self._token else None})"

    def _translate(self, err: BaseException, what: str, repo_id: str, revision: str) -> HubError:
        names = {cls.__name__ for cls in type(err).__mro__}
        response = getattr(err, "response", None)
        status = getattr(response, "status_code", None)
        page = f"{_redact_url(self.endpoint)}/{repo_id}"
        if "GatedRepoError" in names:
            return HubError(
                f"{repo_id} is a gated model: accept its conditions at {page} while logged in, then "
                "pass token='hf_...', set HF_TOKEN or run `hf auth login`"
            )
        if "RevisionNotFoundError" in names:
            return HubError(f"no revision {revision!r} in {repo_id}")
        if "RemoteEntryNotFoundError" in names or ("EntryNotFoundError" in names and "LocalEntryNotFoundError" not in names):
            return _not_found(f"no such file: {what} in {repo_id}@{revision}")
        if status == 404:
            return _not_found(f"no such model or file: {what} in {repo_id}@{revision} on {_redact_url(self.endpoint)}")
        if "RepositoryNotFoundError" in names or status in (401, 403):
            sent = (
                "The token that was sent was refused: it may be expired, mistyped, or lack access to this model."
                if self._token is not None
                else "No token was sent."
            )
            return HubError(
                f"the hub refused access to {what} (HTTP {status}): {repo_id} is private or gated, or "
                "does not exist. Check the spelling; for a private or gated model log in with "
                f"`hf auth login`, set HF_TOKEN, or pass token='hf_...'. {sent}"
            )
        if "OfflineModeIsEnabled" in names:
            return HubError(
                "huggingface_hub is in offline mode (HF_HUB_OFFLINE was set when it was imported) but "
                "tokgeo was asked to download; restart Python with the setting you want, or use "
                "backend='builtin'"
            )
        if status is not None and (status >= 500 or status == 429):
            return HubError(
                f"the hub at {_redact_url(self.endpoint)} failed with HTTP {status} for {what}; try again later, or "
                "set HF_HUB_OFFLINE=1 with the files already in the cache, or pass a local folder"
            )
        if "LocalEntryNotFoundError" in names or "FileMetadataError" in names or status is None:
            cause = err.__cause__ or err.__context__
            reason = type(cause).__name__ if cause is not None else type(err).__name__
            return _connection_error(self.endpoint, f"{reason} while fetching {what}", self.root)
        return HubError(f"huggingface_hub could not fetch {what} from {repo_id}@{revision}: HTTP {status}")

    def repo_info(self, repo_id: str, revision: str) -> tuple[str, list[str] | None]:
        api = self._hf.HfApi(endpoint=self.endpoint)
        try:
            info = api.model_info(repo_id, revision=revision, token=self._token if self._token else False)
        except HubError:
            raise
        except Exception as err:  # huggingface_hub raises many types; translate them all
            raise self._translate(err, f"the model {repo_id}", repo_id, revision) from None
        commit = getattr(info, "sha", None)
        if not isinstance(commit, str):
            raise HubError(f"the hub at {_redact_url(self.endpoint)} gave no commit hash for {repo_id}@{revision}")
        siblings = getattr(info, "siblings", None)
        return commit, None if siblings is None else [s.rfilename for s in siblings]

    def fetch(self, repo: _RepoCache, commit: str, filename: str) -> Path:
        import inspect

        kwargs: dict[str, Any] = dict(
            repo_id=repo.repo_id,
            filename=filename,
            revision=commit,
            cache_dir=str(repo.root),
            endpoint=self.endpoint,
            token=self._token if self._token else False,
        )
        if not self._progress or _env_true("HF_HUB_DISABLE_PROGRESS_BARS"):
            params = inspect.signature(self._hf.hf_hub_download).parameters
            if "tqdm_class" in params:
                kwargs["tqdm_class"] = _silent_tqdm()
        try:
            path = Path(self._hf.hf_hub_download(**kwargs))
        except HubError:
            raise
        except Exception as err:
            raise self._translate(err, filename, repo.repo_id, commit) from None
        self._verify(path, repo, filename)
        return path

    def _verify(self, pointer: Path, repo: _RepoCache, filename: str) -> None:
        """Check a blob that huggingface_hub just wrote against its ETag name; delete if bad."""
        blob = Path(os.path.realpath(pointer))
        if blob.parent != Path(os.path.realpath(repo.folder / "blobs")):
            return  # no symlinks on this system: the snapshot holds a copy; size was checked
        etag = blob.name
        kind = "sha256" if _SHA256_RE.fullmatch(etag) else "git-sha1" if _COMMIT_RE.fullmatch(etag) else None
        if kind is None:
            return
        digest = _file_digest(blob, kind)
        if digest != etag:
            for path in (pointer, blob):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            label = "SHA-256" if kind == "sha256" else "git blob SHA-1"
            raise HubError(
                f"corrupt download of {filename} from {repo.repo_id}: its {label} is {digest}, the hub "
                f"says {etag}. The file was deleted; call again to retry"
            )


def _silent_tqdm() -> Callable[..., Any]:
    from tqdm.auto import tqdm

    base: Any = tqdm

    class _Silent(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return _Silent
