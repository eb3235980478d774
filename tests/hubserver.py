"""A small stand-in for the Hugging Face hub, served on 127.0.0.1 for the hub tests.

It answers what ``tokgeo.hub`` and ``huggingface_hub`` ask, with the headers the real hub
sends:

* ``GET /api/models/{repo}/revision/{rev}``: JSON with ``id``, ``sha`` and ``siblings``.
* ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``:

  - a git file (config, vocab, ...): 200, ``ETag: "<git blob sha1>"``, ``X-Repo-Commit``,
    ``Content-Length``;
  - an LFS file (``*.safetensors``, ``*.bin``): 302 to a second server (the "storage host",
    another port, so another origin) with ``X-Linked-Etag: "<sha256>"``,
    ``X-Linked-Size``, ``X-Repo-Commit`` on the redirect itself;
  - a former name (an alias): 307 with a relative ``Location`` to the new name;
  - errors as the hub sends them: 401 ``X-Error-Code: RepoNotFound`` for an unknown or private
    repository without a valid token, 403 ``GatedRepo``, 404 ``EntryNotFound`` /
    ``RevisionNotFound``.

* the storage host: ``GET /lfs/{sha256}?sig=...`` with ``Range: bytes=N-`` support.

Fault injection (``HubServer.add_fault``) per file or for the API: ``truncate`` (announce the
full length, send half, close), ``corrupt`` (same length, wrong bytes), ``status500``,
``slow`` (pause before every 64 KiB), ``stall`` (pause before the headers).  Every request is
recorded (method, path, headers, which server) for the tests to count.  Nothing listens
anywhere but 127.0.0.1, and handler sockets time out.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    commit: str
    private: bool = False
    gated: bool = False
    branches: dict[str, str] = field(default_factory=dict)

    def is_lfs(self, name: str) -> bool:
        return name.endswith((".safetensors", ".bin", ".h5"))


@dataclass
class Request:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict[str, str]  # names capitalised as in "Authorization", "Range"


@dataclass
class Fault:
    kind: str
    times: int | None  # None: every time
    delay: float = 0.0


class HubServer:
    """Start with ``with HubServer() as hub:``; ``hub.url`` is the endpoint."""

    def __init__(self, token: str | None = None, range_support: bool = True, list_files: bool = True) -> None:
        self.token = token
        self.range_support = range_support
        self.list_files = list_files  # False: the API answer has no "siblings" (some mirrors)
        # True: git files are answered with a relative 307 to /api/resolve-cache/... carrying
        # no metadata; the metadata comes with the final 200 (what the hub does since 2025)
        self.resolve_cache = False
        self.repos: dict[str, Repo] = {}
        self.aliases: dict[str, str] = {}
        self.faults: dict[str, Fault] = {}
        self.requests: list[Request] = []
        self.bytes_sent = 0
        self.lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.url = ""
        self.cdn_url = ""

    # -- set-up ----------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        commit: str | None = None,
        private: bool = False,
        gated: bool = False,
    ) -> Repo:
        if commit is None:
            h = hashlib.sha1(repo_id.encode())
            for name in sorted(files):
                h.update(name.encode() + b"\0" + files[name])
            commit = h.hexdigest()
        repo = Repo(repo_id, dict(files), commit, private=private, gated=gated)
        self.repos[repo_id] = repo
        return repo

    def add_fault(self, target: str, kind: str, times: int | None = 1, delay: float = 0.0) -> None:
        """``target``: a file name (its content GET), ``"head:<file>"`` or ``"api"``."""
        assert kind in ("truncate", "corrupt", "status500", "slow", "stall"), kind
        with self.lock:
            self.faults[target] = Fault(kind, times, delay)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def _take_fault(self, target: str) -> Fault | None:
        with self.lock:
            fault = self.faults.get(target)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self.faults[target]
            return fault

    def count(self, method: str | None = None, server: str | None = None, contains: str = "") -> int:
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method)
                and (server is None or r.server == server)
                and contains in r.path
            )

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> HubServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        for role in ("hub", "cdn"):
            handler = type(f"{role}Handler", (_Handler,), {"hub": self, "role": role})
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self.url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    role: str
    timeout = 20  # seconds a handler waits on a silent client
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing --------------------------------------------------------------------------

    def _record(self) -> None:
        with self.hub.lock:
            headers = {"-".join(p.capitalize() for p in k.split("-")): v for k, v in self.headers.items()}
            self.hub.requests.append(Request(self.role, self.command, self.path, headers))

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        headers.update(extra or {})
        self._send(status, headers, json.dumps({"error": message}).encode())

    def _authorized(self) -> bool:
        return self.hub.token is not None and self.headers.get("Authorization") == f"Bearer {self.hub.token}"

    def _find_repo(self, repo_id: str) -> tuple[Repo | None, str | None]:
        """(repo, None), or (None, canonical id) for an alias, or (None, None)."""
        if repo_id in self.hub.repos:
            return self.hub.repos[repo_id], None
        return None, self.hub.aliases.get(repo_id)

    def _access(self, repo: Repo | None) -> bool:
        """Answer the hub's access errors; True if the request may go on."""
        if repo is None or (repo.private and not self._authorized()):
            if self.headers.get("Authorization") and repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
            else:
                self._error(401, "RepoNotFound", "Repository not found")
            return False
        if repo.gated and not self._authorized():
            self._error(403, "GatedRepo", "Access to model is restricted and you are not in the authorized list")
            return False
        return True

    def _commit_for(self, repo: Repo, revision: str) -> str | None:
        if revision in ("main", repo.commit):
            return repo.commit
        return repo.branches.get(revision)

    # -- routes ----------------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self._record()
        path = urllib.parse.urlsplit(self.path).path
        try:
            if self.role == "cdn":
                if path.startswith("/lfs/"):
                    self._serve_lfs(path[len("/lfs/") :])
                else:
                    self._error(404, "NotFound", "no such object")
            elif path.startswith("/api/resolve-cache/models/"):
                self._serve_resolve_cache(path)
            elif path.startswith("/api/models/") and "/revision/" in path:
                self._serve_api(path)
            elif path.startswith("/api/models/") and "/tree/" in path:
                self._serve_tree(path)
            elif path.startswith("/api/models/") and path.count("/") in (3, 4):
                self._serve_api(path + "/revision/main")  # /api/models/{repo}: the main branch
            elif "/resolve/" in path:
                self._serve_resolve(path)
            else:
                self._error(404, "NotFound", f"no route for {path}")
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True

    def _serve_api(self, path: str) -> None:
        rest = path[len("/api/models/") :]
        repo_id, _, revision = rest.rpartition("/revision/")
        revision = urllib.parse.unquote(revision)
        fault = self.hub._take_fault("api")
        if fault is not None and fault.kind == "status500":
            self._error(500, "InternalError", "internal error")
            return
        if fault is not None and fault.kind == "stall":
            time.sleep(fault.delay)
        repo, canonical = self._find_repo(repo_id)
        if canonical is not None:
            quoted = urllib.parse.quote(revision, safe="")
            self._send(307, {"Location": f"/api/models/{canonical}/revision/{quoted}"})
            return
        if not self._access(repo):
            return
        assert repo is not None
        commit = self._commit_for(repo, revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        info = {
            "_id": "0" * 24,
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": commit,
            "private": repo.private,
            "gated": "auto" if repo.gated else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": ["safetensors", "gpt2"],
            "library_name": "transformers",
            "lastModified": "2024-02-19T10:57:45.000Z",
            "createdAt": "2022-03-02T23:29:04.000Z",
            "siblings": [{"rfilename": name} for name in sorted(repo.files)],
        }
        if not self.hub.list_files:
            del info["siblings"]
        body = json.dumps(info).encode()
        self._send(200, {"Content-Type": "application/json; charset=utf-8"}, body)

    def _serve_tree(self, path: str) -> None:
        """``/api/models/{repo}/tree/{rev}[/{folder}]``: the files, as transformers asks."""
        repo_id, _, rest = path[len("/api/models/") :].partition("/tree/")
        revision, _, folder = rest.partition("/")
        repo, canonical = self._find_repo(repo_id)
        if not self._access(repo):
            return
        assert repo is not None
        if self._commit_for(repo, urllib.parse.unquote(revision)) is None:
            self._error(404, "RevisionNotFound", "Invalid rev id")
            return
        prefix = urllib.parse.unquote(folder).strip("/")
        entries = []
        for name in sorted(repo.files):
            if prefix and not name.startswith(prefix + "/"):
                continue
            data = repo.files[name]
            entry: dict[str, Any] = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data)}
            if repo.is_lfs(name):
                entry["lfs"] = {"oid": sha256(data), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        if prefix and not entries:
            self._error(404, "EntryNotFound", f"{prefix} does not exist")
            return
        self._send(200, {"Content-Type": "application/json"}, json.dumps(entries).encode())

    def _serve_resolve_cache(self, path: str) -> None:
        rest = path[len("/api/resolve-cache/models/") :].split("/")
        repo_id, commit, filename = "/".join(rest[:-2]), rest[-2], urllib.parse.unquote(rest[-1])
        repo = self.hub.repos.get(repo_id)
        if not self._access(repo):
            return
        assert repo is not None
        if commit != repo.commit or filename not in repo.files:
            self._error(404, "EntryNotFound", "no such entry")
            return
        data = repo.files[filename]
        headers = {"ETag": f'"{git_blob_sha1(data)}"', "X-Repo-Commit": commit, "Content-Type": "text/plain"}
        if self.command == "HEAD":
            self._send(200, {**headers, "Content-Length": str(len(data))})
            return
        self._stream(data, headers, self.hub._take_fault(filename))

    def _serve_resolve(self, path: str) -> None:
        repo_id, _, rest = path.lstrip("/").partition("/resolve/")
        revision, _, filename = rest.partition("/")
        revision = urllib.parse.unquote(revision)
        filename = urllib.parse.unquote(filename)
        repo, canonical = self._find_repo(repo_id)
        if canonical is not None:  # a renamed repository: relative redirect, no metadata
            self._send(307, {"Location": f"/{canonical}/resolve/{urllib.parse.quote(revision, safe='')}/{urllib.parse.quote(filename)}"})
            return
        if not self._access(repo):
            return
        assert repo is not None
        commit = self._commit_for(repo, revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        if filename not in repo.files:
            self._error(404, "EntryNotFound", f"{filename} does not exist on \"{revision}\"", {"X-Repo-Commit": commit})
            return
        data = repo.files[filename]
        head_fault = self.hub._take_fault(f"head:{filename}") if self.command == "HEAD" else None
        if head_fault is not None and head_fault.kind == "status500":
            self._error(500, "InternalError", "internal error")
            return
        if head_fault is not None and head_fault.kind == "stall":
            time.sleep(head_fault.delay)
        if repo.is_lfs(filename):
            digest = sha256(data)
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{digest}\nsize {len(data)}\n".encode()
            self._send(
                302,
                {
                    "Location": f"{self.hub.cdn_url}/lfs/{digest}?sig=SECRETSIGNATURE&name={urllib.parse.quote(filename)}",
                    "X-Repo-Commit": commit,
                    "X-Linked-Etag": f'"{digest}"',
                    "X-Linked-Size": str(len(data)),
                    "ETag": f'"{git_blob_sha1(pointer)}"',
                    "Content-Type": "text/plain; charset=utf-8",
                },
            )
            return
        if self.hub.resolve_cache:
            etag = urllib.parse.quote(f'"{git_blob_sha1(data)}"')
            location = f"/api/resolve-cache/models/{repo.repo_id}/{commit}/{urllib.parse.quote(filename)}?etag={etag}"
            self._send(307, {"Location": location})
            return
        headers = {
            "ETag": f'"{git_blob_sha1(data)}"',
            "X-Repo-Commit": commit,
            "Content-Type": "text/plain; charset=utf-8",
            "Accept-Ranges": "bytes",
        }
        if self.command == "HEAD":
            self._send(200, {**headers, "Content-Length": str(len(data))})
            return
        self._stream(data, headers, self.hub._take_fault(filename))

    def _serve_lfs(self, digest: str) -> None:
        for repo in self.hub.repos.values():
            for name, data in repo.files.items():
                if repo.is_lfs(name) and sha256(data) == digest:
                    headers = {"Content-Type": "application/octet-stream", "ETag": f'"{digest}"'}
                    if self.command == "HEAD":
                        self._send(200, {**headers, "Content-Length": str(len(data))})
                        return
                    self._stream(data, headers, self.hub._take_fault(name))
                    return
        self._error(404, "NotFound", "no such object")

    def _stream(self, data: bytes, headers: dict[str, str], fault: Fault | None) -> None:
        if fault is not None and fault.kind == "status500":
            self._error(500, "InternalError", "internal error")
            return
        if fault is not None and fault.kind == "stall":
            time.sleep(fault.delay)
        start = 0
        status = 200
        rng = self.headers.get("Range")
        if rng and self.hub.range_support and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[len("bytes=") : -1])
            status = 206
            headers = {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        body = data[start:]
        if fault is not None and fault.kind == "corrupt":
            body = bytes(b ^ 0x5A for b in body)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if fault is not None and fault.kind == "truncate":
            self.send_header("Connection", "close")
        self.end_headers()
        if fault is not None and fault.kind == "truncate":
            half = body[: len(body) // 2]
            self.wfile.write(half)
            self.wfile.flush()
            with self.hub.lock:
                self.hub.bytes_sent += len(half)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        step = 64 * 1024
        for pos in range(0, len(body), step):
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            piece = body[pos : pos + step]
            self.wfile.write(piece)
            self.wfile.flush()
            with self.hub.lock:
                self.hub.bytes_sent += len(piece)


def resolve_in_child(
    endpoint: str, cache: str, name: str, backend: str, barrier: Any, result: Any
) -> None:  # pragma: no cover - runs in a child process
    """multiprocessing target: resolve ``name`` after all children reach ``barrier``."""
    import os

    os.environ["HF_ENDPOINT"] = endpoint
    os.environ["HF_HUB_CACHE"] = cache
    os.environ.pop("HF_HUB_OFFLINE", None)
    os.environ["TOKGEO_HUB_BACKEND"] = backend
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"  # huggingface_hub: no calls beyond the endpoint
    import tokgeo.hub

    if barrier is not None:
        barrier.wait(timeout=30)
    try:
        path = tokgeo.hub.resolve_model(name, token=False, progress=False)
        result.put(("ok", str(path)))
    except Exception as err:  # reported to the parent
        result.put(("error", f"{type(err).__name__}: {err}"))
