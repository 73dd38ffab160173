"""Atomic writes: a reader sees the old file or the new one, never a part of it."""

from __future__ import annotations

import json
import os

import pytest

from labcore.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    atomic_write_json(path, {"metric": 0.5, "path": tmp_path})
    assert json.loads(path.read_text()) == {"metric": 0.5, "path": str(tmp_path)}
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["result.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "result.json"
    atomic_write_text(path, "old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # fails in the middle of the write
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["result.json"]
