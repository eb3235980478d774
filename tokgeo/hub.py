"""Find a GPT-2 checkpoint: packaged with tokgeo, in a local folder, or on the Hugging Face hub.

``resolve_model(name)`` gives the local path; ``resolve(name)`` the same with its provenance
(:class:`Resolved`: source, repository, commit, ``digest()``)::

    info = tokgeo.hub.resolve("gpt2")      # downloads once into the HF cache, then works offline
    info.path, info.commit, info.digest()  # snapshot folder, commit, 'sha256:...'

Names, in this order: (1) an ``os.PathLike``, or a str written as a path (``/``, ``./``, ``../``,
``~`` first, two or more ``/``, a ``\\``, or a ``.safetensors``/``.json``/``.txt`` end), must exist;
(2) a packaged model, ``PACKAGED_MODELS_DIR/<name>`` with ``config.json`` and
``model.safetensors`` (``tokgeo-mini``); (3) a GPT-2 alias (``gpt2``, ``gpt2-medium``,
``gpt2-large``, ``gpt2-xl``, ``distilgpt2``, or its hub id ``openai-community/gpt2``...) is always
the hub model, even beside a same-named folder (a warning says so: write ``./gpt2``); (4) any
other existing path; (5) a hub name ``name`` or ``org/name``.

Hub files (``config.json``, ``vocab.json``, ``merges.txt``, ``model.safetensors`` or the index
and its shards) come through ``huggingface_hub.hf_hub_download``, one at a time at the one
commit ``revision`` points to, into the standard cache shared with ``transformers``.  A complete
snapshot is used with no network (``refresh=True`` asks again); ``HF_HUB_OFFLINE=1`` opens no
connection; ``refs/<revision>`` moves only once every file is in place.

Whatever a server sends.  huggingface_hub names files after the server's ETag and
X-Repo-Commit, follows redirects, reads bodies of any length and has no total deadline.  Via its
documented ``set_client_factory``, tokgeo wraps the factory in use and adds two httpx event
hooks, inert outside tokgeo's calls (a context variable marks them).  Inside them: an
ETag/X-Linked-Etag must be a 40/64-digit hex digest and an X-Repo-Commit a 40-digit commit
before huggingface_hub makes a path of it; every request and redirect hop goes by http(s) to the
endpoint's host, its subdomains (``hf.co``/``huggingface.co`` for the hub) or the hosts of
``$TOKGEO_HUB_STORAGE_HOSTS`` (``a.org,.b.org``), never https->http, the token to the endpoint
only; a body stops at its announced size (HEAD's X-Linked-Size/Content-Length; 16 MiB when none,
and for API replies); ``timeout`` s per metadata request and ``deadline`` s per file (all its
requests and retries): socket waits are cut to the time left and the clock is read after every
read; hf_xet (which bypasses the Python client) is off for these calls.  Afterwards the file
must link to ``blobs/<the ETag seen>`` of its repository and hash to it (SHA-256 for LFS, git
blob SHA-1 otherwise), which huggingface_hub does not check; a bad file is deleted.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import logging
import os
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FormatError, HubError, InvalidInputError, InvalidTypeError, OfflineError, TokgeoIOError

__all__ = [
    "resolve_model", "resolve", "Resolved", "checkpoint_digest", "cache_dir", "canonical_repo_id",
    "DEFAULT_ENDPOINT", "GPT2_ALIASES", "PACKAGED_MODELS_DIR", "DEFAULT_TIMEOUT", "DEFAULT_DEADLINE",
]

logger = logging.getLogger("tokgeo.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Models shipped inside the package, found by folder name before any hub lookup.
PACKAGED_MODELS_DIR = Path(__file__).resolve().parent / "data" / "models"
#: Former top-level names and the organisations they moved to (the hub redirects them).
GPT2_ALIASES: dict[str, str] = {
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "gpt2-xl": "openai-community/gpt2-xl",
    "distilgpt2": "distilbert/distilgpt2",
}
DEFAULT_TIMEOUT = 60.0  # seconds for one metadata request ($TOKGEO_HUB_TIMEOUT)
DEFAULT_DEADLINE = 3600.0  # seconds for one file, all requests included ($TOKGEO_HUB_DEADLINE)
CONFIG, WEIGHTS, INDEX = "config.json", "model.safetensors", "model.safetensors.index.json"
TOKENIZER_FILES = ("vocab.json", "merges.txt")
_SMALL_LIMIT = 16 << 20
_DIGEST = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


def cache_dir() -> Path:
    """The hub cache folder: ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub`` (may not exist)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.path.expandvars(os.environ[var])).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def canonical_repo_id(name: str) -> str:
    """The hub repository id for ``name``: ``"gpt2-xl"`` -> ``"openai-community/gpt2-xl"``;
    other names are returned unchanged once checked to be ``name`` or ``org/name``."""
    if not isinstance(name, str):
        raise InvalidTypeError(f"a repository id must be a str, not {type(name).__name__}")
    repo_id = GPT2_ALIASES.get(name, name)
    parts = repo_id.split("/")
    if len(parts) > 2 or not all(_NAME_PART.fullmatch(p) and "--" not in p and ".." not in p for p in parts):
        raise InvalidInputError(
            f"{name!r} is neither an existing local path nor a hub model name; a hub name is 'name' or "
            "'org/name' (letters, digits, '-', '_', '.'), e.g. 'gpt2' or 'openai-community/gpt2-xl'"
        )
    return repo_id


