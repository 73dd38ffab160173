"""labcore.zoo.download against a real HTTP server on 127.0.0.1 with fault injection."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from labcore.zoo.download import fetch, sha256_file
from labcore.zoo.errors import DownloadError, ZooError
from labcore.zoo.server import ZooRequestHandler, make_server, serve_in_thread

PAYLOAD = os.urandom(300_000)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class FaultyHandler(ZooRequestHandler):
    """Records every GET; can cut the connection once after N bytes, or go slowly."""

    chunk_size = 16_384

    def do_GET(self):  # noqa: N802
        self.server.requests.append((self.path, self.headers.get("Range")))
        status = self.server.faults.pop("status_once", None)
        if status is not None:
            self.send_error(status)
            return
        if self.server.faults.get("ignore_range"):
            del self.headers["Range"]
        super().do_GET()

    def write_body(self, path, start, stop):
        cut = self.server.faults.pop("cut_after", None)
        if path.parent.name == "bad":  # the bad mirror cuts every reply at 100 kB
            cut = 100_000
        if cut is not None and start < cut < stop:
            with open(path, "rb") as f:
                f.seek(start)
                self.wfile.write(f.read(cut - start))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        delay = self.server.faults.get("delay_per_chunk", 0.0)
        with open(path, "rb") as f:
            f.seek(start)
            while (position := f.tell()) < stop:
                self.wfile.write(f.read(min(self.chunk_size, stop - position)))
                time.sleep(delay)


@pytest.fixture
def zoo_env(zoo_env, monkeypatch):
    monkeypatch.setenv("OPENLAB_ZOO_RETRIES", "3")
    monkeypatch.setenv("OPENLAB_ZOO_BACKOFF", "0.01")
    return zoo_env


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    (root / "labcls" / "m").mkdir(parents=True)
    (root / "labcls" / "m" / "m.safetensors").write_bytes(PAYLOAD)
    srv = make_server(root, handler=FaultyHandler)
    srv.requests, srv.faults = [], {}
    serve_in_thread(srv)
    srv.url = f"http://127.0.0.1:{srv.server_port}"
    yield srv
    srv.shutdown()
    srv.server_close()


def dead_url() -> str:
    """A URL on a port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/labcls/m/m.safetensors"


def test_download_then_cached_reuse(zoo_env, server):
    target = zoo_env / "home" / "zoo" / "m.safetensors"
    url = f"{server.url}/labcls/m/m.safetensors"
    assert fetch([url], target, sha256=DIGEST, size=len(PAYLOAD), progress=True) == target
    assert target.read_bytes() == PAYLOAD
    fetch([url], target, sha256=DIGEST, size=len(PAYLOAD))
    assert len(server.requests) == 1  # the second call used the cache
    assert not Path(str(target) + ".part").exists()


def test_resume_after_connection_cut_mid_file(zoo_env, server):
    server.faults["cut_after"] = 100_000
    target = zoo_env / "cache" / "m.safetensors"
    fetch([f"{server.url}/labcls/m/m.safetensors"], target, sha256=DIGEST, size=len(PAYLOAD))
    assert target.read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == [None, "bytes=100000-"]


def test_next_invocation_resumes_a_failed_download(zoo_env, server, monkeypatch):
    monkeypatch.setenv("OPENLAB_ZOO_RETRIES", "1")
    server.faults["cut_after"] = 120_000
    url, target = f"{server.url}/labcls/m/m.safetensors", zoo_env / "cache" / "m.safetensors"
    with pytest.raises(DownloadError, match="connection closed after 120000 of 300000 bytes"):
        fetch([url], target, sha256=DIGEST, size=len(PAYLOAD))
    assert Path(str(target) + ".part").stat().st_size == 120_000
    fetch([url], target, sha256=DIGEST, size=len(PAYLOAD))
    assert target.read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == [None, "bytes=120000-"]


def test_server_that_ignores_range_gets_a_full_restart(zoo_env, server):
    server.faults.update(cut_after=100_000, ignore_range=True)
    target = zoo_env / "cache" / "m.safetensors"
    fetch([f"{server.url}/labcls/m/m.safetensors"], target, sha256=DIGEST, size=len(PAYLOAD))
    assert target.read_bytes() == PAYLOAD  # the 200 reply was not appended to the part file
    assert len(server.requests) == 2


def test_transient_503_is_retried(zoo_env, server):
    server.faults["status_once"] = 503
    target = zoo_env / "cache" / "m.safetensors"
    fetch([f"{server.url}/labcls/m/m.safetensors"], target, sha256=DIGEST, size=len(PAYLOAD))
    assert target.read_bytes() == PAYLOAD
    assert len(server.requests) == 2


