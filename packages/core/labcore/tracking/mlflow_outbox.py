"""What a run could not send to MLflow, kept on disk until the server takes it.

An outbox is a folder ``<backend folder>/mlflow_outbox`` inside the run's work dir:

- ``run.json``: the run it belongs to (tracking URI, experiment, run name, tags, parent
  run), its MLflow run id once the server created it, and how many records have been
  sent;
- ``records.jsonl``: one JSON record per MLflow call, in the order the run made them:
  ``params``, ``metrics`` (with step and timestamp), ``text``, ``artifact`` (a file of the
  work dir, or a PNG kept in ``files/``) and ``end`` (the run's final status);
- ``files/``: images logged while the server was away.

:meth:`MlflowOutbox.send` replays the records after the last one sent, creating the run
first when the server was away when it started; the counter in ``run.json`` is updated
after each record, so sending again (``lab sync WORK_DIR``) sends only what is left.
An outbox whose records were all sent is deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from labcore.fileio import atomic_write_json

OUTBOX_DIR = "mlflow_outbox"
RUN_FILE = "run.json"
RECORDS_FILE = "records.jsonl"
FILES_DIR = "files"
SEND_LOCK = "send.lock"


def is_outage(err: BaseException) -> bool:
    """True when ``err`` means the tracking server could not be reached or failed on its
    side (connection refused or cut, timeouts, HTTP 5xx), so the call may succeed later;
    False for a request the server refused (HTTP 4xx: a bad value, a changed param)."""
    from mlflow.exceptions import MlflowException

    if isinstance(err, MlflowException):
        return err.get_http_status_code() >= 500
    try:
        import requests
    except ImportError:  # requests comes with mlflow; be safe for bare installs
        return isinstance(err, OSError)
    return isinstance(err, (OSError, requests.exceptions.RequestException))


class MlflowOutbox:
    """The records of one MLflow run that still have to reach the tracking server.

    Args:
        folder: the outbox folder (``.../mlflow_outbox``).
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike,
        *,
        tracking_uri: str,
        experiment: str,
        run_name: str | None,
        tags: dict[str, str],
        parent_run_id: str | None = None,
        artifact_location: str | None = None,
        run_id: str | None = None,
    ) -> MlflowOutbox:
        """A new, empty outbox for the run described by the arguments (``run_id`` None:
        the run still has to be created on the server)."""
        outbox = cls(folder)
        outbox.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            outbox.folder / RUN_FILE,
            dict(
                tracking_uri=tracking_uri,
                experiment=experiment,
                run_name=run_name,
                tags=tags,
                parent_run_id=parent_run_id,
                artifact_location=artifact_location,
                run_id=run_id,
                sent=0,
            ),
        )
        (outbox.folder / RECORDS_FILE).touch()
        return outbox

    @classmethod
    def find(cls, work_dir: str | os.PathLike) -> list[MlflowOutbox]:
        """Every outbox under ``work_dir``, in the order of their folders' paths."""
        return [cls(p.parent) for p in sorted(Path(work_dir).rglob(f"{OUTBOX_DIR}/{RUN_FILE}"))]

    @property
    def run(self) -> dict[str, Any]:
        """The content of ``run.json``."""
        return json.loads((self.folder / RUN_FILE).read_text())

    def _update_run(self, **changes) -> None:
        atomic_write_json(self.folder / RUN_FILE, {**self.run, **changes})

    def append(self, record: dict[str, Any]) -> None:
        """Add one record after the others (written and flushed before returning)."""
        line = json.dumps(record)
        with self._lock, open(self.folder / RECORDS_FILE, "a") as f:
            f.write(line + "\n")
            f.flush()

    def keep_file(self, name: str, data: bytes) -> Path:
        """Store ``data`` as ``files/<name>`` (a file an artifact record points to)."""
        path = self.folder / FILES_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            text = (self.folder / RECORDS_FILE).read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def pending(self) -> int:
        """How many records have not been sent yet."""
        return len(self.records()) - self.run["sent"]

    def send(self, client=None, *, on_refused=None) -> int:
        """Send every record not sent yet, in order; return how many were sent.

        Args:
            client: an ``MlflowClient`` for the outbox's tracking URI (made when None).
            on_refused: called with ``(record, error)`` for a record the server refuses
                (HTTP 4xx), which is then skipped; None raises the error.

        Raises:
            Exception: the server is still unreachable (see :func:`is_outage`); what was
                sent before stays sent.
        """
        from filelock import FileLock
        from mlflow import MlflowClient

        with FileLock(str(self.folder / SEND_LOCK)):  # one sender at a time, any process
            run = self.run
            client = client or MlflowClient(tracking_uri=run["tracking_uri"])
            return self._send_locked(client, run, on_refused)

    def _send_locked(self, client, run: dict[str, Any], on_refused) -> int:
        run_id = run["run_id"]
        if run_id is None:
            run_id = create_run(client, run)
            self._update_run(run_id=run_id)
        records = self.records()
        sent = run["sent"]
        for record in records[sent:]:
            try:
                execute(client, run_id, record)
            except Exception as err:
                if is_outage(err) or on_refused is None:
                    raise
                on_refused(record, err)
            sent += 1
            self._update_run(sent=sent)
        return len(records) - run["sent"]

    def finished(self) -> bool:
        """True when every record was sent and the last one ended the run."""
        records = self.records()
        return self.run["sent"] == len(records) and bool(records) and records[-1]["op"] == "end"

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def create_run(client, spec: dict[str, Any]) -> str:
    """Create the run ``spec`` describes (``experiment``, ``run_name``, ``tags``,
    ``parent_run_id``, ``artifact_location``), and its experiment when there is none
    of that name; return the new run's id."""
    experiment = client.get_experiment_by_name(spec["experiment"])
    if experiment is None:
        experiment_id = client.create_experiment(
            spec["experiment"], artifact_location=spec["artifact_location"]
        )
    else:
        experiment_id = experiment.experiment_id
    tags = dict(spec["tags"])
    if spec["parent_run_id"]:
        tags["mlflow.parentRunId"] = spec["parent_run_id"]
    return client.create_run(experiment_id, run_name=spec["run_name"], tags=tags).info.run_id


