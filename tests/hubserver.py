"""A hub-shaped HTTP server on 127.0.0.1 for the hub tests (a real server, no mocks).

It answers what ``huggingface_hub`` asks, with the headers the real hub sends:

* ``GET /api/models/{repo}/revision/{rev}``: JSON with ``id``, ``sha`` and ``siblings``;
* ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: a git file answers 200 with
  ``ETag: "<git blob sha1>"``, ``X-Repo-Commit`` and ``Content-Length``; an LFS file
  (``*.safetensors``) answers 302 to a second server (the storage host, another port) with
  ``X-Linked-Etag: "<sha256>"``, ``X-Linked-Size`` and ``X-Repo-Commit``; a former name (see
  ``aliases``) answers 307 to the new one; unknown or private repositories 401
  ``RepoNotFound``, missing files 404 ``EntryNotFound``;
* the storage host: ``GET /lfs/{sha256}``.

Hostile behaviour, per file (``HubServer.evil[file]``, a dict): ``"head"``: headers that
replace the HEAD answer's (``{"ETag": '"../x"'}``, ``{"Location": "file:///etc/passwd"}``,
``{"Content-Length": None}`` to drop one); ``"body"``: ``"drip"`` (one byte every
``delay`` s), ``"flood"`` (no length, bytes until the client hangs up), ``"half"`` (half the
bytes, then silence for ``delay`` s), ``"corrupt"``.  ``HubServer.api_body`` replaces the API
reply.  Every request is recorded (``requests``), every TCP connection counted
(``connections``), every body byte counted (``bytes_sent``).
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
    branches: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: HubServer, handler: type) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.hub = hub

    def get_request(self) -> tuple[socket.socket, Any]:
        conn = super().get_request()
        with self.hub.lock:
            self.hub.connections += 1
        return conn


class HubServer:
    """``with HubServer() as hub:``; ``hub.url`` is the endpoint, ``hub.cdn_url`` the storage."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.aliases: dict[str, str] = {}
        self.evil: dict[str, dict[str, Any]] = {}
        self.api_body: bytes | None = None
        self.requests: list[tuple[str, str, str, dict[str, str]]] = []  # (server, method, path, headers)
        self.connections = 0
        self.bytes_sent = 0
        self.lock = threading.Lock()
        self._servers: list[_Server] = []

    def add_repo(self, repo_id: str, files: dict[str, bytes], *, private: bool = False) -> Repo:
        h = hashlib.sha1(repo_id.encode())
        for name in sorted(files):
            h.update(name.encode() + b"\0" + files[name])
        self.repos[repo_id] = Repo(repo_id, dict(files), h.hexdigest(), private=private)
        return self.repos[repo_id]

    def count(self, method: str | None = None, server: str | None = None) -> int:
        with self.lock:
            return sum(1 for s, m, _, _ in self.requests if method in (None, m) and server in (None, s))

    def __enter__(self) -> HubServer:
        for role in ("hub", "cdn"):
            server = _Server(self, type(f"{role}Handler", (_Handler,), {"role": role}))
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self._servers.append(server)
        self.url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        return self

    def __exit__(self, *exc: Any) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


