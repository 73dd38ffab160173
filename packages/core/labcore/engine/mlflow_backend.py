"""LabMLflowVisBackend: MMEngine's MLflow backend made to work with MLflow 3.

MLflow 3 refuses the plain file store that MMEngine's backend points it to, and
MMEngine's ``close()`` reads ``cfg.work_dir`` even when the runner has no config. This
backend tracks into ``sqlite:///<work_dir>/mlflow.db`` unless ``MLFLOW_TRACKING_URI``
(or ``tracking_uri``) says otherwise, starts its own run, logs the flattened config as
parameters within MLflow's limits, the resolved config as an artifact, every scalar
the logger hook writes (loss, lr, eval metrics) and, on close, the run's log files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.config import Config
from mmengine.visualization import MLflowVisBackend

from labcore.registry import VISBACKENDS

# MLflow's limits (mlflow.utils.validation): values are cut, keys are skipped.
MAX_PARAM_VALUE_LENGTH = 6000
MAX_PARAM_KEY_LENGTH = 250
MAX_PARAMS_PER_BATCH = 100
MAX_PARAMS = 1000


def default_tracking_uri(work_dir: str | os.PathLike) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else a sqlite store in ``work_dir``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path(work_dir).resolve() / 'mlflow.db'}"


def flatten_params(tree: Any, prefix: str = "") -> dict[str, str]:
    """``{"model.backbone.depth": "18", ...}`` from a nested config, as MLflow params.

    Lists are indexed (``pipeline.0.type``); values longer than MLflow accepts are cut
    and keys longer than it accepts are dropped.
    """
    items: dict[str, str] = {}
    if isinstance(tree, Mapping):
        children = [(str(k), v) for k, v in tree.items()]
    elif isinstance(tree, Sequence) and not isinstance(tree, str) and tree:
        children = [(str(i), v) for i, v in enumerate(tree)]
    else:
        if prefix and len(prefix) <= MAX_PARAM_KEY_LENGTH:
            items[prefix] = str(tree)[:MAX_PARAM_VALUE_LENGTH]
        return items
    for key, value in children:
        items.update(flatten_params(value, f"{prefix}.{key}" if prefix else key))
    return items


@VISBACKENDS.register_module()
class LabMLflowVisBackend(MLflowVisBackend):
    """MLflow backend for MLflow 3, with or without a runner config.

    Args:
        save_dir: the backend's folder (the runner passes ``<log_dir>/vis_data``).
        exp_name: MLflow experiment name; ``"openlab"`` when None.
        run_name: MLflow run name; MLflow picks one when None.
        tags: tags of the run.
        params: extra parameters logged when the run starts.
        tracking_uri: where runs are stored; when None, ``$MLFLOW_TRACKING_URI`` or
            ``sqlite:///<save_dir>/mlflow.db``. ``build_runner`` passes the work dir's
            store.
        artifact_suffix: files of the log folder logged as artifacts on close.
        tracked_config_keys: top-level config keys logged as params; all when None.
        artifact_location: artifact root of a new experiment.
    """

    def __init__(
        self,
        save_dir: str,
        exp_name: str | None = None,
        run_name: str | None = None,
        tags: dict | None = None,
        params: dict | None = None,
        tracking_uri: str | None = None,
        artifact_suffix: Sequence[str] = (".json", ".log", ".py", ".yaml"),
        tracked_config_keys: Sequence[str] | None = None,
        artifact_location: str | None = None,
    ) -> None:
        super().__init__(
            save_dir,
            exp_name=exp_name or "openlab",
            run_name=run_name,
            tags=tags,
            params=params,
            tracking_uri=tracking_uri,
            artifact_suffix=tuple(artifact_suffix),
            tracked_config_keys=tracked_config_keys,
            artifact_location=artifact_location,
        )
        self.cfg: Config | None = None
        self.run_id: str | None = None
        self.end_status = "FINISHED"  # set to "FAILED" before close() when the run failed

    def _init_env(self) -> None:
        import mlflow

        os.makedirs(self._save_dir, exist_ok=True)
        self._mlflow = mlflow
        self.tracking_uri = self._tracking_uri or default_tracking_uri(self._save_dir)
        user_uri = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(self.tracking_uri)
        # mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI; put the user's value
        # back, so a later run in this process picks its own default store again.
        if user_uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = user_uri
        experiment = mlflow.get_experiment_by_name(self._exp_name)
        if experiment is None:
            experiment_id = mlflow.create_experiment(
                self._exp_name, artifact_location=self._artifact_location
            )
        else:
            experiment_id = experiment.experiment_id
        run = mlflow.start_run(experiment_id=experiment_id, run_name=self._run_name, nested=True)
        self.run_id = run.info.run_id
        if self._tags:
            mlflow.set_tags(self._tags)
        if self._params:
            self._log_params(flatten_params(self._params))

    def _log_params(self, params: dict[str, str]) -> None:
        names = sorted(params)[:MAX_PARAMS]
        for start in range(0, len(names), MAX_PARAMS_PER_BATCH):
            batch = {k: params[k] for k in names[start : start + MAX_PARAMS_PER_BATCH]}
            self._mlflow.log_params(batch, run_id=self.run_id)

    def add_config(self, config: Config, **kwargs) -> None:
        """Log the flattened config as params and the resolved config as ``config.py``."""
        self._ensure_env()
        self.cfg = config
        tree = config.to_dict()
        if self._tracked_config_keys is not None:
            tree = {k: tree[k] for k in self._tracked_config_keys if k in tree}
        self._log_params(flatten_params(tree))
        if tree or config.filename:
            self._mlflow.log_text(config.pretty_text, "config.py", run_id=self.run_id)

    def add_scalar(self, name: str, value, step: int = 0, **kwargs) -> None:
        self.add_scalars({name: value}, step=step)

    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path=None, **kwargs) -> None:
        """Log every numeric value of ``scalar_dict`` as a metric at ``step``."""
        self._ensure_env()
        metrics = {}
        for name, value in scalar_dict.items():
            number = _as_float(value)
            if number is not None:
                metrics[name] = number
        if metrics:
            self._mlflow.log_metrics(metrics, step=step, run_id=self.run_id)

    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        """Log ``image`` (uint8 HxWx3, RGB) as the artifact ``images/<name>_<step>.png``.

        MMEngine passes ``name`` as the artifact file, which MLflow 3 refuses without an
        image extension.
        """
        self._ensure_env()
        client = self._mlflow.MlflowClient(self.tracking_uri)
        client.log_image(self.run_id, image, artifact_file=f"images/{name}_{step}.png")

    def _ensure_env(self) -> None:
        if not hasattr(self, "_mlflow"):
            self._init_env()

    def close(self) -> None:
        """Log the run's log files as artifacts (from ``cfg.work_dir`` when the config
        has one, else from the backend's folder) and end the run with ``end_status``."""
        if not hasattr(self, "_mlflow"):
            return
        work_dir = getattr(self.cfg, "work_dir", None) if self.cfg is not None else None
        root = Path(work_dir) if work_dir else Path(self._save_dir)
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.name.endswith(self._artifact_suffix):
                    relative = path.relative_to(root).parent.as_posix()
                    artifact_dir = None if relative == "." else relative
                    self._mlflow.log_artifact(str(path), artifact_dir, run_id=self.run_id)
        active = self._mlflow.active_run()
        if active is not None and active.info.run_id == self.run_id:
            self._mlflow.end_run(status=self.end_status)
        else:
            self._mlflow.MlflowClient().set_terminated(self.run_id, status=self.end_status)
        del self._mlflow


def _as_float(value) -> float | None:
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else None
    elif isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else None
    if isinstance(value, (bool, int, float, np.number)):
        return float(value)
    return None
