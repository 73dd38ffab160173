"""Executors start a run's worker and report when it ends.

* :class:`LocalExecutor` (``--executor local``, the default): worker processes on this
  machine, a few runs at a time. A worker process runs one run after another
  (:class:`~labbench.worker_pool.WorkerProcess`, ``python -m labbench.worker
  --serve``), so the sweep pays the start-up (importing torch, MMEngine and the
  codebases) once per worker rather than once per run; ``--process-per-run`` starts a
  new process for every run instead.
* :class:`TorchrunExecutor` (``--executor torchrun`` or ``--devices N``): ``torchrun``
  with one process per device on this machine.
* :class:`SubmititExecutor` (``--executor slurm``): Slurm jobs through submitit, the ready
  runs of a sweep submitted as one job array; inside a job, torchrun starts one process
  per GPU (and per node). A job that is preempted or reaches its time limit is requeued
  by submitit's checkpointing, and the worker resumes from the run's last checkpoint.
  ``cluster="local"`` uses submitit's local executor (tests, a workstation).

Every executor returns, for each run, a handle with ``poll()`` (the exit status once the
worker ended, else None), ``terminate()`` and ``wait()``. The worker's output goes to the
run folder's ``log.txt`` whatever the executor.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from labbench.runfolder import RunFolder
from labbench.worker_pool import WorkerProcess
from labcore.errors import ConfigError

EXECUTORS = ("local", "torchrun", "slurm")
# longer than Slurm's KillWait between the SIGTERM and the SIGKILL of a stopped job
SLURM_KILL_WAIT_S = 120


def worker_command(run_dir: Path | str) -> list[str]:
    """The command line that runs the worker of ``run_dir`` in one process."""
    return [sys.executable, "-m", "labbench.worker", str(run_dir)]


def torchrun_command(
    run_dir: Path | str,
    *,
    nproc_per_node: int,
    nnodes: int = 1,
    node_rank: int = 0,
    master: str | None = None,
    port: int = 29500,
) -> list[str]:
    """``torchrun`` for ``nproc_per_node`` workers on each of ``nnodes`` machines
    (``master``: the first machine's host name when ``nnodes > 1``)."""
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc_per_node}"]
    if nnodes > 1:
        command += [
            f"--nnodes={nnodes}",
            f"--node-rank={node_rank}",
            f"--master-addr={master}",
            f"--master-port={port}",
        ]
    else:
        command.append("--standalone")
    return [*command, "-m", "labbench.worker", str(run_dir)]


