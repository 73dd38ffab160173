"""Executors: the worker command line, how CPU threads are split, Slurm options, and a
run through submitit's local executor that is preempted, requeued and resumes."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from labbench.discovery import registered_configs
from labbench.executor import (
    ClusterOptions,
    LocalExecutor,
    SubmititExecutor,
    TorchrunExecutor,
    WorkerJob,
    make_executor,
)
from labbench.plan import build_plan
from labbench.protocol import load_all_protocols
from labbench.sweep import Sweep
from labcore.errors import ConfigError


def test_local_executor_runs_the_worker_module_with_its_thread_share():
    executor = make_executor(devices=1, workers=2, cpus=8)
    assert isinstance(executor, LocalExecutor) and executor.threads == 4
    assert executor.command(Path("/r")) == [sys.executable, "-m", "labbench.worker", "/r"]
    env = executor.environment()
    assert env["OMP_NUM_THREADS"] == "4" and env["MKL_NUM_THREADS"] == "4"
    assert make_executor(devices=1, workers=4, cpus=2).threads == 1


def test_several_devices_use_torchrun_with_one_process_per_device():
    executor = make_executor(devices=4, workers=1, cpus=16)
    assert isinstance(executor, TorchrunExecutor) and executor.launcher == "pytorch"
    command = executor.command(Path("/r"))
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=4" in command and "--standalone" in command
    assert command[-2:] == ["labbench.worker", "/r"] and executor.threads == 4


def test_cluster_options_from_yaml_with_the_command_line_on_top(tmp_path):
    path = tmp_path / "cluster.yaml"
    path.write_text("partition: gpu\ngpus-per-node: 8\ntime: '04:30'\naccount: lab\n")
    options = ClusterOptions.from_yaml(path, nodes=2, partition=None, qos="high")
    assert (options.partition, options.gpus_per_node, options.nodes) == ("gpu", 8, 2)
    assert options.minutes == 270 and options.qos == "high"
    parameters = options.submitit_parameters()
    assert parameters["timeout_min"] == 270 and parameters["slurm_partition"] == "gpu"
    assert parameters["slurm_account"] == "lab" and parameters["gpus_per_node"] == 8
    assert parameters["tasks_per_node"] == 1 and parameters["nodes"] == 2
    path.write_text("partitoin: gpu\n")
    with pytest.raises(ConfigError, match=r"unknown keys \['partitoin'\]"):
        ClusterOptions.from_yaml(path)
    with pytest.raises(ConfigError, match="is not HH:MM"):
        _ = ClusterOptions(time="four hours").minutes


def test_slurm_without_its_commands_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="needs the Slurm commands"):
        make_executor(devices=1, workers=1, kind="slurm", work_dir=tmp_path)


def test_several_gpus_or_nodes_run_torchrun_inside_the_job(tmp_path):
    job = WorkerJob(tmp_path, threads=2, env={}, gpus_per_node=4)
    command = job.command()
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=4" in command and command[-1] == str(tmp_path)
    assert WorkerJob(tmp_path, threads=1, env={}, gpus_per_node=1).command()[-2:] == [
        "labbench.worker",
        str(tmp_path),
    ]


class RecordingExecutor(SubmititExecutor):
    """submitit's local executor, keeping the handles of the jobs it submitted."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handles: list = []

    def start_all(self, run_dirs):
        handles = super().start_all(run_dirs)
        self.handles.extend(handles)
        return handles


def _parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.slow
def test_a_preempted_submitit_job_is_requeued_and_resumes_from_its_checkpoint(toy_world, tmp_path):
    """The job gets submitit's preemption signal once it passed a checkpoint: submitit
    requeues it, and the worker resumes from that checkpoint."""
    executor = RecordingExecutor(tmp_path, ClusterOptions(time="00:10"), cluster="local")
    plan = build_plan(
        [e for e in registered_configs() if e.name == "toy_slow"],
        load_all_protocols(),
        selected=["toy-resume"],
    )
    sweep = Sweep(tmp_path, executor=executor, tracker=None, out=io.StringIO(), poll_s=0.1)
    thread = threading.Thread(target=sweep.run, args=(plan,))
    thread.start()
    try:
        folder = sweep.folder(plan.runs[0])
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            progress = folder.progress() or {}
            if folder.last_checkpoint() is not None and 6 < progress.get("iter", 0) < 24:
                break
            time.sleep(0.05)
        else:
            logs = {f.name: f.read_text()[-2000:] for f in tmp_path.glob("slurm/*/*_log.*")}
            raise AssertionError(f"the job never passed its first checkpoint: {logs}")
        # what Slurm sends before a preemption or the time limit, to the job's process
        os.kill(_parent_pid(progress["pid"]), signal.SIGUSR2)
    finally:
        thread.join(timeout=150)
    assert not thread.is_alive()
    (outcome,) = sweep.report.outcomes
    result = folder.result()
    assert outcome.status == "finished", result
    assert result["iterations"] == 24 and result["resumed_from_iter"] >= 6
    assert folder.job()["executor"] == "local" and executor.handles[0].job_id
    assert folder.log_tail(100000).count("Checkpoints will be saved to") >= 2
    steps = [r["step"] for r in folder.scalars() if "train/loss" in r]
    assert steps == list(range(1, 25))


def test_a_worker_that_cannot_start_says_why_in_the_runs_log(tmp_path):
    """A worker process that exits before it runs anything (here a shadowing, broken
    labbench package on its PYTHONPATH) leaves its error in the log of the run it was
    given, instead of a run that failed with no log at all."""
    shadow = tmp_path / "shadow" / "labbench"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('labbench is broken here')\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text('{"threads": 1}')
    executor = LocalExecutor(threads=1, env={"PYTHONPATH": str(tmp_path / "shadow")}, workers=1)
    run = executor.start(run_dir)
    assert run.wait(timeout=120) != 0
    log = (run_dir / "log.txt").read_text()
    assert "exited with status 1 before it finished this run" in log
    assert "labbench is broken here" in log
    executor.close()
