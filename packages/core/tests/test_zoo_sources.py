"""labcore.zoo.sources.checkpoint_file: every checkpoint source `lab test` takes, as a
local file, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os

import pytest

from labcore.errors import CheckpointError
from labcore.zoo.server import make_server, serve_in_thread
from labcore.zoo.sources import checkpoint_file

PAYLOAD = os.urandom(50_000)


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENLAB_ZOO_BACKOFF", "0.01")
    monkeypatch.delenv("OPENLAB_OFFLINE", raising=False)
    monkeypatch.delenv("OPENLAB_ZOO_MIRRORS", raising=False)
    root = tmp_path / "served"
    (root / "labcls" / "m").mkdir(parents=True)
    (root / "labcls" / "m" / "m.safetensors").write_bytes(PAYLOAD)
    server = make_server(root)
    serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_an_http_checkpoint_is_downloaded_once_into_the_cache(served, tmp_path):
    url = f"{served}/labcls/m/m.safetensors"
    path = checkpoint_file(url)
    assert path.read_bytes() == PAYLOAD
    assert path.is_relative_to(tmp_path / "home" / "checkpoints") and path.name == "m.safetensors"
    (tmp_path / "served" / "labcls" / "m" / "m.safetensors").unlink()
    assert checkpoint_file(url) == path  # from the cache, without the server


def test_a_zoo_name_is_downloaded_and_verified(served, tmp_path, monkeypatch):
    from labcore.zoo.manifest import ZooEntry, write_entries

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
            "urls": [f"{served}/labcls/m/m.safetensors"],
            "sha256": hashlib.sha256(PAYLOAD).hexdigest(),
            "size": len(PAYLOAD),
        },
        date="2026-11-25",
        license="Apache-2.0",
    )
    write_entries([entry], tmp_path / "manifests")
    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", str(tmp_path / "manifests"))
    path = checkpoint_file("zoo://m")
    assert path == tmp_path / "home" / "zoo" / "labcls" / "m" / "m.safetensors"
    assert path.read_bytes() == PAYLOAD


def test_paths_and_file_urls_are_the_file_itself(tmp_path):
    checkpoint = tmp_path / "epoch_1.pth"
    checkpoint.write_bytes(b"x")
    assert checkpoint_file(str(checkpoint)) == checkpoint
    assert checkpoint_file(checkpoint.as_uri()) == checkpoint
    with pytest.raises(CheckpointError, match="'missing.pth' does not exist"):
        checkpoint_file("missing.pth")
    with pytest.raises(CheckpointError, match="'torchvision://' names no file"):
        checkpoint_file("torchvision://resnet18")