def execute(client, run_id: str, record: dict[str, Any]) -> None:
    """Make the MLflow call that ``record`` describes, for run ``run_id``."""
    from mlflow.entities import Metric, Param

    op = record["op"]
    if op == "params":
        params = [Param(k, v) for k, v in record["params"].items()]
        client.log_batch(run_id, params=params)
    elif op == "metrics":
        metrics = [
            Metric(k, v, record["timestamp"], record["step"]) for k, v in record["metrics"].items()
        ]
        client.log_batch(run_id, metrics=metrics)
    elif op == "text":
        client.log_text(run_id, record["text"], record["artifact_file"])
    elif op == "artifact":
        if Path(record["path"]).is_file():  # a log file deleted since is skipped
            client.log_artifact(run_id, record["path"], record["artifact_path"])
    elif op == "end":
        client.set_terminated(run_id, status=record["status"])
    else:
        raise ValueError(f"unknown MLflow outbox record {record!r}")


def sync(work_dir: str | os.PathLike, tracking_uri: str | None = None):
    """Send every outbox under ``work_dir``; delete those of runs that ended.

    Args:
        work_dir: a run's work dir, or a folder above several.
        tracking_uri: send there instead of the URI each run was started with.

    Returns:
        ``[(outbox folder, its run.json content, records sent, error or None)]``, one
        per outbox found; the error is the outage that stopped its sending.
    """
    from mlflow import MlflowClient

    results = []
    for outbox in MlflowOutbox.find(work_dir):
        uri = tracking_uri or outbox.run["tracking_uri"]
        try:
            sent = outbox.send(MlflowClient(tracking_uri=uri), on_refused=_skip_refused)
        except Exception as err:
            if not is_outage(err):
                raise
            results.append((outbox.folder, outbox.run, 0, err))
            continue
        run = outbox.run
        if outbox.finished():
            outbox.remove()
        results.append((outbox.folder, run, sent, None))
    return results


def _skip_refused(record: dict[str, Any], err: BaseException) -> None:
    import logging

    logging.getLogger("labcore.engine").warning(
        "MLflow refused a kept %s record and it was skipped: %s", record["op"], err
    )
