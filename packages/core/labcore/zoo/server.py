"""A small static file server for a team's model zoo: ``lab zoo serve DIR``.

GET and HEAD with single ``Range: bytes=START-[END]`` requests (so clients resume
partial downloads), each reply with an ``ETag`` and ``Last-Modified`` (a Range with an
``If-Range`` that no longer matches gets the whole file, so a resumed download never
mixes two versions of a file), and with ``--allow-upload`` PUT, written atomically (so
``lab zoo publish --dest http://host:port`` can upload to it). Paths cannot leave DIR.
"""

from __future__ import annotations

import email.utils
import os
import re
import tempfile
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class ZooRequestHandler(BaseHTTPRequestHandler):
    """Serves files under ``self.server.root``; PUT when ``self.server.allow_upload``."""

    server_version = "OpenLabZoo/1"
    chunk_size = 1 << 16

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's name)
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def local_file(self) -> Path | None:
        """The file the request path names, or None when it is outside the root."""
        relative = urllib.parse.unquote(urllib.parse.urlparse(self.path).path).lstrip("/")
        root = Path(self.server.root).resolve()
        path = (root / relative).resolve()
        return path if path.is_relative_to(root) and path != root else None

    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        self._send_file(body=False)

    def do_GET(self):  # noqa: N802
        self._send_file(body=True)

    def _send_file(self, *, body: bool) -> None:
        path = self.local_file()
        if path is None or not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND, "no such file")
            return
        stat = path.stat()
        size = stat.st_size
        etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
        last_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        start, end = 0, size - 1
        match = RANGE.match(self.headers.get("Range", "").strip())
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range.strip() not in (etag, last_modified):
            match = None  # the client's copy is of another version: send it all
        if match and (match.group(1) or match.group(2)):
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:  # suffix range: the last N bytes
                start = max(0, size - int(last))
            if start >= size or start > end:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(HTTPStatus.OK)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if body:
            self.write_body(path, start, end + 1)

    def write_body(self, path: Path, start: int, stop: int) -> None:
        """Send bytes [start, stop) of ``path``."""
        with open(path, "rb") as f:
            f.seek(start)
            remaining = stop - start
            while remaining > 0:
                chunk = f.read(min(self.chunk_size, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def do_PUT(self):  # noqa: N802
        if not getattr(self.server, "allow_upload", False):
            self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "uploads are not enabled")
            return
        path = self.local_file()
        length = self.headers.get("Content-Length")
        if path is None or length is None:
            self.send_error(HTTPStatus.BAD_REQUEST, "a path inside the root and Content-Length")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        remaining = int(length)
        with os.fdopen(fd, "wb") as out:
            while remaining > 0:
                chunk = self.rfile.read(min(self.chunk_size, remaining))
                if not chunk:
                    break
                out.write(chunk)
                remaining -= len(chunk)
        if remaining:
            os.unlink(tmp)
            self.send_error(HTTPStatus.BAD_REQUEST, "the upload was cut short")
            return
        os.replace(tmp, path)
        self.send_response(HTTPStatus.CREATED)
        self.send_header("Content-Length", "0")
        self.end_headers()


def make_server(
    root: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_upload: bool = False,
    handler: type[ZooRequestHandler] = ZooRequestHandler,
    verbose: bool = False,
) -> ThreadingHTTPServer:
    """A server for ``root`` (port 0 picks a free port: ``server.server_port``)."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.root, server.allow_upload, server.verbose = Path(root), allow_upload, verbose
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Run ``server`` in a daemon thread; stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return thread