def thread_environment(threads: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``threads`` CPU threads per worker process."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


class Executor:
    """Starts workers on this machine. ``threads`` is the CPU thread count each run may
    use; ``workers`` how many runs the sweep keeps going at once."""

    launcher = "none"
    name = "local"
    batches = False  # True: the sweep hands over every ready run at once (a job array)

    def __init__(self, *, threads: int = 1, env: dict[str, str] | None = None, workers: int = 1):
        self.threads = max(1, threads)
        self.extra_env = dict(env or {})
        self.workers = max(1, workers)

    def command(self, run_dir: Path) -> list[str]:
        """The command line that runs the worker for ``run_dir``."""
        return worker_command(run_dir)

    def environment(self) -> dict[str, str]:
        return thread_environment(self.threads, self.extra_env)

    def start(self, run_dir: Path) -> subprocess.Popen:
        """Start the worker; its output goes to ``run_dir/log.txt``."""
        log = open(RunFolder(run_dir).log_file, "ab")  # noqa: SIM115 - closed below
        try:
            return subprocess.Popen(
                self.command(run_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
            )
        finally:
            log.close()  # the child holds its own descriptor

    def start_all(self, run_dirs: Sequence[Path]) -> list:
        """Start several runs; one handle per run, in order."""
        return [self.start(run_dir) for run_dir in run_dirs]

    def close(self) -> None:
        """Release what the executor keeps between runs (nothing, unless it says so)."""

    def attach(self, folder: RunFolder):
        """The handle of a job that an earlier sweep started and that still runs, else
        None (local workers end with the sweep that started them)."""
        return None

    @staticmethod
    def poll(process) -> int | None:
        """The exit status when the worker has ended, else None."""
        return process.poll()


class LocalExecutor(Executor):
    """Runs on this machine, in worker processes that each run one run after another
    (``reuse_processes``, the default), or in a new process per run.

    A worker is kept for the environment it was started with (threads, CPU pins, the
    sweep's variables): a run whose environment differs gets a worker of its own. After
    a run that did not finish, the worker is retired and the next run gets a new one. At
    most ``workers`` processes are kept: an idle worker of another environment is stopped
    to make room.
    """

    def __init__(self, *, reuse_processes: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reuse_processes = reuse_processes
        self.pool: list[WorkerProcess] = []

    def run_environment(self, run_dir: Path) -> tuple[dict[str, str], tuple]:
        """The environment of the process that runs ``run_dir`` (the executor's, with the
        run's CPU pins, which must be set before torch is imported), and what tells it
        apart from another run's: threads, the sweep's variables, the pins. (The rest of
        this process's environment is the same for every run; MLflow adds variables of
        its own to it while the sweep logs.)"""
        from labbench.worker import run_cpu_pins

        env = self.environment()
        pins = run_cpu_pins(RunFolder(run_dir).record())
        pinned = pins.variables() if pins is not None else {}
        key = (self.threads, tuple(sorted(self.extra_env.items())), tuple(sorted(pinned.items())))
        return {**env, **pinned}, key

    def start(self, run_dir: Path):
        if not self.reuse_processes:
            return super().start(run_dir)
        env, key = self.run_environment(run_dir)
        for spent in [w for w in self.pool if w.retired and w.current is None]:
            spent.close()  # a retired worker's input ends: it exits
        self.pool = [w for w in self.pool if w.alive() and not (w.retired and w.current is None)]
        worker = next((w for w in self.pool if w.idle() and w.key == key), None)
        if worker is None:
            idle = [w for w in self.pool if w.idle()]
            for extra in idle[: max(0, len(self.pool) + 1 - self.workers)]:
                extra.close()
                self.pool.remove(extra)
            worker = WorkerProcess(env, key)
            self.pool.append(worker)
        return worker.submit(run_dir)

    def close(self) -> None:
        """Stop the idle workers (each exits once its input ends)."""
        for worker in self.pool:
            worker.close()
        self.pool = []


class TorchrunExecutor(Executor):
    """``torchrun --nproc-per-node N`` on this machine: one worker per device, launcher
    ``pytorch``."""

    launcher = "pytorch"
    name = "torchrun"

    def __init__(
        self,
        *,
        devices: int,
        threads: int = 1,
        env: dict[str, str] | None = None,
        workers: int = 1,
    ):
        super().__init__(threads=threads, env=env, workers=workers)
        self.devices = devices

    def command(self, run_dir: Path) -> list[str]:
        return torchrun_command(run_dir, nproc_per_node=self.devices)


# -- Slurm through submitit ----------------------------------------------------------


@dataclass
class ClusterOptions:
    """Where and how Slurm runs the jobs (``--partition ...`` or ``--cluster FILE.yaml``).

    ``time`` is the job's limit as ``HH:MM`` (or minutes); a run longer than that is
    requeued and resumes from its last checkpoint.
    """

    partition: str | None = None
    gpus_per_node: int = 0
    nodes: int = 1
    time: str = "01:00"
    array_parallelism: int = 64
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    max_requeues: int = 20

    @property
    def minutes(self) -> float:
        text = str(self.time)
        try:
            if ":" in text:
                hours, minutes = text.split(":", 1)
                return int(hours) * 60 + int(minutes)
            return float(text)
        except ValueError as err:
            raise ConfigError(
                f"--time {text!r} is not HH:MM or a number of minutes, e.g. --time 04:00"
            ) from err

    @classmethod
    def from_yaml(cls, path: Path, **overrides: Any) -> ClusterOptions:
        """Options from a YAML file of the same keys (``partition: gpu``, ...), with
        ``overrides`` (the command line's, None ones ignored) on top."""
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as err:
            raise ConfigError(f"--cluster {path}: cannot read it ({err}).") from err
        if not isinstance(raw, dict):
            raise ConfigError(f"--cluster {path} is not a YAML mapping of Slurm options.")
        known = {f.name for f in fields(cls)}
        raw = {k.replace("-", "_"): v for k, v in raw.items()}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                f"--cluster {path}: unknown keys {unknown}; known: {', '.join(sorted(known))}."
            )
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**raw)

    def submitit_parameters(self) -> dict[str, Any]:
        """``AutoExecutor.update_parameters`` keywords."""
        tasks = 1  # one task per node: torchrun starts the processes of each node
        parameters: dict[str, Any] = {
            "timeout_min": max(1, math.ceil(self.minutes)),
            "nodes": self.nodes,
            "tasks_per_node": tasks,
            "slurm_array_parallelism": self.array_parallelism,
        }
        if self.gpus_per_node:
            parameters["gpus_per_node"] = self.gpus_per_node
        if self.cpus_per_task:
            parameters["cpus_per_task"] = self.cpus_per_task
        for key in ("partition", "account", "qos", "constraint", "mem"):
            value = getattr(self, key)
            if value:
                parameters[f"slurm_{key}"] = value
        return parameters

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class WorkerJob:
    """What one Slurm job (or submitit local job) runs: the worker of one run folder,
    under torchrun when the job has several GPUs or nodes. Resubmitted as it is when
    the job is preempted or times out (submitit's checkpointing), and the worker resumes
    from the run's last checkpoint."""

    def __init__(self, run_dir: Path, *, threads: int, env: dict[str, str], gpus_per_node: int):
        self.run_dir = Path(run_dir)
        self.threads = threads
        self.env = dict(env)
        self.gpus_per_node = gpus_per_node

    def command(self) -> list[str]:
        import submitit

        nodes, node_rank, master = 1, 0, None
        try:
            job = submitit.JobEnvironment()
            nodes, node_rank = job.num_nodes, job.node
            master = job.hostnames[0] if job.hostnames else None
        except RuntimeError:  # not inside a submitit job (called directly)
            pass
        if self.gpus_per_node > 1 or nodes > 1:
            return torchrun_command(
                self.run_dir,
                nproc_per_node=max(1, self.gpus_per_node),
                nnodes=nodes,
                node_rank=node_rank,
                master=master,
            )
        return worker_command(self.run_dir)

    def __call__(self) -> int:
        env = thread_environment(self.threads, self.env)
        folder = RunFolder(self.run_dir)
        with open(folder.log_file, "ab") as log:
            self._child = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env
            )
            status = self._child.wait()
        if status < 0 and folder.result() is None and "SLURM_JOB_ID" in os.environ:
            # Slurm stopped the job (requeue, preemption, cancel) and kills this process
            # next: no result is written, so a requeued job runs again and resumes.
            time.sleep(SLURM_KILL_WAIT_S)
        return status

    def checkpoint(self, *args: Any, **kwargs: Any):
        """Called by submitit on preemption or timeout: stop the worker and run the same
        job again; the worker resumes from the run's last checkpoint."""
        import submitit

        child = getattr(self, "_child", None)
        if child is not None:
            # Its last checkpoint is on disk; nothing else is lost. No wait(): this runs in
            # a signal handler that interrupted the wait() of __call__.
            child.kill()
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_child"}


