"""The local executor's worker processes: each a ``python -m labbench.worker --serve``
that runs one run after another (:class:`WorkerProcess`), and the handle of one run in
it (:class:`WorkerRun`), which :class:`labbench.executor.LocalExecutor` returns as it
returns a ``Popen`` for a run in a process of its own."""

from __future__ import annotations

import collections
import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path

from labbench.runfolder import RunFolder


class WorkerProcess:
    """A ``python -m labbench.worker --serve`` process: it is given a run folder on its
    standard input, runs it, and answers the exit status on its standard output.
    Between runs it is idle; one that exited or did not finish its run is not reused."""

    def __init__(self, env: dict[str, str], key: tuple = ()) -> None:
        self.key = key  # what the executor matches a run's environment against
        self.process = subprocess.Popen(
            [sys.executable, "-m", "labbench.worker", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # a run's output goes to its own log.txt; what the worker prints outside a run
            # (an import that fails as it starts) is kept for the run it could not finish
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        self.current: WorkerRun | None = None
        self.retired = False
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self._reader = threading.Thread(target=self._read_replies, daemon=True)
        self._reader.start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr_tail.append(line)

    def _read_replies(self) -> None:
        for line in self.process.stdout:
            status, run = int(line), self.current
            if status != 0:
                self.retired = True
            self.current = None  # idle before the run is seen to end
            if run is not None:
                run.status = status

    def alive(self) -> bool:
        return self.process.poll() is None

    def idle(self) -> bool:
        return self.alive() and self.current is None and not self.retired

    def submit(self, run_dir: Path) -> WorkerRun:
        run = WorkerRun(self, run_dir)
        self.current = run
        self.process.stdin.write(f"{run_dir}\n")
        self.process.stdin.flush()
        return run

    def close(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(OSError):  # it has already exited
                self.process.stdin.close()


class WorkerRun:
    """The handle of one run in a :class:`WorkerProcess`, as a ``Popen`` is for a run in
    a process of its own: ``poll()``, ``wait()``, ``terminate()``."""

    def __init__(self, worker: WorkerProcess, run_dir: Path) -> None:
        self.worker = worker
        self.run_dir = Path(run_dir)
        self.status: int | None = None

    def poll(self) -> int | None:
        if self.status is not None:
            return self.status
        code = self.worker.process.poll()
        if code is None:
            return None
        self.worker._reader.join(timeout=5)  # a reply written just before it exited
        if self.status is None:
            self.status = code if code != 0 else 1  # ended without answering
            self._keep_worker_output(code)
        return self.status

    def _keep_worker_output(self, code: int) -> None:
        """Append to the run's log what its worker printed outside the run before it
        exited (status ``code``) without answering: why it could not run it."""
        time.sleep(0.2)  # the last lines of the pipe
        tail = "".join(self.worker.stderr_tail)
        with contextlib.suppress(OSError), open(RunFolder(self.run_dir).log_file, "a") as log:
            log.write(
                f"\nlabbench.worker --serve (pid {self.worker.process.pid}) exited with "
                f"status {code} before it finished this run. What it printed outside runs:\n"
                f"{tail or '(nothing)'}\n"
            )

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("labbench.worker --serve", timeout)
            time.sleep(0.05)
        return self.status

    def terminate(self) -> None:
        """Stop the run: its worker process is stopped with it."""
        if self.status is None:
            self.worker.retired = True
            self.worker.process.terminate()