_default_cache_dir = cache_dir


@dataclass(frozen=True)
class Resolved:
    """Where a checkpoint came from, for provenance.  ``requested``: what was asked for;
    ``path``: the folder (or file) to read; ``source``: ``"hub"``, ``"packaged"`` or ``"local"``;
    ``repo_id`` and ``commit`` (40 hex digits): the hub snapshot, ``None`` otherwise."""

    requested: str
    path: Path
    source: str
    repo_id: str | None = None
    commit: str | None = None
    _digest: list[str] = field(default_factory=list, repr=False, compare=False)

    def digest(self) -> str:
        """:func:`checkpoint_digest` of :attr:`path` (computed once)."""
        if not self._digest:
            self._digest.append(checkpoint_digest(self.path))
        return self._digest[0]


def checkpoint_digest(path: str | os.PathLike[str], *, verify: bool = False) -> str:
    """``"sha256:<64 hex>"`` naming the weights at ``path`` (a ``.safetensors`` file or a folder).

    A single file gives the SHA-256 of its bytes (what ``sha256sum`` prints, and the hub's LFS
    ETag).  Shards give the SHA-256 of the ``"<sha256>  <name>\\n"`` lines of every shard in name
    order (``sha256sum`` output).  A file that links to ``blobs/<sha256>`` in a hub cache is
    named by its link, which tokgeo checked when it downloaded it; ``verify=True`` rehashes.
    """
    p = Path(path)
    if p.is_dir():
        if (p / WEIGHTS).is_file():
            p = p / WEIGHTS
        elif (p / INDEX).is_file():
            lines = "".join(f"{checkpoint_digest(p / s, verify=verify)[7:]}  {s}\n" for s in _read_index(p / INDEX))
            return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
        else:
            raise TokgeoIOError(f"no {WEIGHTS} or {INDEX} in {p}")
    real = Path(os.path.realpath(p))
    if not verify and p.is_symlink() and real.parent.name == "blobs" and len(real.name) == 64 and _DIGEST.fullmatch(real.name):
        return "sha256:" + real.name
    return "sha256:" + _hash(real, "sha256")


