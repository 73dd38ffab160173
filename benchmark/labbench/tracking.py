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

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from labbench.stats import summarize_seeds

# Fail fast when a server is down instead of retrying for minutes; the run stays local.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

LOGGED_MARKER = "mlflow.json"
MAX_PARAM_VALUE = 6000
MAX_KEY = 250
ARTIFACTS = ("config.py", "log.txt", "result.json", "scalars.jsonl", "checkpoint.pth")


def tracking_uri(work_dir: str | Path) -> str:
    """``$MLFLOW_TRACKING_URI``, else a sqlite store in the work folder."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path(work_dir).resolve() / 'mlflow.db'}"


def flatten_params(tree: Any, prefix: str = "") -> dict[str, str]:
    """Dotted keys to string values within MLflow's limits: keys over 250 characters are
    dropped, values cut at 6000 characters."""
    flat: dict[str, str] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            flat.update(flatten_params(value, f"{prefix}{key}."))
        return flat
    key = prefix.rstrip(".")
    if key and len(key) <= MAX_KEY:
        flat[key] = str(tree)[:MAX_PARAM_VALUE]
    return flat


def read_scalars(run_dir: Path) -> list[dict[str, Any]]:
    """The per-iteration records a worker wrote (``scalars.jsonl``)."""
    path = run_dir / "scalars.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Tracker:
    """Logs run folders to one MLflow tracking store."""

    def __init__(self, uri: str, *, artifact_root: Path | None = None):
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        # sqlite stores would put artifacts in ./mlruns of whatever folder we run from.
        local = uri.startswith("sqlite:") or uri.startswith("file:")
        self.artifact_root = artifact_root if local else None

    def experiment_id(self, protocol: str) -> str:
        """The experiment of ``protocol``, created on first use."""
        experiment = self.client.get_experiment_by_name(protocol)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if self.artifact_root is not None:
            location = (self.artifact_root / protocol).resolve().as_uri()
        return self.client.create_experiment(protocol, artifact_location=location)

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

    def log_run(self, run_dir: Path, *, replace: bool = False) -> str:
        """Log one finished or failed run folder; returns the seed run's id.

        A run already logged under the same hash is not logged again unless ``replace``
        (a retrained run); a partial one (an interrupted upload) is replaced.
        """
        record = json.loads((run_dir / "run.json").read_text())
        result = json.loads((run_dir / "result.json").read_text())
        experiment_id = self.experiment_id(record["protocol"])
        for existing in self._find(experiment_id, **{"labbench.run_hash": record["run_hash"]}):
            if existing.data.tags.get("labbench.logged") == "complete" and not replace:
                self._mark_logged(run_dir, existing.info.run_id, existing.data.tags)
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
        if result["status"] != "finished":
            tags["labbench.error"] = str(result.get("error", ""))[:5000]
        run = self.client.create_run(
            experiment_id, run_name=f"{record['config_name']}-seed{record['seed']}", tags=tags
        )
        run_id = run.info.run_id
        config = json.loads((run_dir / "config.json").read_text())
        params = flatten_params(config)
        params.update(
            {
                "labbench.protocol": record["protocol"],
                "labbench.protocol_version": str(record["protocol_version"]),
                "labbench.seed": str(record["seed"]),
            }
        )
        for chunk in _chunks([Param(k, v) for k, v in sorted(params.items())], 100):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks(self._metrics(run_dir, result), 1000):
            self.client.log_batch(run_id, metrics=chunk)
        for name in ARTIFACTS:
            if (run_dir / name).exists():
                self.client.log_artifact(run_id, str(run_dir / name))
        self.client.set_tag(run_id, "labbench.logged", "complete")
        status = "FINISHED" if result["status"] == "finished" else "FAILED"
        self.client.set_terminated(run_id, status=status)
        self._mark_logged(run_dir, run_id, {"mlflow.parentRunId": parent})
        return run_id

    def _mark_logged(self, run_dir: Path, run_id: str, tags: dict[str, str]) -> None:
        marker = {
            "tracking_uri": self.uri,
            "run_id": run_id,
            "parent_run_id": tags.get("mlflow.parentRunId"),
        }
        (run_dir / LOGGED_MARKER).write_text(json.dumps(marker, indent=2))

    @staticmethod
    def _metrics(run_dir: Path, result: dict[str, Any]) -> list[Metric]:
        now = int(time.time() * 1000)
        metrics = []
        for record in read_scalars(run_dir):
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

    def log_aggregate(self, run_dirs: list[Path]) -> None:
        """Write mean, std and 95% interval over the logged seeds of one config to its
        parent run."""
        values, parent, metric_name = [], None, None
        for run_dir in run_dirs:
            marker = run_dir / LOGGED_MARKER
            result_path = run_dir / "result.json"
            if not marker.exists() or not result_path.exists():
                continue
            result = json.loads(result_path.read_text())
            record = json.loads((run_dir / "run.json").read_text())
            parent = json.loads(marker.read_text()).get("parent_run_id") or parent
            metric_name = record["metric_name"]
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
        self.client.log_batch(
            parent, metrics=metrics, tags=[RunTag("labbench.seeds_logged", str(len(values)))]
        )
        self.client.set_terminated(parent, status="FINISHED")


def run_folders(work_dir: Path) -> list[Path]:
    """Every training run folder (dry runs excluded) that holds a result."""
    runs = Path(work_dir) / "runs"
    found = [p.parent for p in runs.glob("*/*/*/result.json")]
    return sorted(p for p in found if p.parent.parent.parent == runs and (p / "run.json").exists())


def sync(work_dir: Path, tracker: Tracker) -> tuple[list[Path], list[Path]]:
    """Log every run folder of ``work_dir`` that MLflow has not received yet, then update
    the parent runs of their configs. Returns (logged, already logged)."""
    logged, present = [], []
    for run_dir in run_folders(work_dir):
        marker = run_dir / LOGGED_MARKER
        if marker.exists() and json.loads(marker.read_text()).get("tracking_uri") == tracker.uri:
            present.append(run_dir)
            continue
        tracker.log_run(run_dir)
        logged.append(run_dir)
    for config_dir in sorted({p.parent for p in logged}):
        tracker.log_aggregate(sorted(config_dir.iterdir()))
    return logged, present
