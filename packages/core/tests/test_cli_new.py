"""`lab new codebase`: the generated distribution installs, its tests pass, and the
benchmark harness lists and trains it, as for any OpenLab codebase."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labcore.cli.main import main as lab_main
from labcore.scaffold import ScaffoldError, create_codebase

NAME = "labscaffoldtest"
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1depth", "not a valid codebase name"),
        ("Lab-Depth", "not a valid codebase name"),
        ("class", "not a valid codebase name"),
        ("labdet", "already installed"),
        ("json", "already an importable module"),
    ],
)
def test_bad_or_clashing_names_are_refused(tmp_path, name, reason):
    with pytest.raises(ScaffoldError, match=reason):
        create_codebase(name, out=tmp_path)
    assert not (tmp_path / name).exists()


def test_an_existing_folder_and_an_unknown_task_are_refused(tmp_path, capsys):
    (tmp_path / NAME).mkdir()
    assert lab_main(["new", "codebase", NAME, "--out", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(ScaffoldError, match="Unknown task 'depth'"):
        create_codebase("labother", task="depth", out=tmp_path)


@pytest.mark.slow
def test_a_new_codebase_installs_passes_its_tests_and_is_benchmarked(tmp_path, shapes_data_root):
    assert lab_main(["new", "codebase", NAME, "--out", str(tmp_path)]) == 0
    source = tmp_path / NAME
    for part in ("pyproject.toml", "README.md", f"{NAME}/codebase.py", f"{NAME}/registry.py",
                 f"{NAME}/configs/convnet/metafile.yml", f"{NAME}/protocols/{NAME}-shapes-tiny.yaml",
                 f"tests/test_{NAME}.py"):  # fmt: skip
        assert (source / part).is_file(), part

    # installed beside the shared environment, not into it, so other tests never see it
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", str(target), str(source)], check=True)
    env = {**os.environ, "PYTHONPATH": str(target), "OPENLAB_DATA": str(shapes_data_root)}
    env["OMP_NUM_THREADS"] = "1"

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(source / "tests")],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "3 passed" in tests.stdout

    listed = subprocess.run(
        [str(BIN / "labbench"), "--list"], env=env, capture_output=True, text=True, check=True
    )
    assert "convnet_tiny_shapes" in listed.stdout and f"{NAME}-shapes-tiny" in listed.stdout

    work_dir = tmp_path / "bench"
    sweep = subprocess.run(
        [str(BIN / "labbench"), "--only", "convnet_tiny_shapes", "--seeds", "0",
         "--work-dir", str(work_dir), "--workers", "1"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert sweep.returncode == 0, (sweep.stdout + sweep.stderr)[-3000:]
    results = [json.loads(p.read_text()) for p in work_dir.rglob("result.json")]
    assert results, f"no run finished under {work_dir}"
    assert all(0.0 <= r["metrics"]["accuracy/top1"] <= 1.0 for r in results), results