def resolve_model(name_or_path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """``resolve(name_or_path, **kwargs).path``: the local folder (or file) to read."""
    return resolve(name_or_path, **kwargs).path


def resolve(
    name_or_path: str | os.PathLike[str],
    *,
    revision: str = "main",
    filenames: Sequence[str] | None = None,
    token: str | bool | None = None,
    progress: bool = True,
    refresh: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    deadline: float | None = None,
) -> Resolved:
    """Find (downloading if needed) a checkpoint by the naming rule of the module docstring.

    ``revision``: hub branch, tag or commit; ``filenames``: hub files instead of the default set;
    ``token``: ``None`` (huggingface_hub's own), ``False`` (none) or the token; ``progress``:
    huggingface_hub's bars; ``refresh``: ask the hub even with a complete snapshot cached;
    ``cache_dir``: default :func:`cache_dir`; ``timeout``: seconds per metadata request
    (``$TOKGEO_HUB_TIMEOUT`` or 60); ``deadline``: seconds per file (``$TOKGEO_HUB_DEADLINE`` or 3600).

    Raises OfflineError (offline, not cached), HubError (refused, missing, unreachable in time,
    hostile; nothing kept), TokgeoIOError (no such local path), InvalidInputError/InvalidTypeError.
    """
    wanted = _check_filenames(filenames)
    if not isinstance(revision, str):
        raise InvalidTypeError(f"revision must be a str, not {type(revision).__name__}")
    kind, where = _classify(name_or_path)
    requested = os.fspath(name_or_path)
    if kind != "hub":  # the loaders check what a local folder holds
        return Resolved(requested, Path(where), kind)
    _check_relative("revision", revision)
    root = Path(os.fspath(cache_dir)).expanduser() if cache_dir is not None else _default_cache_dir()
    repo_id = _repo_id_for_cache(str(where), root)
    offline = any(os.environ.get(v, "").strip().upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    snapshot = _cached(root, repo_id, revision, wanted) if offline or not refresh else None
    if snapshot is None:
        try:
            if offline:
                raise OfflineError(f"HF_HUB_OFFLINE is set and {repo_id}@{revision} is not complete in the cache {root}. "
                                   + _hint(repo_id, revision, wanted))
            limits = (_seconds(timeout, "TOKGEO_HUB_TIMEOUT", DEFAULT_TIMEOUT), _seconds(deadline, "TOKGEO_HUB_DEADLINE", DEFAULT_DEADLINE))
            snapshot = _download(root, repo_id, revision, wanted, token, progress, *limits)
        except HubError as err:
            snapshot = _cached(root, repo_id, revision, wanted) if refresh and not offline else None
            if snapshot is None:
                note = (f" (a local {requested!r} exists: tokgeo reads {requested!r} as the hub model; write "
                        f"'./{requested}' to use the local one)") if Path(requested).exists() else ""
                raise type(err)(f"{err}{note}") from None
            logger.warning("could not refresh %s (%s); using the cached snapshot %s", repo_id, err, snapshot)
    return Resolved(requested, snapshot, "hub", repo_id, snapshot.name)


def _classify(name: str | os.PathLike[str]) -> tuple[str, Path | str]:
    """("local" | "packaged", Path) or ("hub", name) by the rule of the module docstring."""
    if isinstance(name, os.PathLike):
        raw = os.fspath(name)
        if not isinstance(raw, str):
            raise InvalidTypeError("a bytes path is not supported; pass a str or pathlib.Path")
        return "local", _existing(Path(raw).expanduser())
    if not isinstance(name, str):
        raise InvalidTypeError(f"expected a model name or a path (str or os.PathLike), not {type(name).__name__}")
    if not name:
        raise InvalidInputError("empty model name; use e.g. 'gpt2' or a folder path")
    if (name.startswith(("/", "./", "../", "~", ".")) or "\\" in name or name.count("/") > 1
            or name.endswith((".safetensors", ".json", ".txt")) or name[1:2] == ":"):
        return "local", _existing(Path(name).expanduser())
    packaged = PACKAGED_MODELS_DIR / name
    if _NAME_PART.fullmatch(name) and (packaged / CONFIG).is_file() and (packaged / WEIGHTS).is_file():
        return "packaged", packaged
    if name in GPT2_ALIASES or name in GPT2_ALIASES.values():
        if Path(name).exists():
            logger.warning("%r means the hub model %s; the local %r is not used (write './%s' for it)", name, canonical_repo_id(name), name, name)
        return "hub", name
    if Path(name).exists():
        return "local", Path(name)
    canonical_repo_id(name)
    return "hub", name


def _existing(path: Path) -> Path:
    if not path.exists():
        raise TokgeoIOError(f"no such file or folder: {path}. Pass an existing folder holding a GPT-2 checkpoint, or a hub name such as 'gpt2'")
    return path


def _check_relative(kind: str, value: str) -> None:
    if not value or "\\" in value or "\0" in value or value.startswith("/") or any(p in ("", ".", "..") for p in value.split("/")):
        raise InvalidInputError(f"bad {kind} {value!r}: use a relative name with '/' separators and no '.' or '..' parts")


def _check_filenames(filenames: Sequence[str] | None) -> tuple[str, ...] | None:
    if filenames is None:
        return None
    if isinstance(filenames, (str, bytes)) or not isinstance(filenames, Sequence):
        raise InvalidTypeError(f"filenames must be a list of file names, not {type(filenames).__name__}; write filenames=['config.json']")
    for name in filenames:
        if not isinstance(name, str):
            raise InvalidTypeError(f"file names must be str, not {type(name).__name__}")
        _check_relative("file name", name)
    if not filenames:
        raise InvalidInputError("filenames is empty; pass None for the default GPT-2 files")
    return tuple(dict.fromkeys(filenames))


def _seconds(value: float | None, var: str, default: float) -> float:
    raw: Any = value if value is not None else os.environ.get(var) or default
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{var.split('_')[-1].lower()}={raw!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise InvalidInputError(f"{var.split('_')[-1].lower()}={raw!r} must be a positive number of seconds (set with {var})")
    return seconds


def _folder(repo_id: str) -> str:
    return "--".join(["models", *repo_id.split("/")])


def _repo_id_for_cache(name: str, root: Path) -> str:
    """The repository id; a former top-level name keeps the old cache folder (``models--gpt2``,
    written by older ``transformers``) if only that one exists, so nothing is fetched twice."""
    repo_id = canonical_repo_id(name)
    if repo_id != name and not (root / _folder(repo_id)).exists() and (root / _folder(name)).is_dir():
        return name
    return repo_id


def _hint(repo_id: str, revision: str, wanted: tuple[str, ...] | None) -> str:
    leaf = repo_id.split("/")[-1]
    files = " ".join(wanted or (CONFIG, *TOKENIZER_FILES, WEIGHTS))
    return (f"On a machine with network run `hf download {repo_id} {files} --revision {revision} --local-dir {leaf}`, "
            f"copy that folder here (`scp -r THAT_MACHINE:{leaf} .`, or `cp -r /media/usb/{leaf} .` from a disk) and "
            f"pass './{leaf}' (--model ./{leaf}); or unset HF_HUB_OFFLINE once so that tokgeo downloads it.")


def _read_index(path: Path) -> list[str]:
    """The shard names a ``model.safetensors.index.json`` lists, sorted and checked relative."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(_SMALL_LIMIT))
        shards = sorted(set(data["weight_map"].values()))
        for shard in shards:
            _check_relative("shard name", shard)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        raise FormatError(f"{path}: not a shard index with a 'weight_map' of relative file names ({err})") from None
    if not shards:
        raise FormatError(f"{path}: the 'weight_map' is empty")
    return shards


def _cached(root: Path, repo_id: str, revision: str, wanted: tuple[str, ...] | None) -> Path | None:
    """The snapshot folder if the cache holds every needed file, else None (no network)."""
    from huggingface_hub import try_to_load_from_cache

    def find(name: str) -> Path | None:
        got = try_to_load_from_cache(repo_id, name, cache_dir=root, revision=revision)
        return Path(got).parents[name.count("/")] if isinstance(got, str) else None

    names = list(wanted or (CONFIG, *TOKENIZER_FILES))
    if wanted is None:
        index = None if find(WEIGHTS) is not None else find(INDEX)
        try:
            names += [INDEX, *_read_index(index / INDEX)] if index is not None else [WEIGHTS]
        except FormatError:
            return None
    found = {find(name) for name in names}
    return found.pop() if len(found) == 1 and None not in found else None


def _plan(repo_id: str, revision: str, siblings: list[str] | None, wanted: tuple[str, ...] | None) -> list[str]:
    have = set(siblings) if siblings is not None else None
    if wanted is not None or have is None:
        files = list(wanted or (CONFIG, *TOKENIZER_FILES, WEIGHTS))
    elif WEIGHTS in have or INDEX in have:
        files = [CONFIG, *TOKENIZER_FILES, WEIGHTS if WEIGHTS in have else INDEX]
    else:
        other = sorted(f for f in have if f.endswith((".bin", ".h5", ".msgpack", ".pt", ".pth", ".ckpt")))
        raise HubError(f"{repo_id}@{revision} has no safetensors weights ({', '.join(other) or 'no weights'}). tokgeo reads "
                       f"{WEIGHTS} or its shards; convert with transformers (model.save_pretrained(folder, "
                       "safe_serialization=True)) and pass the folder, or pick a revision that has them")
    missing = [f for f in files if have is not None and f not in have]
    if missing:
        raise HubError(f"no {', '.join(missing)} in {repo_id}@{revision}; pass filenames=[...] to fetch other files")
    return files


def _download(root: Path, repo_id: str, revision: str, wanted: tuple[str, ...] | None,
              token: str | bool | None, progress: bool, timeout: float, deadline: float) -> Path:
    hf = _huggingface_hub()
    endpoint = (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).strip().rstrip("/")
    if urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
        raise InvalidInputError(f"HF_ENDPOINT={_redact(endpoint)!r} is not an http(s) URL such as {DEFAULT_ENDPOINT}")
    with _guard(endpoint, timeout, timeout, f"the model {repo_id}"):
        info = _call(lambda: hf.HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, token=token), endpoint, f"{repo_id}@{revision}")
    commit = getattr(info, "sha", None)
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise HubError(f"{_redact(endpoint)} gave no 40-digit commit for {repo_id}@{revision}; is HF_ENDPOINT a Hugging Face hub?")
    siblings = None if info.siblings is None else [str(s.rfilename) for s in info.siblings]
    folder = root / _folder(repo_id)
    snapshot = folder / "snapshots" / commit

    def fetch(name: str) -> None:
        if (snapshot / name).is_file():
            return
        quiet = None if progress else _quiet_tqdm()
        with _guard(endpoint, timeout, deadline, name) as g:
            got = _call(lambda: hf.hf_hub_download(repo_id, name, revision=commit, cache_dir=root, endpoint=endpoint,
                                                   token=token, tqdm_class=quiet), endpoint, f"{name} of {repo_id}")
        _verify(Path(got), folder, snapshot / name, g.etag, g.commit or commit, commit)

    files = _plan(repo_id, revision, siblings, wanted)
    for name in files:
        fetch(name)
    for shard in _read_index(snapshot / INDEX) if files[-1] == INDEX and wanted is None else []:
        if siblings is not None and shard not in siblings:
            raise HubError(f"{repo_id}@{revision}: {INDEX} names the shard {shard!r}, which the repository lacks")
        fetch(shard)
    if revision != commit:  # only now: a failed refresh leaves the old, complete snapshot in use
        ref = folder / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        tmp = ref.with_name(f"{ref.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(commit)
        os.replace(tmp, ref)
    return snapshot


def _verify(got: Path, folder: Path, pointer: Path, etag: str | None, seen_commit: str, commit: str) -> None:
    """Check what hf_hub_download wrote: the pointer we expect, linked to blobs/<etag>, whose
    bytes hash to the etag.  A bad file is deleted."""
    real = Path(os.path.realpath(got))
    blob = Path(os.path.realpath(folder / "blobs")) / (etag or "?")
    where_ok = (seen_commit == commit and Path(os.path.realpath(got.parent)) == Path(os.path.realpath(pointer.parent))
                and got.name == pointer.name and (real == blob or (not got.is_symlink() and got.is_file())))
    if etag is None or not where_ok:
        raise HubError(f"huggingface_hub left {pointer.name} at {real} (commit {seen_commit}), not as a link to {blob} "
                       f"(commit {commit}); nothing of it is used")
    digest = _hash(real, "sha256" if len(etag) == 64 else "git")
    if digest != etag:
        for p in (pointer, real):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
        raise HubError(f"corrupt download of {pointer.name}: its {'SHA-256' if len(etag) == 64 else 'git blob SHA-1'} is "
                       f"{digest}, the hub says {etag}. It was deleted; call again (if it persists, the network or mirror alters data)")


def _hash(path: Path, kind: str) -> str:
    h = hashlib.sha256() if kind == "sha256" else hashlib.sha1(b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _redact(text: str) -> str:
    """``text`` without URL query strings (signed storage URLs) or ``user:password@``."""
    return re.sub(r"(https?://)[^/@\s]*@", r"\1", re.sub(r"\?[^\s'\"]*", "", text))


def _call(fn: Callable[[], Any], endpoint: str, what: str) -> Any:
    """Run a huggingface_hub call and turn its errors into HubError with a way out."""
    from huggingface_hub import errors as e

    try:
        return fn()
    except HubError:
        raise
    except RecursionError:
        raise HubError(f"{_redact(endpoint)} answered {what} with JSON nested too deeply to read; is HF_ENDPOINT a Hugging Face hub?") from None
    except e.GatedRepoError:
        raise HubError(f"{what} is gated: accept its conditions on the hub while logged in, then `hf auth login`, set HF_TOKEN or pass token='hf_...'") from None
    except e.RevisionNotFoundError:
        raise HubError(f"no such revision: {what}") from None
    except e.RepositoryNotFoundError:
        raise HubError(f"the hub refused {what}: it does not exist, or it is private or gated. Check the spelling; for "
                       "a private model log in with `hf auth login`, set HF_TOKEN or pass token='hf_...'") from None
    except e.OfflineModeIsEnabled:
        raise HubError("huggingface_hub was imported with HF_HUB_OFFLINE set; restart Python without it to download") from None
    except e.RemoteEntryNotFoundError:
        raise HubError(f"no such file on the hub: {what}") from None
    except Exception as err:  # network errors, timeouts, HTTP errors: one message
        detail = _redact(f"{type(err).__name__}: {err}".splitlines()[0])[:300]
        raise HubError(f"could not fetch {what} from {_redact(endpoint)} ({detail}). Check the network, a proxy "
                       "(HTTPS_PROXY) or HF_ENDPOINT; set HF_HUB_OFFLINE=1 to use only the cache; or pass a local folder") from None


def _quiet_tqdm() -> Any:
    from tqdm.auto import tqdm

    return functools.partial(tqdm, disable=True)


# -- the guard: hooks on huggingface_hub's httpx client, active only inside _guard() ------------


@dataclass
class _Guard:
    host: str  # the endpoint's host name
    origin: tuple[str, str]  # (scheme, netloc) of the endpoint: where the token may go
    timeout: float  # seconds for one metadata request
    deadline: float  # time.monotonic() by which all of this must be done
    what: str
    label: str  # "timeout=60 s" or "deadline=3600 s", for messages
    etag: str | None = None
    size: int | None = None
    commit: str | None = None


_ACTIVE: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar("tokgeo_hub_guard", default=None)


@contextlib.contextmanager
def _guard(endpoint: str, timeout: float, seconds: float, what: str) -> Iterator[_Guard]:
    import huggingface_hub.constants as hf_constants

    parts = urllib.parse.urlsplit(endpoint)
    label = f"timeout={timeout:g} s" if seconds == timeout else f"deadline={seconds:g} s"
    g = _Guard((parts.hostname or "").lower(), (parts.scheme, parts.netloc), timeout, time.monotonic() + seconds, what, label)
    token = _ACTIVE.set(g)
    xet, hf_constants.HF_HUB_DISABLE_XET = hf_constants.HF_HUB_DISABLE_XET, True
    try:
        yield g
    finally:
        hf_constants.HF_HUB_DISABLE_XET = xet
        _ACTIVE.reset(token)


def _refuse(g: _Guard, why: str) -> HubError:
    return HubError(f"refused while fetching {g.what}: {why}; nothing was kept")


def _check_url(g: _Guard, url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    extra = [h.strip().lower() for h in os.environ.get("TOKGEO_HUB_STORAGE_HOSTS", "").split(",") if h.strip()]
    hub = g.host in ("huggingface.co", "hf.co") and (host in ("hf.co", "huggingface.co") or host.endswith((".hf.co", ".huggingface.co")))
    ok_host = host == g.host or host.endswith("." + g.host) or hub or any(host == h or (h.startswith(".") and host.endswith(h)) for h in extra)
    if parts.scheme not in ("http", "https") or (g.origin[0] == "https" and parts.scheme != "https") or not ok_host:
        raise _refuse(g, f"{_redact(url)} is not http(s) on {g.host} or its storage (add hosts to TOKGEO_HUB_STORAGE_HOSTS)")


def _on_request(request: Any) -> None:
    g = _ACTIVE.get()
    if g is None:
        return
    url = str(request.url)
    _check_url(g, url)
    now = time.monotonic()
    metadata = request.method == "HEAD" or "/api/" in request.url.path
    end = min(g.deadline, now + g.timeout) if metadata else g.deadline
    if end <= now:
        raise _refuse(g, f"its time ({g.label}, timeout={g.timeout:g} s per metadata request) ran out before {request.method} "
                         f"{_redact(url)}; raise deadline=/timeout= or TOKGEO_HUB_DEADLINE/TOKGEO_HUB_TIMEOUT")
    request.extensions["tokgeo_end"] = end
    old = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {k: min(old.get(k) or end - now, end - now) for k in ("connect", "read", "write", "pool")}
    if (urllib.parse.urlsplit(url).scheme, urllib.parse.urlsplit(url).netloc) != g.origin:
        request.headers.pop("authorization", None)


def _on_response(response: Any) -> None:
    g = _ACTIVE.get()
    if g is None:
        return
    request, headers = response.request, response.headers
    if response.has_redirect_location:
        _check_url(g, urllib.parse.urljoin(str(request.url), headers["location"]))
    commit = headers.get("x-repo-commit")
    if commit is not None and not _COMMIT.fullmatch(commit):
        raise _refuse(g, f"X-Repo-Commit {commit[:80]!r} is not a 40-digit commit")
    g.commit = commit or g.commit
    if request.method == "HEAD":
        for key in ("x-linked-etag", "etag"):
            value = headers.get(key)
            if value is not None and not _DIGEST.fullmatch(value.strip().removeprefix("W/").strip('"')):
                raise _refuse(g, f"the {key} {value[:80]!r} is not a hex digest")
        etag = headers.get("x-linked-etag") or headers.get("etag")
        size = headers.get("x-linked-size") or (None if response.is_redirect else headers.get("content-length"))
        if size is not None and not size.strip().isdigit():
            raise _refuse(g, f"the announced size {size[:40]!r} is not a number")
        g.etag = etag.strip().removeprefix("W/").strip('"') if etag else g.etag
        g.size = int(size) if size is not None else g.size
        if "x-xet-hash" in headers:
            del headers["x-xet-hash"]  # plain HTTP download, through these hooks
        return
    limit = g.size if g.size is not None and "/api/" not in request.url.path and response.status_code < 300 else _SMALL_LIMIT
    length = headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise _refuse(g, f"{_redact(str(request.url))} sends {int(length)} bytes where {limit} were announced")
    response.stream = _bounded_stream()(response.stream, limit, request.extensions.get("tokgeo_end", g.deadline), g, str(request.url))


@functools.cache
def _bounded_stream() -> Any:
    import httpx2

    class Bounded(httpx2.SyncByteStream):
        """The body, stopped at ``limit`` bytes and at the deadline ``end``."""

        def __init__(self, inner: Any, limit: int, end: float, g: _Guard, url: str) -> None:
            self.inner, self.limit, self.end, self.g, self.url = inner, limit, end, g, url

        def __iter__(self) -> Iterator[bytes]:
            n = 0
            for chunk in self.inner:
                n += len(chunk)
                if n > self.limit:
                    raise _refuse(self.g, f"{_redact(self.url)} sent more than the {self.limit} bytes announced")
                if time.monotonic() > self.end:
                    raise _refuse(self.g, f"{_redact(self.url)} was still sending when its time ran out ({self.g.label}; "
                                  f"{n} bytes in); raise deadline= (per file) or timeout= (per metadata request), or set "
                                  "TOKGEO_HUB_DEADLINE / TOKGEO_HUB_TIMEOUT")
                yield chunk

        def close(self) -> None:
            self.inner.close()

    return Bounded


def _huggingface_hub() -> Any:
    """huggingface_hub, its client factory wrapped once so that every client has our hooks."""
    import huggingface_hub as hf

    if _on_request not in hf.get_session().event_hooks["request"]:
        from huggingface_hub.utils import _http  # the factory in use (a user's own is kept)

        base = getattr(_http, "_GLOBAL_CLIENT_FACTORY", None) or _http.default_client_factory

        def factory() -> Any:
            client = base()
            hooks = client.event_hooks
            client.event_hooks = {"request": [*hooks["request"], _on_request], "response": [*hooks["response"], _on_response]}
            return client

        hf.set_client_factory(factory)
    return hf

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
