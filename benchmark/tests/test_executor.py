"""Executors: the worker command line and how CPU threads are split."""

from __future__ import annotations

import sys
from pathlib import Path

from labbench.executor import LocalExecutor, TorchrunExecutor, make_executor


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
