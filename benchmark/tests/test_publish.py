"""Publishing: one zoo record per config, the seed closest to the mean, mean and std."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labbench.publish import zoo_runs
from labcore.zoo import ZooRun


def finished_run(root: Path, seed: int, top1: float) -> Path:
    run_dir = root / f"seed{seed}"
    run_dir.mkdir(parents=True)
    record = {
        "config_name": "toy_a", "codebase": "benchtoy", "config": "benchtoy::tiny/toy_a.py",
        "protocol": "toy-tiny", "protocol_version": 3, "seed": seed, "metric_key": "accuracy/top1",
        "environment": {"git_commit": "0123abcd"},
    }  # fmt: skip
    result = {
        "status": "finished", "metric": top1, "metrics": {"accuracy/top1": top1, "loss": 1.0},
        "checkpoint": str(run_dir / "checkpoint.pth"), "params": 260.0, "flops": 4096.0,
    }  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(record))
    (run_dir / "result.json").write_text(json.dumps(result))
    (run_dir / "mlflow.json").write_text(json.dumps({"run_id": f"run{seed}"}))
    return run_dir


def test_zoo_record_publishes_the_seed_closest_to_the_mean(tmp_path):
    dirs = [
        finished_run(tmp_path, 0, 0.70),
        finished_run(tmp_path, 1, 0.78),
        finished_run(tmp_path, 2, 0.75),
    ]
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "run.json").write_text((dirs[0] / "run.json").read_text())
    (failed / "result.json").write_text(json.dumps({"status": "failed", "error": "x"}))
    (run,) = zoo_runs([*dirs, failed])
    assert isinstance(run, ZooRun)
    assert run.name == "toy_a" and run.protocol == "toy-tiny" and run.protocol_version == 3
    assert run.metrics_mean["accuracy/top1"] == pytest.approx(np.mean([0.70, 0.78, 0.75]))
    assert run.metrics_std["accuracy/top1"] == pytest.approx(np.std([0.70, 0.78, 0.75], ddof=1))
    assert run.seed == 2 and run.mlflow_run_id == "run2" and run.seeds == [0, 1, 2]
    assert run.checkpoint == str(dirs[2] / "checkpoint.pth")
    assert run.params == 260 and run.flops == 4096 and run.git_commit == "0123abcd"


def test_per_seed_publishing_adds_every_seed_under_its_own_name(tmp_path):
    dirs = [finished_run(tmp_path, seed, top1) for seed, top1 in enumerate([0.70, 0.78, 0.75])]
    representative, *seeds = zoo_runs(dirs, per_seed=True)
    assert (representative.name, representative.seed, representative.seeds) == (
        "toy_a",
        2,
        [0, 1, 2],
    )
    assert [(r.name, r.seed, r.seeds) for r in seeds] == [
        ("toy_a.seed0", 0, [0]), ("toy_a.seed1", 1, [1]), ("toy_a.seed2", 2, [2]),
    ]  # fmt: skip
    for run, run_dir, top1 in zip(seeds, dirs, [0.70, 0.78, 0.75]):
        assert run.checkpoint == str(run_dir / "checkpoint.pth")
        assert run.metrics_mean["accuracy/top1"] == run.seed_metrics["accuracy/top1"] == top1
        assert run.metrics_std["accuracy/top1"] == 0.0
        assert run.mlflow_run_id == f"run{run.seed}" and run.config == representative.config
    assert [r.name for r in zoo_runs(dirs)] == ["toy_a"]
