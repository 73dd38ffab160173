"""Run provenance: the git commit of the checkout and the versions of the stack."""

from __future__ import annotations

import importlib.metadata
import subprocess
from pathlib import Path

from labcore.environment import environment_info, git_commit


def test_git_commit_is_head_and_says_dirty_and_unknown_outside_a_checkout(tmp_path):
    repo = Path(__file__).resolve().parent
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_commit(repo).removesuffix("-dirty") == head
    assert git_commit(tmp_path) == "unknown"
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("a")
    git = ["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    clean = git_commit(tmp_path)
    (tmp_path / "f").write_text("b")
    assert len(clean) == 40 and git_commit(tmp_path) == f"{clean}-dirty"


def test_environment_info_names_versions_and_hardware():
    info = environment_info()
    assert info["torch"] == importlib.metadata.version("torch")
    assert info["labcore"] == importlib.metadata.version("labcore")
    assert info["git_commit"] and info["cpu"] and info["gpu"]
    assert all(isinstance(v, str) for v in info.values())