def test_corrupt_file_is_rejected_and_deleted(zoo_env, server):
    wrong = "0" * 64
    target = zoo_env / "cache" / "m.safetensors"
    with pytest.raises(DownloadError) as err:
        fetch([f"{server.url}/labcls/m/m.safetensors"], target, sha256=wrong, size=len(PAYLOAD))
    assert f"expected {wrong}, got {DIGEST}" in str(err.value)
    assert not target.exists() and not Path(str(target) + ".part").exists()


def test_404_names_the_url_and_the_next_mirror(zoo_env, server, caplog):
    missing = f"{server.url}/labcls/m/missing.safetensors"
    good = f"{server.url}/labcls/m/m.safetensors"
    target = zoo_env / "cache" / "m.safetensors"
    with caplog.at_level(logging.WARNING, logger="labcore.zoo"):
        fetch([missing, good], target, sha256=DIGEST, size=len(PAYLOAD))
    assert target.read_bytes() == PAYLOAD
    assert f"{missing} failed (HTTP 404" in caplog.text
    assert f"trying next mirror {good}" in caplog.text
    assert len(server.requests) == 2  # a 404 is not retried


def test_server_down_and_404_both_reported_in_order(zoo_env, server):
    down, missing = dead_url(), f"{server.url}/nothing.safetensors"
    with pytest.raises(DownloadError) as err:
        fetch([down, missing], zoo_env / "c" / "m.safetensors", sha256=DIGEST, size=len(PAYLOAD))
    message = str(err.value)
    assert message.index(down) < message.index(missing)
    assert f"{down}: cannot connect" in message and "(after 3 attempts)" in message
    assert f"{missing}: HTTP 404" in message


def test_file_url_and_offline_mode(zoo_env, server, monkeypatch):
    source = server.root / "labcls" / "m" / "m.safetensors"
    target = zoo_env / "cache" / "m.safetensors"
    monkeypatch.setenv("OPENLAB_OFFLINE", "1")
    with pytest.raises(ZooError, match="OPENLAB_OFFLINE=1"):
        fetch([source.as_uri()], target, sha256=DIGEST)
    monkeypatch.delenv("OPENLAB_OFFLINE")
    fetch([source.as_uri()], target, sha256=DIGEST)
    monkeypatch.setenv("OPENLAB_OFFLINE", "1")
    assert fetch([source.as_uri()], target, sha256=DIGEST).read_bytes() == PAYLOAD


def _download_in_child(url: str, target: str) -> None:
    fetch([url], target, sha256=DIGEST, size=len(PAYLOAD))
    assert sha256_file(target) == DIGEST


def test_two_processes_download_one_file_once(zoo_env, server):
    server.faults["delay_per_chunk"] = 0.02  # ~0.4 s per download: the two overlap
    url, target = f"{server.url}/labcls/m/m.safetensors", zoo_env / "cache" / "m.safetensors"
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_download_in_child, args=(url, str(target))) for _ in "ab"]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
    assert [c.exitcode for c in children] == [0, 0]
    assert target.read_bytes() == PAYLOAD
    assert len(server.requests) == 1  # the second process waited for the lock, then reused


def test_mirrors_are_tried_before_the_manifest_urls(zoo_env, server, monkeypatch):
    from labcore.zoo.client import candidate_urls, download
    from labcore.zoo.manifest import ZooEntry

    entry = ZooEntry(
        name="m",
        codebase="labcls",
        config="labcls::m.py",
        task="image-classification",
        protocol={"name": "p", "version": 1},
        metrics={},
        seeds=[0],
        published_seed=0,
        params=1,
        weights={
            "path": "labcls/m/m.safetensors",
            "urls": [dead_url()],
            "sha256": DIGEST,
            "size": len(PAYLOAD),
        },
        date="2026-11-25",
        license="Apache-2.0",
    )
    down = dead_url().rsplit("/labcls/", 1)[0]
    monkeypatch.setenv("OPENLAB_ZOO_MIRRORS", f"{down}, {server.url}/")
    urls = candidate_urls(entry)
    assert urls == [f"{down}/labcls/m/m.safetensors", f"{server.url}/labcls/m/m.safetensors"] + [
        entry.weights.urls[0]
    ]
    assert download(entry).read_bytes() == PAYLOAD
    assert server.requests == [("/labcls/m/m.safetensors", None)]


