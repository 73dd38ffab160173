"""MLflow logging: runs kept locally while the server is unreachable, ``--sync`` sends
them later, and against a real ``mlflow server`` that goes away in the middle of a sweep
nothing is lost."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from labbench import cli
from labbench.executor import LocalExecutor
from labbench.sweep import Sweep
from labbench.tracking import Tracker, flatten_params, tracking_uri


def run_cli(*args: str) -> tuple[int, str]:
    """Exit status, and stdout followed by stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue() + err.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fake_run(work: Path, config: str, seed: int, metric: float) -> Path:
    """A run folder as a worker leaves it (without a checkpoint)."""
    run_dir = work / "runs" / "toy-tiny-v3" / config / f"seed{seed}-{config}{seed:08d}"
    run_dir.mkdir(parents=True)
    record = {
        "config_name": config, "codebase": "benchtoy", "config": f"benchtoy::tiny/{config}.py",
        "protocol": "toy-tiny", "protocol_version": 3, "seed": seed, "run_hash": f"{config}{seed:08d}",
        "mode": "train", "metric_key": "accuracy/top1", "metric_name": "top1",
        "input_size": [16, 16], "launcher": "none", "paper_title": "T",
        "paper_url": "https://example.org/toy", "environment": {"git_commit": "abc", "torch": "2"},
    }  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(record))
    (run_dir / "config.json").write_text(
        json.dumps({"model": {"type": "ToyClassifier", "width": 8}})
    )
    (run_dir / "scalars.jsonl").write_text(
        "".join(json.dumps({"step": s, "train/loss": 1.0 / s}) + "\n" for s in range(1, 5))
    )
    result = {"status": "finished", "metrics": {"accuracy/top1": metric}, "metric": metric,
              "train_time_s": 1.0, "peak_memory_mb": 10.0, "params": 260.0, "flops": 100.0,
              "iterations": 4}  # fmt: skip
    (run_dir / "result.json").write_text(json.dumps(result))
    return run_dir


def test_flatten_params_respects_mlflow_limits():
    flat = flatten_params({"a": {"b": 1, "c": [1, 2]}, "x" * 300: 1, "long": "v" * 7000})
    # labcore's flattening, the same as `lab train` logs: lists are indexed
    assert flat["a.b"] == "1" and flat["a.c.0"] == "1" and flat["a.c.1"] == "2"
    assert len(flat["long"]) == 6000 and not any(len(k) > 250 for k in flat)


def test_unreachable_server_keeps_runs_and_sync_sends_them(toy_world, tmp_path, monkeypatch):
    work = tmp_path / "work"
    runs = [fake_run(work, "toy_a", 0, 0.5), fake_run(work, "toy_a", 1, 0.7)]
    out = io.StringIO()
    down = Tracker(f"http://127.0.0.1:{free_port()}")
    sweep = Sweep(work, executor=LocalExecutor(), tracker=down, out=out)
    for run_dir in runs:
        sweep.log(run_dir)
    sweep.summary()
    assert sweep.report.unsynced == runs and sweep.report.exit_code == 3
    assert out.getvalue().count("cannot be reached") == 1
    assert f"labbench --sync --work-dir {work}" in out.getvalue()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", down.uri)
    code, text = run_cli("--sync", "--work-dir", str(work))
    assert code == 2 and "still cannot be reached" in text and "the runs stay in" in text
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    code, text = run_cli("--sync", "--work-dir", str(work))
    assert code == 0 and "Synced 2 run(s)" in text
    client = MlflowClient(tracking_uri(work))
    experiment = client.get_experiment_by_name("toy-tiny")
    seeds = client.search_runs([experiment.experiment_id], "tags.`labbench.kind` = 'seed'")
    assert sorted(r.data.metrics["accuracy/top1"] for r in seeds) == [0.5, 0.7]
    assert len({r.data.tags["mlflow.parentRunId"] for r in seeds}) == 1
    parent = client.get_run(seeds[0].data.tags["mlflow.parentRunId"])
    assert parent.data.metrics["top1_mean"] == pytest.approx(0.6)
    code, text = run_cli("--sync", "--work-dir", str(work))
    assert "Synced 0 run(s)" in text and "2 were already there" in text

    code, text = run_cli("--report", "--work-dir", str(work))
    assert code == 0 and "| toy_a | 2 | 0.6000 |" in re.sub(" +", " ", text)  # cells unpadded


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a sqlite store, started and stopped by a test."""

    def __init__(self, root: Path):
        self.root, self.port, self.process = root, free_port(), None
        self.uri = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            str(Path(sys.executable).parent / "mlflow"), "server",
            "--backend-store-uri", f"sqlite:///{self.root / 'server.db'}",
            "--artifacts-destination", str(self.root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
        ]  # fmt: skip
        log = open(self.root / "server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not start; see {self.root / 'server.log'}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group this test started
            self.process.wait(timeout=30)
        self.process = None


@pytest.mark.slow
def test_real_server_going_away_mid_sweep_loses_nothing(toy_world, tmp_path, monkeypatch):
    server = MlflowServer(tmp_path)
    server.start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
        original = Tracker.log_run

        def log_then_stop_server(self, run_dir, **kwargs):
            run_id = original(self, run_dir, **kwargs)
            server.stop()  # gone before the second run is logged
            return run_id

        monkeypatch.setattr(Tracker, "log_run", log_then_stop_server)
        work = tmp_path / "work"
        code, out = run_cli(
            "--protocol", "toy-tiny", "--only", "toy_a", "--workers", "1", "--work-dir", str(work)
        )  # fmt: skip
        monkeypatch.setattr(Tracker, "log_run", original)
        assert code == 3, out
        assert "2 trained" in out and f"labbench --sync --work-dir {work}" in out
        results = [json.loads(p.read_text()) for p in work.glob("runs/*/toy_a/*/result.json")]
        assert [r["status"] for r in results] == ["finished", "finished"]

        server.start()
        code, text = run_cli("--sync", "--work-dir", str(work))
        assert code == 0 and "Synced 1 run(s)" in text and "1 were already there" in text
        client = MlflowClient(server.uri)
        experiment = client.get_experiment_by_name("toy-tiny")
        seeds = client.search_runs([experiment.experiment_id], "tags.`labbench.kind` = 'seed'")
        assert sorted(r.data.tags["labbench.seed"] for r in seeds) == ["0", "1"]
        assert all(r.info.status == "FINISHED" for r in seeds)
        assert {"checkpoint.pth", "config.py"} <= {
            a.path for a in client.list_artifacts(seeds[1].info.run_id)
        }
        code, text = run_cli("--report", "--work-dir", str(work))
        assert code == 0 and "| toy_a | 2 |" in re.sub(" +", " ", text) and server.uri in text
    finally:
        server.stop()
