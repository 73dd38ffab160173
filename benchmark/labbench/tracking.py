"""MLflow logging of benchmark runs, from the files each run leaves behind.

Layout in MLflow: one experiment per protocol; in it, one parent run per config (tag
``labbench.kind=config``) holding the aggregate over seeds, and one nested run per
seed (``labbench.kind=seed``) holding the params (the flattened resolved config), the
protocol name and version, the seed, tags (git commit, package versions, hardware, run
hash), per-iteration metrics, evaluation metrics and the artifacts (resolved config,
log, result, checkpoint).

The default store is ``sqlite:///<work_dir>/mlflow.db``; ``MLFLOW_TRACKING_URI`` points
it at a team's server. A run is logged after it trained, from its folder; logging the
same run twice is a no-op (runs are matched by their hash), so ``labbench --sync``
safely sends whatever an unreachable server missed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labbench.runfolder import RunFolder, run_folders
from labbench.stats import summarize_seeds
from labcore.engine.mlflow_backend import default_tracking_uri, flatten_params
from labcore.tracking.mlflow_store import prepare_store

# Fail fast when a server is down instead of retrying for minutes; the run stays local.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

__all__ = ["Tracker", "flatten_params", "sync", "tracking_uri"]


def tracking_uri(work_dir: str | Path) -> str:
    """``$MLFLOW_TRACKING_URI``, else a sqlite store in the work folder (labcore's
    :func:`~labcore.engine.mlflow_backend.default_tracking_uri`, as ``lab train``)."""
    return default_tracking_uri(work_dir)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextlib.contextmanager
def store_lock(path: Path | None) -> Iterator[None]:
    """An exclusive lock on ``path`` (None: no lock) between processes on this work dir.

    Two sweeps that start at once on a fresh sqlite store would both create its schema
    (alembic then fails with "Online migration expected to match one row"), and two
    sweeps logging runs of one config would both create its parent run; both happen
    under this lock.
    """
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Tracker:
    """Logs run folders to one MLflow tracking store."""

    def __init__(
        self, uri: str, *, artifact_root: Path | None = None, lock_file: Path | None = None
    ):
        self.uri = uri
        # sqlite stores would put artifacts in ./mlruns of whatever folder we run from.
        local = uri.startswith("sqlite:") or uri.startswith("file:")
        self.artifact_root = artifact_root if local else None
        if lock_file is None and uri.startswith("sqlite:///"):
            lock_file = Path(uri[len("sqlite:///") :]).with_suffix(".lock")
        self.lock_file = lock_file
        with store_lock(self.lock_file):  # creates the schema of a new store, once
            prepare_store(uri)  # a new sqlite store from labcore's migrated template
            self.client = MlflowClient(tracking_uri=uri)
            if uri.startswith("sqlite:"):
                self.client.search_experiments(max_results=1)

    def experiment_id(self, protocol: str) -> str:
        """The experiment of ``protocol``, created on first use."""
        experiment = self.client.get_experiment_by_name(protocol)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if self.artifact_root is not None:
            location = (self.artifact_root / protocol).resolve().as_uri()
        try:
            return self.client.create_experiment(protocol, artifact_location=location)
        except MlflowException:  # another process created it first
            experiment = self.client.get_experiment_by_name(protocol)
            if experiment is None:
                raise
            return experiment.experiment_id

    def _find(self, experiment_id: str, **tags: str) -> list:
        clauses = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
        return self.client.search_runs([experiment_id], filter_string=clauses, max_results=1000)

    def parent_run_id(self, experiment_id: str, record: dict[str, Any]) -> str:
        """The config's parent run in the protocol's experiment, created on first use."""
        found = self._find(
            experiment_id,
            **{
                "labbench.kind": "config",
                "labbench.config": record["config_name"],
                "labbench.protocol_version": str(record["protocol_version"]),
            },
        )
        if found:
            return found[0].info.run_id
        run = self.client.create_run(
            experiment_id,
            run_name=record["config_name"],
            tags={
                "labbench.kind": "config",
                "labbench.config": record["config_name"],
                "labbench.codebase": record["codebase"],
                "labbench.config_path": record["config"],
                "labbench.protocol": record["protocol"],
                "labbench.protocol_version": str(record["protocol_version"]),
                "labbench.paper_title": record.get("paper_title", ""),
                "labbench.paper_url": record.get("paper_url", ""),
                "labbench.expected": json.dumps(record.get("expected") or {}),
            },
        )
        return run.info.run_id

    def log_run(self, folder: RunFolder | Path, *, replace: bool = False) -> str:
        """Log one finished or failed run folder; returns the seed run's id.

        A run already logged under the same hash with the same status is not logged again
        unless ``replace`` (a retrained run); a partial one (an interrupted upload) and a
        failed one that has finished since (a resumed run) are replaced.
        """
        folder = RunFolder(folder) if not isinstance(folder, RunFolder) else folder
        with store_lock(self.lock_file):
            return self._log_run(folder, replace=replace)

    def _log_run(self, folder: RunFolder, *, replace: bool) -> str:
        record = folder.record()
        result = folder.result() or {"status": "failed", "error": "no result.json"}
        experiment_id = self.experiment_id(record["protocol"])
        for existing in self._find(experiment_id, **{"labbench.run_hash": record["run_hash"]}):
            same = existing.data.tags.get("labbench.status") == result["status"]
            if existing.data.tags.get("labbench.logged") == "complete" and same and not replace:
                folder.write_logged(
                    self.uri, existing.info.run_id, existing.data.tags.get("mlflow.parentRunId")
                )
                return existing.info.run_id
            self.client.delete_run(existing.info.run_id)
        parent = self.parent_run_id(experiment_id, record)
        tags = {
            "mlflow.parentRunId": parent,
            "labbench.kind": "seed",
            "labbench.config": record["config_name"],
            "labbench.codebase": record["codebase"],
            "labbench.protocol": record["protocol"],
            "labbench.protocol_version": str(record["protocol_version"]),
            "labbench.seed": str(record["seed"]),
            "labbench.run_hash": record["run_hash"],
            "labbench.status": result["status"],
            **{f"labbench.env.{k}": str(v) for k, v in record.get("environment", {}).items()},
        }
        if result.get("resumed_from_iter"):
            tags["labbench.resumed_from_iter"] = str(result["resumed_from_iter"])
        if result["status"] != "finished":
            tags["labbench.error"] = str(result.get("error", ""))[:5000]
        run = self.client.create_run(
            experiment_id, run_name=f"{record['config_name']}-seed{record['seed']}", tags=tags
        )
        run_id = run.info.run_id
        params = flatten_params(folder.config())
        params.update(
            {
                "labbench.protocol": record["protocol"],
                "labbench.protocol_version": str(record["protocol_version"]),
                "labbench.seed": str(record["seed"]),
            }
        )
        for chunk in _chunks([Param(k, v) for k, v in sorted(params.items())], 100):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks(self._metrics(folder, result), 1000):
            self.client.log_batch(run_id, metrics=chunk)
        for path in folder.artifacts:
            self.client.log_artifact(run_id, str(path))
        self.client.set_tag(run_id, "labbench.logged", "complete")
        status = "FINISHED" if result["status"] == "finished" else "FAILED"
        self.client.set_terminated(run_id, status=status)
        folder.write_logged(self.uri, run_id, parent)
        return run_id

    @staticmethod
    def _metrics(folder: RunFolder, result: dict[str, Any]) -> list[Metric]:
        now = int(time.time() * 1000)
        metrics = []
        for record in folder.scalars():
            step = int(record["step"])
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float) and math.isfinite(value):
                    metrics.append(Metric(key, float(value), now, step))
        final_step = int(result.get("iterations") or 0)
        for key, value in (result.get("metrics") or {}).items():
            metrics.append(Metric(key, float(value), now, final_step))
        for key in ("train_time_s", "peak_memory_mb", "params", "flops", "final_loss"):
            value = result.get(key)
            if isinstance(value, int | float) and math.isfinite(value):
                metrics.append(Metric(key, float(value), now, final_step))
        return metrics

    def log_aggregate(self, folders: list[RunFolder]) -> None:
        """Write mean, std and 95% interval over the logged seeds of one config to its
        parent run."""
        values, parent, metric_name = [], None, None
        for folder in folders:
            logged, result = folder.logged(), folder.result()
            if not logged or not result:
                continue
            parent = logged.get("parent_run_id") or parent
            metric_name = folder.record()["metric_name"]
            if result["status"] == "finished" and result.get("metric") is not None:
                values.append(float(result["metric"]))
        if parent is None or not values:
            return
        summary = summarize_seeds(values)
        now = int(time.time() * 1000)
        metrics = [
            Metric(f"{metric_name}_{stat}", float(value), now, 0)
            for stat, value in summary.items()
            if value is not None and math.isfinite(value)
        ]
        with store_lock(self.lock_file):
            self.client.log_batch(
                parent, metrics=metrics, tags=[RunTag("labbench.seeds_logged", str(len(values)))]
            )
            self.client.set_terminated(parent, status="FINISHED")


def sync(work_dir: Path, tracker: Tracker) -> tuple[list[Path], list[Path]]:
    """Log every run folder of ``work_dir`` that MLflow has not received yet, then update
    the parent runs of their configs. Returns (logged, already logged)."""
    logged, present = [], []
    for folder in run_folders(work_dir):
        marker = folder.logged()
        if marker and marker.get("tracking_uri") == tracker.uri:
            present.append(folder.path)
            continue
        tracker.log_run(folder)
        logged.append(folder.path)
    for config_dir in sorted({p.parent for p in logged}):
        tracker.log_aggregate([RunFolder(p) for p in sorted(config_dir.iterdir()) if p.is_dir()])
    return logged, present
