"""Resuming: a worker killed with SIGKILL in the middle of a run is started again by the
next sweep from its last checkpoint and ends bit-identical to a run that was never
stopped. Two sweeps started at once on one fresh work
dir train every run once, and both finish (no MLflow schema race)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from labbench import cli
from labbench.runfolder import RunFolder
from labbench.tracking import tracking_uri
from labcore.engine.checkpoint import read_checkpoint

RESUME = ("--protocol", "toy-resume", "--only", "toy_slow", "--workers", "1")


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(list(args))
    return code, out.getvalue()


def the_run(work: Path) -> RunFolder:
    (path,) = (work / "runs" / "toy-resume-v1" / "toy_slow").iterdir()
    return RunFolder(path)


def wait_for(condition, timeout_s: float = 120.0, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def weights(folder: RunFolder) -> dict[str, torch.Tensor]:
    return read_checkpoint(str(folder.weights_file)).state_dict


@pytest.fixture(scope="module")
def uninterrupted(toy_world_files, toy_env, tmp_path_factory) -> RunFolder:
    work = tmp_path_factory.mktemp("uninterrupted")
    with toy_env(toy_world_files):
        code, out = run_cli(*RESUME, "--work-dir", str(work))
    assert code == 0, out
    return the_run(work)


@pytest.mark.slow
def test_a_killed_worker_resumes_from_its_last_checkpoint_bit_identical(
    toy_world, uninterrupted, tmp_path, start_sweep
):
    work = tmp_path / "work"
    sweep = start_sweep(toy_world, *RESUME, "--work-dir", str(work))

    def past_a_checkpoint():
        try:
            folder = the_run(work)
        except (FileNotFoundError, ValueError):
            return None
        progress = folder.progress() or {}
        ready = folder.last_checkpoint() is not None and progress.get("iter", 0) >= 8
        return progress if ready and progress["iter"] < 24 else None

    progress = wait_for(past_a_checkpoint, what="the worker to pass its first checkpoint")
    os.kill(progress["pid"], signal.SIGKILL)
    out, _ = sweep.communicate(timeout=120)
    assert sweep.returncode == 1, out
    folder = the_run(work)
    killed = folder.result()
    assert killed["status"] == "failed" and killed["exit_status"] == -signal.SIGKILL
    assert "Run the sweep again to resume it" in killed["error"]
    checkpoint = folder.last_checkpoint()
    assert checkpoint is not None and checkpoint.name in (
        "iter_6.pth",
        "iter_12.pth",
        "iter_18.pth",
    )

    code, out = run_cli(*RESUME, "--work-dir", str(work))
    assert code == 0, out
    assert "1 resume from a checkpoint" in out and "1 trained" in out
    resumed, reference = folder.result(), uninterrupted.result()
    assert resumed["resumed_from_iter"] == int(checkpoint.stem.split("_")[1]) > 0
    assert resumed["iterations"] == reference["iterations"] == 24
    assert resumed["final_loss"] == reference["final_loss"]
    assert resumed["metrics"] == reference["metrics"]
    ours, theirs = weights(folder), weights(uninterrupted)
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    # every iteration recorded once, with the same losses as the run never stopped
    losses = [(r["step"], r["train/loss"]) for r in folder.scalars() if "train/loss" in r]
    assert losses == [
        (r["step"], r["train/loss"]) for r in uninterrupted.scalars() if "train/loss" in r
    ]
    client = MlflowClient(tracking_uri(work))
    experiment = client.get_experiment_by_name("toy-resume")
    runs = client.search_runs([experiment.experiment_id], "tags.`labbench.kind` = 'seed'")
    assert [r.data.tags["labbench.status"] for r in runs] == ["finished"]
    assert runs[0].info.status == "FINISHED"


@pytest.mark.slow
def test_two_sweeps_at_once_on_a_fresh_work_dir_train_each_run_once(
    toy_world, tmp_path, start_sweep
):
    args = ("--protocol", "toy-tiny", "--only", "toy_[ab]", "--workers", "1")
    sweeps = [start_sweep(toy_world, *args, "--work-dir", str(tmp_path)) for _ in range(2)]
    outs = [s.communicate(timeout=600)[0] for s in sweeps]
    assert [s.returncode for s in sweeps] == [0, 0], outs
    assert not any("CommandError" in out or "Traceback" in out for out in outs), outs
    trained = [line.split()[1] for out in outs for line in out.splitlines() if " top1=" in line]
    assert sorted(trained) == sorted(
        f"toy-tiny/{c}/seed{s}" for c in ("toy_a", "toy_b") for s in (0, 1)
    )
    assert any("is being run by another labbench process (host" in out for out in outs)
    client = MlflowClient(tracking_uri(tmp_path))
    experiment = client.get_experiment_by_name("toy-tiny")
    seeds = client.search_runs([experiment.experiment_id], "tags.`labbench.kind` = 'seed'")
    assert len(seeds) == 4 and len({r.data.tags["labbench.run_hash"] for r in seeds}) == 4
    parents = client.search_runs([experiment.experiment_id], "tags.`labbench.kind` = 'config'")
    assert sorted(r.data.tags["labbench.config"] for r in parents) == ["toy_a", "toy_b"]
    for folder in (RunFolder(p) for p in tmp_path.glob("runs/toy-tiny-v3/*/*")):
        result = folder.result()
        assert result["status"] == "finished" and result["resumed_from_iter"] == 0
        assert json.loads((folder.path / "lock").read_text() or "{}") == {}
