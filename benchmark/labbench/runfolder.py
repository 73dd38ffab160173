"""The run folder: the one contract between the sweep and a run's worker.

Every file a benchmark run writes lives in its folder and is opened only through
:class:`RunFolder`:

* ``config.py``, ``config.json`` the resolved config (MMEngine and plain JSON);
* ``run.json``       the run's facts (seed, protocol, metric, environment), by the sweep;
* ``progress.json``  iteration, total, elapsed, the worker's host and pid;
* ``scalars.jsonl``  one line per training iteration and per evaluation;
* ``result.json``    ``finished`` with metrics, or ``failed`` with the error;
* ``mlflow.json``    where the run was logged (tracking URI, run ids);
* ``log.txt``        the worker's output;
* ``checkpoint.pth`` the final weights;
* ``work/``          the runner's work dir, holding the last training checkpoint that an
                     interrupted run resumes from;
* ``job.json``       the cluster job running it (executor, job id), when there is one;
* ``slurm/``         submitit's files and the job's logs;
* ``lock``           held by the sweep process that runs it (host and pid inside).

Writes are atomic (a reader never sees half a file), so a sweep may read a folder while
a worker on another machine writes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from labcore.errors import LabError
from labcore.fileio import atomic_write_json, atomic_write_text

# What the sweep writes before a run starts; kept when a run resumes.
PLAN_FILES = ("config.py", "config.json", "run.json")


class RunLockedError(LabError):
    """Another labbench process holds the run's lock."""

    def __init__(self, folder: Path, owner: dict[str, Any]):
        self.owner = owner
        since = owner.get("since")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
        super().__init__(
            f"run {folder} is being run by another labbench process (host "
            f"{owner.get('host', '?')}, pid {owner.get('pid', '?')}, since {when}); it is not "
            "trained twice. Wait for that process to finish, or stop it and run the sweep again."
        )