class SubmittedRun:
    """The handle of one submitit job (see :class:`Executor`)."""

    def __init__(self, job, cluster: str):
        self.job = job
        self.cluster = cluster

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)

    def scheduler_state(self) -> str:
        """Slurm's state of the job (``PENDING``, ``RUNNING``, ...; ``ENDED`` once it has
        left the queue); submitit's for a local job."""
        if self.cluster != "slurm":
            return "ENDED" if self.job.done() else "RUNNING"
        for attempt in range(2):  # a requeued job may be missing from one listing
            found = subprocess.run(
                ["squeue", "-h", "-j", self.job_id, "-o", "%T"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            if found:
                return found[0]
            if attempt == 0:
                time.sleep(2.0)
        return "ENDED"

    def poll(self) -> int | None:
        if self.job.paths.result_pickle.exists():
            return self._exit_status()
        if self.scheduler_state() != "ENDED":
            return None
        if self.cluster != "slurm":
            return self._exit_status()
        # left the queue: its result pickle may lag on a shared file system
        return self._exit_status() if self.job.paths.result_pickle.exists() else 1

    def _exit_status(self) -> int:
        try:
            return int(self.job.result())
        except Exception:  # killed, or failed outside the worker: the log tail tells
            return 1

    def terminate(self) -> None:
        self.job.cancel(check=False)

    def wait(self) -> int | None:
        return None  # a cancelled Slurm job ends on its own


class SubmititExecutor(Executor):
    """Slurm jobs through submitit, or submitit's local executor (``cluster='local'``).

    The sweep hands over every ready run at once; they are submitted as one job array
    whose files (submitit's pickles, the job's stdout and stderr) go to
    ``<work dir>/slurm``; each run's ``job.json`` names its job, and ``log.txt`` in the
    run folder holds the worker's output.
    """

    batches = True
    name = "slurm"

    def __init__(
        self,
        work_dir: Path,
        options: ClusterOptions,
        *,
        cluster: str = "slurm",
        threads: int = 1,
        env: dict[str, str] | None = None,
    ):
        super().__init__(threads=threads, env=env, workers=1 << 30)
        if cluster == "slurm" and shutil.which("sbatch") is None:
            raise ConfigError(
                "--executor slurm needs the Slurm commands (sbatch, squeue, scontrol) on "
                "PATH; run labbench on a login node of the cluster, or use --executor local."
            )
        self.work_dir = Path(work_dir)
        self.options = options
        self.cluster = self.name = cluster
        gpus = options.gpus_per_node
        self.launcher = "pytorch" if gpus > 1 or options.nodes > 1 else "none"

    @property
    def folder(self) -> Path:
        return self.work_dir / "slurm" / "%j"

    def _executor(self):
        import submitit

        if self.cluster == "slurm":
            executor = submitit.AutoExecutor(
                folder=str(self.folder),
                cluster="slurm",
                slurm_max_num_timeout=self.options.max_requeues,
            )
            executor.update_parameters(name="labbench", **self.options.submitit_parameters())
            return executor
        executor = submitit.LocalExecutor(folder=str(self.folder))
        executor.update_parameters(timeout_min=self.options.minutes, tasks_per_node=1, nodes=1)
        return executor

    def _job(self, run_dir: Path) -> WorkerJob:
        return WorkerJob(
            run_dir,
            threads=self.threads,
            env=self.extra_env,
            gpus_per_node=self.options.gpus_per_node,
        )

    def start(self, run_dir: Path) -> SubmittedRun:
        return self.start_all([run_dir])[0]

    def start_all(self, run_dirs: Sequence[Path]) -> list[SubmittedRun]:
        if not run_dirs:
            return []
        executor = self._executor()
        with executor.batch():
            jobs = [executor.submit(self._job(run_dir)) for run_dir in run_dirs]
        handles = []
        for run_dir, job in zip(run_dirs, jobs):
            RunFolder(run_dir).write_job(self.cluster, job.job_id)
            handles.append(SubmittedRun(job, self.cluster))
        return handles

    def attach(self, folder: RunFolder) -> SubmittedRun | None:
        """The job an earlier sweep submitted for ``folder``, while Slurm still has it."""
        job = folder.job()
        if not job or job.get("executor") != "slurm" or self.cluster != "slurm":
            return None
        import submitit

        handle = SubmittedRun(
            submitit.SlurmJob(folder=str(self.folder), job_id=job["job_id"]), "slurm"
        )
        return handle if handle.scheduler_state() != "ENDED" else None

    @staticmethod
    def poll(process) -> int | None:
        return process.poll()


def make_executor(
    *,
    devices: int,
    workers: int,
    cpus: int | None = None,
    kind: str = "local",
    work_dir: Path | None = None,
    options: ClusterOptions | None = None,
    reuse_processes: bool = True,
) -> Executor:
    """The executor of ``kind`` (``local``, ``torchrun``, ``slurm``). On this machine the
    CPU threads are split evenly between the processes that run at once; a Slurm job
    uses its ``cpus_per_task`` (default 1 thread)."""
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown --executor {kind!r}; choose one of {', '.join(EXECUTORS)}.")
    if kind == "slurm":
        options = options or ClusterOptions()
        return SubmititExecutor(Path(work_dir or "."), options, threads=options.cpus_per_task or 1)
    cpus = cpus or os.cpu_count() or 1
    threads = max(1, cpus // max(1, workers * devices))
    if devices > 1 or kind == "torchrun":
        return TorchrunExecutor(devices=max(1, devices), threads=threads, workers=workers)
    return LocalExecutor(threads=threads, workers=workers, reuse_processes=reuse_processes)
