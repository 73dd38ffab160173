"""labcore.folders: one check for every folder OpenLab writes to, used by `lab train`,
`lab zoo download`, labcore.zoo.load and the synthetic data cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labcore.folders import FolderError, writable_folder


def test_a_folder_under_a_regular_file_is_named(tmp_path):
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(
        FolderError, match=rf"OPENLAB_HOME: the folder {file}/zoo .*{file} is a file"
    ):
        writable_folder(file / "zoo", setting="OPENLAB_HOME")
    assert writable_folder(tmp_path / "a" / "b", setting="--work-dir").is_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(FolderError, match=f"{locked} is not writable"):
        writable_folder(locked / "cache", setting="OPENLAB_DATA")


def test_a_folder_on_proc_is_refused():
    with pytest.raises(
        FolderError, match="--work-dir: the folder /proc/openlab/run cannot be used"
    ):
        writable_folder("/proc/openlab/run", setting="--work-dir")


@pytest.fixture
def manifests(tmp_path, monkeypatch):
    """A manifest folder with the entry ``m`` (its URL is never reached here)."""
    from labcore.zoo.manifest import ZooEntry, write_entries

    monkeypatch.setenv("OPENLAB_HOME", str(tmp_path / "home"))
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
            "urls": ["http://127.0.0.1:9/m.safetensors"],
            "sha256": "0" * 64,
            "size": 10,
        },
        date="2026-11-25",
        license="Apache-2.0",
    )
    write_entries([entry], tmp_path / "manifests")
    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", str(tmp_path / "manifests"))
    return tmp_path / "manifests"


def _lab(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lab"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_lab_commands_exit_2_naming_the_setting(tmp_path, manifests):
    file = tmp_path / "file.txt"
    file.write_text("x")
    done = _lab("zoo", "download", "m", env={"OPENLAB_HOME": str(file / "home")})
    assert done.returncode == 2, done.stderr
    assert f"OPENLAB_HOME: the folder {file}/home/zoo" in done.stderr
    assert "Traceback" not in done.stderr

    config = tmp_path / "cfg.py"
    config.write_text("model = dict(type='ToyDropoutNet')\n")
    done = _lab("train", str(config), "--work-dir", str(file / "work"), env={})
    assert done.returncode == 2, done.stderr
    assert f"--work-dir: the folder {file}/work cannot be used: {file} is a file" in done.stderr


def test_zoo_load_and_the_data_cache_raise_folder_errors(tmp_path, monkeypatch, manifests):
    from labcore import zoo
    from labcore.datasets.synthetic import ensure_shapes

    file = tmp_path / "file.txt"
    file.write_text("x")
    monkeypatch.setenv("OPENLAB_HOME", str(file))
    with pytest.raises(FolderError, match="OPENLAB_HOME"):
        zoo.load("m")
    monkeypatch.setenv("OPENLAB_DATA", str(Path(file) / "data"))
    with pytest.raises(FolderError, match=f"OPENLAB_DATA: the folder {file}/data"):
        ensure_shapes("cls", num_train=4, num_val=2, image_size=16)
