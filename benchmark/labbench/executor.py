"""Executors start a run's worker process; a cluster executor plugs in here.

An executor turns a run folder into a running :mod:`labbench.worker` process and
reports when it ends. :class:`LocalExecutor` starts one process on this machine;
:class:`TorchrunExecutor` starts ``torchrun`` with one process per device. A Slurm or
Kubernetes executor implements the same two methods, ``start`` and ``poll``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


class Executor:
    """Starts workers. ``threads`` is the CPU thread count each run may use."""

    launcher = "none"

    def __init__(self, *, threads: int = 1, env: dict[str, str] | None = None):
        self.threads = max(1, threads)
        self.extra_env = dict(env or {})

    def command(self, run_dir: Path) -> list[str]:
        """The command line that runs the worker for ``run_dir``."""
        return [sys.executable, "-m", "labbench.worker", str(run_dir)]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            OMP_NUM_THREADS=str(self.threads),
            MKL_NUM_THREADS=str(self.threads),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, run_dir: Path) -> subprocess.Popen:
        """Start the worker; its output goes to ``run_dir/log.txt``."""
        log = open(run_dir / "log.txt", "ab")  # noqa: SIM115 - closed with the process
        try:
            return subprocess.Popen(
                self.command(run_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
            )
        finally:
            log.close()  # the child holds its own descriptor

    @staticmethod
    def poll(process: subprocess.Popen) -> int | None:
        """The exit status when the worker has ended, else None."""
        return process.poll()


class LocalExecutor(Executor):
    """One worker process on this machine."""


class TorchrunExecutor(Executor):
    """``torchrun --nproc-per-node N`` on this machine: one worker per device, launcher
    ``pytorch``. Extend :meth:`command` (``--nnodes``, ``--rdzv-endpoint``) for several
    machines."""

    launcher = "pytorch"

    def __init__(self, *, devices: int, threads: int = 1, env: dict[str, str] | None = None):
        super().__init__(threads=threads, env=env)
        self.devices = devices

    def command(self, run_dir: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={self.devices}",
            "-m",
            "labbench.worker",
            str(run_dir),
        ]


def make_executor(*, devices: int, workers: int, cpus: int | None = None) -> Executor:
    """The executor for ``devices`` per run and ``workers`` runs at a time; the CPU threads
    are split evenly between the processes that run at once."""
    cpus = cpus or os.cpu_count() or 1
    threads = max(1, cpus // max(1, workers * devices))
    if devices > 1:
        return TorchrunExecutor(devices=devices, threads=threads)
    return LocalExecutor(threads=threads)
