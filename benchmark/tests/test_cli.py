"""The labbench command: listing, errors, and the dry run that CI calls."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from labbench import cli


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_list_prints_protocols_with_their_configs(toy_world):
    code, out, _ = run_cli("--list")
    assert code == 0
    assert "toy-tiny@v3 [tiny, default sweep]" in out
    assert "toy_a" in out and "benchtoy::tiny/toy_a.py (baseline)" in out
    assert "coco-1x@v1 [full]" in out and "toy_unlisted" not in out


def test_unknown_protocol_and_bad_seeds_are_clear_errors(toy_world, tmp_path):
    code, _, err = run_cli("--protocol", "toy-tin", "--work-dir", str(tmp_path))
    assert code == 2 and "unknown protocol 'toy-tin'. Did you mean: toy-tiny" in err
    code, _, err = run_cli("--protocol", "toy-tiny", "--seeds", "a,b", "--work-dir", str(tmp_path))
    assert code == 2 and "--seeds 'a,b' is not a comma-separated list" in err


@pytest.mark.slow
def test_dry_run_builds_and_runs_two_iterations_without_mlflow(toy_world, tmp_path):
    code, out, _ = run_cli(
        "--dry-run", "--protocol", "toy-tiny", "--only", "toy_a", "--work-dir", str(tmp_path)
    )
    assert code == 0, out
    assert "1 trained" in out and "MLflow" not in out and not (tmp_path / "mlflow.db").exists()
    (result_path,) = tmp_path.glob("runs/dry-run/toy-tiny-v3/toy_a/*/result.json")
    result = json.loads(result_path.read_text())
    assert result["status"] == "finished" and result["iterations"] == 2