class _Handler(BaseHTTPRequestHandler):
    role: str
    server: _Server
    timeout = 20
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def hub(self) -> HubServer:
        return self.server.hub

    def _send(self, status: int, headers: dict[str, Any], body: bytes = b"") -> None:
        self.send_response(status)
        headers = {"Content-Length": str(len(body)), **headers}
        for key, value in headers.items():
            if value is not None:
                self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, extra: dict[str, str] | None = None) -> None:
        self._send(status, {"X-Error-Code": code, "Content-Type": "application/json", **(extra or {})}, json.dumps({"error": code}).encode())

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        with self.hub.lock:
            self.hub.requests.append((self.role, self.command, self.path, dict(self.headers.items())))
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        try:
            if self.role == "cdn":
                self._serve_lfs(path.removeprefix("/lfs/"))
            elif path.startswith("/api/models/") and "/revision/" in path:
                self._serve_api(*path.removeprefix("/api/models/").rsplit("/revision/", 1))
            elif "/resolve/" in path:
                repo_id, _, rest = path.lstrip("/").partition("/resolve/")
                self._serve_resolve(repo_id, *rest.split("/", 1))
            else:
                self._error(404, "NotFound")
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True

    def _repo(self, repo_id: str, revision: str) -> tuple[Repo, str] | None:
        repo = self.hub.repos.get(repo_id)
        authorized = self.hub.token is not None and self.headers.get("Authorization") == f"Bearer {self.hub.token}"
        if repo is None or (repo.private and not authorized):
            self._error(401, "RepoNotFound")
            return None
        commit = repo.commit if revision in ("main", repo.commit) else repo.branches.get(revision)
        if commit is None:
            self._error(404, "RevisionNotFound")
            return None
        return repo, commit

    def _serve_api(self, repo_id: str, revision: str) -> None:
        if self.hub.api_body is not None:
            self._send(200, {"Content-Type": "application/json"}, self.hub.api_body)
            return
        if repo_id in self.hub.aliases:
            self._send(307, {"Location": f"/api/models/{self.hub.aliases[repo_id]}/revision/{revision}"})
            return
        found = self._repo(repo_id, revision)
        if found is not None:
            repo, commit = found
            info = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": repo.private,
                    "siblings": [{"rfilename": name} for name in sorted(repo.files)]}
            self._send(200, {"Content-Type": "application/json"}, json.dumps(info).encode())

    def _serve_resolve(self, repo_id: str, revision: str, filename: str) -> None:
        if repo_id in self.hub.aliases:
            self._send(307, {"Location": f"/{self.hub.aliases[repo_id]}/resolve/{revision}/{filename}"})
            return
        found = self._repo(repo_id, revision)
        if found is None:
            return
        repo, commit = found
        if filename not in repo.files:
            self._error(404, "EntryNotFound", {"X-Repo-Commit": commit})
            return
        data = repo.files[filename]
        evil = self.hub.evil.get(filename, {})
        if filename.endswith(".safetensors"):
            headers: dict[str, Any] = {"Location": f"{self.hub.cdn_url}/lfs/{sha256(data)}?sig=SECRET", "X-Repo-Commit": commit,
                                       "X-Linked-Etag": f'"{sha256(data)}"', "X-Linked-Size": str(len(data)), "ETag": '"' + "e" * 40 + '"'}
            status = 302
        else:
            headers = {"ETag": f'"{git_blob_sha1(data)}"', "X-Repo-Commit": commit, "Content-Length": str(len(data))}
            status = 200
        if self.command == "HEAD":
            headers.update(evil.get("head", {}))
            self._send(status, headers)
        elif status == 302:
            self._send(status, headers)
        else:
            self._stream(data, evil)

    def _serve_lfs(self, digest: str) -> None:
        for repo in self.hub.repos.values():
            for name, data in repo.files.items():
                if sha256(data) == digest:
                    self._stream(data, self.hub.evil.get(name, {}))
                    return
        self._error(404, "NotFound")

    def _write(self, piece: bytes) -> None:
        self.wfile.write(piece)
        self.wfile.flush()
        with self.hub.lock:
            self.hub.bytes_sent += len(piece)

    def _stream(self, data: bytes, evil: dict[str, Any]) -> None:
        body, mode, delay = data, evil.get("body"), float(evil.get("delay", 0.5))
        if mode == "corrupt":
            body = bytes(b ^ 0x5A for b in data)
        self.send_response(200)
        if mode == "flood":
            self.send_header("Connection", "close")  # body ends when the connection does
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drip":
            for i in range(len(body)):
                self._write(body[i : i + 1])
                time.sleep(delay)
        elif mode == "flood":
            self.close_connection = True
            while True:
                self._write(b"x" * 65536)
        elif mode == "half":
            self._write(body[: len(body) // 2])
            time.sleep(delay)
            self.close_connection = True
        else:
            for pos in range(0, len(body), 65536):
                self._write(body[pos : pos + 65536])