def test_probe_checks_urls_without_downloading(zoo_env, server):
    from labcore.zoo.download import probe

    url = f"{server.url}/labcls/m/m.safetensors"
    assert probe(url, len(PAYLOAD)) is None
    assert probe(url, 5) == f"size {len(PAYLOAD)} bytes, expected 5"
    assert probe(f"{server.url}/none", 5).startswith("HTTP 404")
    assert probe(dead_url(), 5).startswith("cannot connect")
    assert probe((server.root / "labcls/m/m.safetensors").as_uri(), len(PAYLOAD)) is None
    assert server.requests == []  # HEAD only: nothing was downloaded


def _bad_mirror(server) -> str:
    """A URL whose file has the right size but wrong bytes, and whose every reply is cut
    at 100 kB."""
    bad = server.root / "labcls" / "bad" / "m.safetensors"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(os.urandom(len(PAYLOAD)))
    return f"{server.url}/labcls/bad/m.safetensors"


def test_a_partial_file_is_resumed_only_from_the_source_that_wrote_it(zoo_env, server):
    """A bad mirror before a healthy one: its bytes left in the .part must not be
    continued by the healthy mirror (which would fail its sha256 on every run)."""
    bad, good = _bad_mirror(server), f"{server.url}/labcls/m/m.safetensors"
    target = zoo_env / "cache" / "m.safetensors"
    for _ in range(2):  # each run tries the bad mirror first
        target.unlink(missing_ok=True)
        fetch([bad, good], target, sha256=DIGEST, size=len(PAYLOAD))
        assert target.read_bytes() == PAYLOAD
    from_good = [r for path, r in server.requests if path == "/labcls/m/m.safetensors"]
    assert from_good == [None, None]  # the healthy mirror always sent the file from byte 0
    assert not Path(str(target) + ".part.json").exists()


def test_a_partial_file_of_a_changed_remote_file_starts_over(zoo_env, server, monkeypatch):
    """The .part records the server's ETag; after the file changed on the server the
    If-Range does not match, so the whole new file comes instead of a mixed one."""
    monkeypatch.setenv("OPENLAB_ZOO_RETRIES", "1")
    served = server.root / "labcls" / "m" / "m.safetensors"
    served.write_bytes(os.urandom(len(PAYLOAD)))  # an older version of the file
    url, target = f"{server.url}/labcls/m/m.safetensors", zoo_env / "cache" / "m.safetensors"
    server.faults["cut_after"] = 100_000
    with pytest.raises(DownloadError, match="connection closed"):
        fetch([url], target, sha256=DIGEST, size=len(PAYLOAD))
    served.write_bytes(PAYLOAD)
    os.utime(served, ns=(time.time_ns() + 10**9,) * 2)
    fetch([url], target, sha256=DIGEST, size=len(PAYLOAD))
    assert target.read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == [None, "bytes=100000-"]  # If-Range: sent whole


def test_hash_failure_after_a_resume_retries_once_from_byte_zero(zoo_env, server):
    url, target = f"{server.url}/labcls/m/m.safetensors", zoo_env / "cache" / "m.safetensors"
    fetch([url], target, sha256=DIGEST, size=len(PAYLOAD))
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as response:
        etag = response.headers["ETag"]
    target.unlink()
    part = Path(str(target) + ".part")
    part.write_bytes(os.urandom(100_000))  # bytes spoilt on disk, from the right source
    Path(str(part) + ".json").write_text(json.dumps({"url": url, "etag": etag}))
    server.requests.clear()
    fetch([url], target, sha256=DIGEST, size=len(PAYLOAD))
    assert target.read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == ["bytes=100000-", None]


def test_retries_and_the_mirror_switch_are_logged_without_a_terminal(zoo_env, server):
    """stderr is a pipe (no progress bar): a stalled mirror must still say what happens."""
    import subprocess
    import sys

    server.faults["delay_per_chunk"] = 2.0  # stalls past the 0.3 s socket timeout
    stalled = f"{server.url}/labcls/m/m.safetensors"
    source = (server.root / "labcls" / "m" / "m.safetensors").as_uri()
    code = (
        "import sys; from labcore.zoo.download import fetch; "
        f"fetch({[stalled, source]!r}, sys.argv[1], sha256={DIGEST!r}, size={len(PAYLOAD)})"
    )
    env = {**os.environ, "OPENLAB_ZOO_TIMEOUT": "0.3", "OPENLAB_ZOO_RETRIES": "2"}
    target = zoo_env / "cache" / "m.safetensors"
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"zoo: {stalled}: connection failed: timed out; retry 1/1" in done.stderr
    assert f"trying next mirror {source}" in done.stderr
    assert target.read_bytes() == PAYLOAD