@dataclass(frozen=True)
class RunFolder:
    """The files of one run in ``path`` (see the module docstring)."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    # -- paths --------------------------------------------------------------------

    @property
    def config_file(self) -> Path:
        return self.path / "config.py"

    @property
    def log_file(self) -> Path:
        return self.path / "log.txt"

    @property
    def weights_file(self) -> Path:
        """The final weights, written when the run finished."""
        return self.path / "checkpoint.pth"

    @property
    def work_dir(self) -> Path:
        """The runner's work dir (training checkpoints, MMEngine's logs)."""
        return self.path / "work"

    @property
    def slurm_dir(self) -> Path:
        """submitit's folder for the run's cluster jobs (pickles, stdout, stderr)."""
        return self.path / "slurm"

    @property
    def artifacts(self) -> list[Path]:
        """The files MLflow keeps of the run, those that exist."""
        names = ("config.py", "log.txt", "result.json", "scalars.jsonl", "checkpoint.pth")
        return [self.path / n for n in names if (self.path / n).exists()]

    def exists(self) -> bool:
        return (self.path / "run.json").exists()

    # -- JSON files ---------------------------------------------------------------

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / name).read_text())
        except (OSError, ValueError):
            return None

    def record(self) -> dict[str, Any]:
        """``run.json``: what the sweep planned (raises when the folder has none)."""
        record = self._read("run.json")
        if record is None:
            raise LabError(f"{self.path} holds no run.json; it is not a labbench run folder.")
        return record

    def config(self) -> dict[str, Any]:
        """The resolved config as plain JSON."""
        return json.loads((self.path / "config.json").read_text())

    def result(self) -> dict[str, Any] | None:
        """``result.json``, or None while the run has none."""
        return self._read("result.json")

    def write_result(self, result: dict[str, Any]) -> None:
        atomic_write_json(self.path / "result.json", result)

    def clear_result(self) -> None:
        (self.path / "result.json").unlink(missing_ok=True)

    def is_finished(self) -> bool:
        result = self.result()
        return bool(result) and result.get("status") == "finished"

    def progress(self) -> dict[str, Any] | None:
        return self._read("progress.json")

    def write_progress(self, iteration: int, max_iters: int, elapsed: float) -> None:
        atomic_write_json(
            self.path / "progress.json",
            {
                "iter": iteration,
                "max_iters": max_iters,
                "elapsed": elapsed,
                "host": socket.gethostname(),
                "pid": os.getpid(),
            },
        )

    def logged(self) -> dict[str, Any] | None:
        """Where the run was logged to MLflow (``tracking_uri``, ``run_id``,
        ``parent_run_id``), or None when it was not."""
        return self._read("mlflow.json")

    def write_logged(self, tracking_uri: str, run_id: str, parent_run_id: str | None) -> None:
        atomic_write_json(
            self.path / "mlflow.json",
            {"tracking_uri": tracking_uri, "run_id": run_id, "parent_run_id": parent_run_id},
        )

    def job(self) -> dict[str, Any] | None:
        """The cluster job that runs it (``executor``, ``job_id``, ``submitted``)."""
        return self._read("job.json")

    def write_job(self, executor: str, job_id: str) -> None:
        atomic_write_json(
            self.path / "job.json",
            {"executor": executor, "job_id": str(job_id), "submitted": time.time()},
        )

    # -- scalars and log ------------------------------------------------------------

    def scalars(self) -> list[dict[str, Any]]:
        """The per-iteration and per-evaluation records (``scalars.jsonl``)."""
        path = self.path / "scalars.jsonl"
        if not path.exists():
            return []
        records = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line cut by a kill
                records.append(json.loads(line))
        return records

    def open_scalars(self, *, after_step: int = 0) -> IO[str]:
        """``scalars.jsonl`` opened for appending, with the records past ``after_step``
        removed first: a run resumed from the checkpoint of iteration N writes N+1 on,
        so every step is recorded once."""
        path = self.path / "scalars.jsonl"
        kept = [r for r in self.scalars() if int(r.get("step", 0)) <= after_step]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
        return open(path, "a")  # noqa: SIM115 - the caller closes it

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log_file.exists():
            return ""
        return self.log_file.read_text(errors="replace")[-chars:]

    # -- checkpoints ------------------------------------------------------------------

    def last_checkpoint(self) -> Path | None:
        """The training checkpoint a resumed run starts from (MMEngine's
        ``work/last_checkpoint`` pointer), or None."""
        pointer = self.work_dir / "last_checkpoint"
        if not pointer.exists():
            return None
        path = Path(pointer.read_text().strip())
        return path if path.exists() else None

    # -- life cycle -------------------------------------------------------------------

    def prepare(self, config_py: str, config: dict[str, Any], record: dict[str, Any]) -> None:
        """Write the plan's files. A folder that holds an unfinished run keeps its
        checkpoints, scalars and log, so the run resumes where it stopped; its old
        result is removed."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_file, config_py)
        atomic_write_json(self.path / "config.json", config, indent=1)
        atomic_write_json(self.path / "run.json", record)
        self.clear_result()

    def reset(self) -> None:
        """Remove everything the run wrote (``--rerun``), except the lock file."""
        if not self.path.exists():
            return
        for child in self.path.iterdir():
            if child.name == "lock":
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    def state(self) -> str:
        """``finished``, ``failed``, ``running`` (a worker wrote progress and the lock is
        held), ``interrupted`` (progress but no lock or result), ``queued`` (planned, not
        started) or ``new`` (no folder)."""
        result = self.result()
        if result is not None:
            return "finished" if result.get("status") == "finished" else "failed"
        if not self.exists():
            return "new"
        if self.lock_owner() is not None:
            return "running" if self.progress() else "queued"
        return "interrupted" if self.progress() else "queued"

    # -- the lock -----------------------------------------------------------------------

    def lock_owner(self) -> dict[str, Any] | None:
        """Host and pid of the process holding the lock, or None when it is free."""
        path = self.path / "lock"
        if not path.exists():
            return None
        with open(path, "a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                try:
                    return json.loads(f.read() or "{}")
                except ValueError:
                    return {}
            fcntl.flock(f, fcntl.LOCK_UN)
        return None

    @contextlib.contextmanager
    def locked(self) -> Iterator[RunFolder]:
        """Hold the run's lock; raises :class:`RunLockedError` naming the holder's host
        and pid when another process holds it. The kernel frees it when the holder dies."""
        handle = self.acquire()
        try:
            yield self
        finally:
            self.release(handle)

    def acquire(self) -> IO[str]:
        """Take the lock (see :meth:`locked`); pass the returned handle to :meth:`release`."""
        self.path.mkdir(parents=True, exist_ok=True)
        f = open(self.path / "lock", "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            text = f.read()
            f.close()
            try:
                owner = json.loads(text or "{}")
            except ValueError:
                owner = {}
            raise RunLockedError(self.path, owner) from None
        f.seek(0)
        f.truncate()
        f.write(
            json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()})
        )
        f.flush()
        return f

    @staticmethod
    def release(handle: IO[str]) -> None:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def run_folders(work_dir: Path) -> list[RunFolder]:
    """Every training run folder of a work dir (dry runs excluded) that holds a result,
    in path order."""
    runs = Path(work_dir) / "runs"
    found = sorted(p.parent for p in runs.glob("*/*/*/result.json"))
    return [
        RunFolder(p) for p in found if p.parent.parent.parent == runs and (p / "run.json").exists()
    ]
