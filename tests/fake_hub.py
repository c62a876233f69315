"""A Hugging Face Hub of the tests' own: repositories served from local folders over HTTP.

It answers the few routes huggingface_hub, transformers and datasets use to download (a revision's
commit and files, a folder's listing, each file's metadata and bytes), so a Hub id's real download path
runs where no network is; and the three a push takes (create a repository, pre-upload, commit), keeping
what was sent. A dataset repository's key starts with ``datasets/``. A file can be held back until the
test releases it, to see what waits for a download.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """``repos`` maps a repo id (``datasets/<id>`` for a dataset) to the folder it serves, at one commit."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {repo_id: Path(folder) for repo_id, folder in repos.items()}
        self.requests: list[str] = []
        self.created: dict[str, dict] = {}
        """Repositories created through the API, with what the request asked (``private``...)."""
        self.uploads: dict[str, dict[str, bytes]] = {}
        """The files committed to each repository created through the API."""
        self.authorizations: list[str] = []
        """The Authorization header of every request that sent one."""
        self.held: dict[str, threading.Event] = {}
        """File names whose bytes wait until their event is set (a slow download)."""
        self.serving = threading.Event()
        """Set once a held file's bytes were asked for."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def hold(self, filename: str) -> threading.Event:
        """Hold ``filename``'s bytes back until the returned event is set."""
        self.held[filename] = threading.Event()
        return self.held[filename]

    def close(self) -> None:
        for event in self.held.values():
            event.set()
        self._server.shutdown()
        self._server.server_close()

    def _file(self, repo_id: str, filename: str) -> Path | None:
        folder = self.repos.get(repo_id)
        path = folder / filename if folder else None
        return path if path and path.is_file() and folder in path.resolve().parents else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet: the tests read hub.requests
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

            def do_POST(self) -> None:  # noqa: N802
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(f"POST {path}")
                if self.headers.get("Authorization"):
                    hub.authorizations.append(self.headers["Authorization"])
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if path == "/api/repos/create":
                    asked = json.loads(data)
                    repo_id = f"{asked['organization']}/{asked['name']}" if asked.get("organization") else asked["name"]
                    hub.created[repo_id] = asked
                    hub.uploads.setdefault(repo_id, {})
                    return self._json({"url": f"{hub.url}/{repo_id}", "name": repo_id, "id": repo_id})
                if path == "/api/validate-yaml":  # a README's metadata, checked before a commit
                    return self._json({})
                repo_id, _, action = path[len("/api/models/"):].rpartition("/")[0].rpartition("/")
                if action == "preupload":
                    files = json.loads(data)["files"]
                    return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                 for f in files], "commitOid": COMMIT})
                if action == "commit" and repo_id in hub.uploads:
                    for line in data.decode().splitlines():
                        entry = json.loads(line)
                        if entry["key"] == "file":
                            value = entry["value"]
                            hub.uploads[repo_id][value["path"]] = base64.b64decode(value["content"])
                    return self._json({"commitUrl": f"{hub.url}/{repo_id}/commit/{COMMIT}", "commitOid": COMMIT,
                                       "pullRequestUrl": None})
                self._send(404, b"{}", {"X-Error-Code": "RepoNotFound"})

            def _json(self, answer: dict) -> None:
                self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

            def _answer(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                if path.startswith(("/api/models/", "/api/datasets/")):
                    kind, _, rest = path[len("/api/"):].partition("/")
                    parts = rest.split("/")
                    repo_id, tail = "/".join(parts[:2]), "/".join(parts[2:])
                    key = repo_id if kind == "models" else f"datasets/{repo_id}"
                    if tail.startswith("tree/"):
                        return self._tree(key, tail[len("tree/"):].partition("/")[2])
                    if not tail or tail.startswith("revision/"):
                        return self._info(key, repo_id)
                    return self._send(404, b"{}", {"X-Error-Code": "EntryNotFound"})
                if "/resolve/" in path:
                    repo_id, _, rest = path.lstrip("/").partition("/resolve/")
                    return self._resolve(repo_id, rest.partition("/")[2], body)
                self._send(404, b"{}", {"X-Error-Code": "RepoNotFound"})

            def _info(self, key: str, repo_id: str) -> None:
                folder = hub.repos.get(key)
                if folder is None:
                    return self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
                siblings = [{"rfilename": p.relative_to(folder).as_posix()} for p in sorted(folder.rglob("*"))
                            if p.is_file()]
                info = {"id": repo_id, "modelId": repo_id, "sha": COMMIT, "siblings": siblings, "private": False}
                self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"})

            def _tree(self, repo_id: str, subfolder: str) -> None:
                folder = hub.repos.get(repo_id)
                inside = folder / subfolder if folder else None
                if inside is None or not inside.is_dir():
                    return self._send(404, b'{"error": "not found"}', {"X-Error-Code": "EntryNotFound"})
                entries = [{"type": "file", "path": p.relative_to(folder).as_posix(), "size": p.stat().st_size,
                            "oid": hashlib.sha1(p.read_bytes()).hexdigest()} for p in sorted(inside.iterdir())
                           if p.is_file()]
                self._send(200, json.dumps(entries).encode(), {"Content-Type": "application/json"})

            def _resolve(self, repo_id: str, filename: str, body: bool) -> None:
                if repo_id not in hub.repos:
                    return self._send(404, b"", {"X-Error-Code": "RepoNotFound"})
                path = hub._file(repo_id, filename)
                if path is None:
                    return self._send(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
                data = path.read_bytes()
                etag = hashlib.sha256(data).hexdigest()
                headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"}
                if body and filename in hub.held:
                    hub.serving.set()
                    hub.held[filename].wait(60)
                self._send(200, data if body else b"", headers, length=len(data))

            def _send(self, status: int, data: bytes, headers: dict[str, str], length: int | None = None) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data) if length is None else length))
                self.end_headers()
                if data:
                    self.wfile.write(data)

        return Handler
