"""The process that sends one training run's records to MLflow.

Importing MLflow and opening a sqlite store take about 3 s of one core, which a
training process would otherwise pay before its first iteration. ``LabMLflowVisBackend``
(:mod:`labcore.engine.mlflow_backend`) starts this module as a child process
(``python -m labcore.tracking.mlflow_sender``) and writes it one JSON line per record;
the child imports MLflow, creates the run and makes the calls while the parent trains.

Lines the parent writes to the child's stdin:

- first, ``{"op": "start", "tracking_uri", "spec", "save_dir", "work_dir", "argv"}``:
  where to track, the run to create (``experiment``, ``run_name``, ``tags``,
  ``parent_run_id``, ``artifact_location``, as :func:`~labcore.tracking.mlflow_outbox.create_run`
  takes), the backend's folder (whose ``mlflow_outbox`` keeps records during an outage),
  the work dir to name in messages, and the parent's ``sys.argv`` (MLflow's source tags);
- then records, as :func:`~labcore.tracking.mlflow_outbox.execute` takes, and
  ``{"op": "image", "file_name", "png"}`` (base64 PNG bytes, logged under ``images/``);
- last, ``{"op": "close", "work_dir"}``; the end of stdin without it (the parent died)
  sends what arrived and exits too.

Lines the child writes back on its stdout, one JSON object each:

- ``{"event": "started", "run_id"}`` once the run exists (``run_id`` None: the server was
  unreachable and the run will be created when it is back);
- ``{"event": "log", "level", "message"}``: a warning for the run's log;
- ``{"event": "outbox", "folder"}``: the outbox in use, None once it was sent;
- ``{"event": "closed", "run_id", "outbox"}`` before it exits.

When the server cannot be reached, training goes on: one warning says so, every later
record is kept in the outbox, a thread retries every ``OPENLAB_MLFLOW_RETRY_INTERVAL``
seconds (default 30) and sends what was kept once the server is back, and closing tries
once more. What is still not sent then is sent later by ``lab sync WORK_DIR``.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from labcore.tracking.mlflow_outbox import OUTBOX_DIR, MlflowOutbox, create_run, execute, is_outage
from labcore.tracking.mlflow_store import prepare_store

WARNING = 30


def retry_interval() -> float:
    """Seconds between two attempts to reach an unreachable tracking server:
    ``$OPENLAB_MLFLOW_RETRY_INTERVAL``, default 30."""
    return float(os.environ.get("OPENLAB_MLFLOW_RETRY_INTERVAL", "30"))


class MlflowSender:
    """Sends one run's records to MLflow, or keeps them in an outbox during an outage.

    Args:
        start: the ``start`` line (see the module docstring).
        emit: called with each event for the parent.
    """

    def __init__(self, start: dict[str, Any], emit) -> None:
        import mlflow
        from mlflow.tracking.context.registry import resolve_tags

        self.emit = emit
        self.tracking_uri = start["tracking_uri"]
        self.save_dir = Path(start["save_dir"])
        self.work_dir = start["work_dir"]
        self.outbox: MlflowOutbox | None = None
        self.run_id: str | None = None
        self._lock = threading.RLock()
        self._stop_retrying = threading.Event()
        self._retry_thread: threading.Thread | None = None

        self.save_dir.mkdir(parents=True, exist_ok=True)
        prepare_store(self.tracking_uri)  # a new sqlite store from the migrated template
        self.client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        argv, sys.argv = sys.argv, list(start["argv"])  # MLflow's source tags: the parent's
        try:
            tags = {k: str(v) for k, v in resolve_tags(start["spec"]["tags"] or {}).items()}
        finally:
            sys.argv = argv
        self.spec = {**start["spec"], "tags": tags}
        with self._lock:
            try:
                self.run_id = create_run(self.client, self.spec)
            except Exception as err:
                if not is_outage(err):
                    raise
                self._go_offline(err)
        self.emit({"event": "started", "run_id": self.run_id})

    def submit(self, record: dict[str, Any]) -> None:
        """Send ``record`` at once while the server answers; keep it in the outbox (in
        order) from the first outage until the outbox is empty. A record the server
        refuses is skipped with a warning."""
        if record["op"] != "image":
            self._send(record, lambda: execute(self.client, self.run_id, record), lambda: record)
            return
        data = base64.b64decode(record["png"])

        def log_image() -> None:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / record["file_name"]
                path.write_bytes(data)
                self.client.log_artifact(self.run_id, str(path), "images")

        def kept() -> dict[str, Any]:
            path = self.outbox.keep_file(record["file_name"], data)
            return dict(op="artifact", path=str(path), artifact_path="images")

        self._send(record, log_image, kept)

    def _send(self, record: dict[str, Any], call, kept) -> None:
        """``call()`` while the server answers, else the outbox gets ``kept()``."""
        with self._lock:
            if self.outbox is None:
                try:
                    call()
                    return
                except Exception as err:
                    if not is_outage(err):
                        self._warn_refused(record, err)
                        return
                    self._go_offline(err)
            self.outbox.append(kept())

    def _go_offline(self, err: BaseException) -> None:
        """Start keeping records in the outbox and retrying in the background; say so once."""
        self.outbox = MlflowOutbox.create(
            self.save_dir / OUTBOX_DIR,
            tracking_uri=self.tracking_uri,
            run_id=self.run_id,
            **self.spec,
        )
        self.emit({"event": "outbox", "folder": str(self.outbox.folder)})
        self._log(
            f"MLflow tracking server {self.tracking_uri} is unreachable "
            f"({_first_line(err)}). Training goes on; what it logs is kept in "
            f"{self.outbox.folder} and sent when the server is back (retried every "
            f"{retry_interval():g} s), at the end of the run, or later by "
            f"`lab sync {self.work_dir}`."
        )
        self._stop_retrying.clear()
        self._retry_thread = threading.Thread(
            target=self._retry_until_sent, name="mlflow-outbox", daemon=True
        )
        self._retry_thread.start()

    def _retry_until_sent(self) -> None:
        while not self._stop_retrying.wait(retry_interval()):
            if self._flush_outbox():
                return

    def _flush_outbox(self) -> bool:
        """Send the outbox; True (and back to sending directly) when it is empty."""
        outbox = self.outbox
        try:
            outbox.send(self.client, on_refused=self._warn_refused)
        except Exception as err:
            if not is_outage(err):
                self._log(f"MLflow outbox {outbox.folder}: {err!r}")
            return False
        with self._lock:
            if outbox.pending():  # records added while sending: send them next time
                return False
            self.run_id = outbox.run["run_id"]
            count = len(outbox.records())
            outbox.remove()
            self.outbox = None
        self.emit({"event": "outbox", "folder": None, "run_id": self.run_id})
        self._log(
            f"MLflow tracking server {self.tracking_uri} is reachable again: sent the "
            f"{count} records kept while it was not."
        )
        return True

    def close(self, work_dir: str | None = None) -> None:
        """After an outage, send the outbox once more; when the server is still away,
        one warning names the outbox and ``lab sync``."""
        if self.outbox is not None:
            self._stop_retrying.set()
            if self._retry_thread is not None:
                self._retry_thread.join()
            if self.outbox is not None and not self._flush_outbox():
                self._log(
                    f"MLflow tracking server {self.tracking_uri} is still unreachable: "
                    f"{self.outbox.pending()} records of this run are kept in "
                    f"{self.outbox.folder}. Send them when it is back with "
                    f"`lab sync {work_dir or self.work_dir}`."
                )
        outbox = str(self.outbox.folder) if self.outbox is not None else None
        self.emit({"event": "closed", "run_id": self.run_id, "outbox": outbox})

    def _warn_refused(self, record: dict[str, Any], err: BaseException) -> None:
        self._log(f"MLflow refused a {record['op']} record and it was skipped: {_first_line(err)}")

    def _log(self, message: str, level: int = WARNING) -> None:
        self.emit({"event": "log", "level": level, "message": message})


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def _read_lines(stream: IO[str], inbox: queue.Queue) -> None:
    """Put every JSON line of ``stream`` in ``inbox``, then None at its end; read at
    once, so the parent never waits on a full pipe while MLflow loads."""
    for line in stream:
        if line.strip():
            inbox.put(json.loads(line))
    inbox.put(None)


def main() -> int:
    # Ctrl-C reaches the whole process group: the parent stops training and closes
    # the run, which this process then still has to send.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # what MLflow prints goes to stderr
    lock = threading.Lock()

    def emit(event: dict[str, Any]) -> None:
        with lock:
            events.write(json.dumps(event) + "\n")

    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(sys.stdin, inbox), daemon=True).start()
    start = inbox.get()
    if start is None:
        return 0
    sender = MlflowSender(start, emit)
    while True:
        record = inbox.get()
        if record is None or record["op"] == "close":
            sender.close(record and record.get("work_dir"))
            return 0
        sender.submit(record)


if __name__ == "__main__":
    sys.exit(main())
