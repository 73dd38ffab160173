"""LabMLflowVisBackend: MMEngine's MLflow backend made to work with MLflow 3, and to
keep training when the tracking server goes away.

MLflow 3 refuses the plain file store that MMEngine's backend points it to, and
MMEngine's ``close()`` reads ``cfg.work_dir`` even when the runner has no config. This
backend tracks into ``sqlite:///<work_dir>/mlflow.db`` unless ``MLFLOW_TRACKING_URI``
(or ``tracking_uri``) says otherwise, starts its own run, logs the flattened config as
parameters within MLflow's limits, the resolved config as an artifact, every scalar
the logger hook writes (loss, lr, eval metrics) and, on close, the run's log files.

When the server cannot be reached (after MLflow's own HTTP retries,
``MLFLOW_HTTP_REQUEST_MAX_RETRIES``), training goes on: one warning says so, every later
call is kept in an outbox on disk (:mod:`labcore.engine.mlflow_outbox`, in the backend's
folder of the work dir), a background thread retries every
``OPENLAB_MLFLOW_RETRY_INTERVAL`` seconds (default 30) and sends what was kept once the
server is back, and ``close()`` tries once more. What is still not sent then is sent
later by ``lab sync WORK_DIR``.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.visualization import MLflowVisBackend

from labcore.engine.mlflow_outbox import OUTBOX_DIR, MlflowOutbox, create_run, execute, is_outage
from labcore.engine.mlflow_store import prepare_store
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
    """MLflow backend for MLflow 3, with or without a runner config, that survives a
    tracking server outage (see the module docstring).

    Args:
        save_dir: the backend's folder (the runner passes ``<log_dir>/vis_data``); the
            outbox of an outage is ``<save_dir>/mlflow_outbox``.
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
        self.outbox: MlflowOutbox | None = None  # set while the server is unreachable
        self._lock = threading.RLock()
        self._stop_retrying = threading.Event()
        self._retry_thread: threading.Thread | None = None

    def _init_env(self) -> None:
        import mlflow
        from mlflow.tracking.context.registry import resolve_tags

        os.makedirs(self._save_dir, exist_ok=True)
        self._mlflow = mlflow
        self.tracking_uri = self._tracking_uri or default_tracking_uri(self._save_dir)
        prepare_store(self.tracking_uri)  # a new sqlite store from the migrated template
        # The run's own client: the process-wide tracking URI stays the user's, so a later
        # run, or a zoo publish, in this process goes to its own store.
        self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        parent = mlflow.active_run()  # a run started around this one (a sweep's parent)
        self._run_spec = dict(
            experiment=self._exp_name,
            run_name=self._run_name,
            tags={k: str(v) for k, v in resolve_tags(self._tags or {}).items()},
            parent_run_id=parent.info.run_id if parent is not None else None,
            artifact_location=self._artifact_location,
        )
        with self._lock:
            try:
                self.run_id = create_run(self._client, self._run_spec)
            except Exception as err:
                if not is_outage(err):
                    raise
                self._go_offline(err)
        if self._params:
            self._log_params(flatten_params(self._params))

    # Every MLflow call goes through _submit: sent at once while the server answers,
    # kept in the outbox (in order) from the first outage until the outbox is empty.
    def _submit(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self.outbox is None:
                try:
                    execute(self._client, self.run_id, record)
                    return
                except Exception as err:
                    if not is_outage(err):
                        raise
                    self._go_offline(err)
            self.outbox.append(record)

    def _go_offline(self, err: BaseException) -> None:
        """Start keeping records in the outbox and retrying in the background; say so once."""
        self.outbox = MlflowOutbox.create(
            Path(self._save_dir) / OUTBOX_DIR,
            tracking_uri=self.tracking_uri,
            run_id=self.run_id,
            **self._run_spec,
        )
        print_log(
            f"MLflow tracking server {self.tracking_uri} is unreachable "
            f"({_first_line(err)}). Training goes on; what it logs is kept in "
            f"{self.outbox.folder} and sent when the server is back (retried every "
            f"{retry_interval():g} s), at the end of the run, or later by "
            f"`lab sync {self._work_dir()}`.",
            logger="current",
            level=30,
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
            outbox.send(self._client, on_refused=_warn_refused)
        except Exception as err:
            if not is_outage(err):
                print_log(f"MLflow outbox {outbox.folder}: {err!r}", logger="current", level=30)
            return False
        with self._lock:
            if outbox.pending():  # records added while sending: send them next time
                return False
            self.run_id = outbox.run["run_id"]
            count = len(outbox.records())
            outbox.remove()
            self.outbox = None
        print_log(
            f"MLflow tracking server {self.tracking_uri} is reachable again: sent the "
            f"{count} records kept while it was not.",
            logger="current",
            level=30,
        )
        return True

    def _work_dir(self) -> Path:
        work_dir = getattr(self.cfg, "work_dir", None) if self.cfg is not None else None
        return Path(work_dir) if work_dir else Path(self._save_dir)

    def _log_params(self, params: dict[str, str]) -> None:
        names = sorted(params)[:MAX_PARAMS]
        for start in range(0, len(names), MAX_PARAMS_PER_BATCH):
            batch = {k: params[k] for k in names[start : start + MAX_PARAMS_PER_BATCH]}
            self._submit(dict(op="params", params=batch))

    def add_config(self, config: Config, **kwargs) -> None:
        """Log the flattened config as params and the resolved config as ``config.py``."""
        self._ensure_env()
        self.cfg = config
        tree = config.to_dict()
        if self._tracked_config_keys is not None:
            tree = {k: tree[k] for k in self._tracked_config_keys if k in tree}
        self._log_params(flatten_params(tree))
        if tree or config.filename:
            self._submit(dict(op="text", text=config.pretty_text, artifact_file="config.py"))

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
            timestamp = int(time.time() * 1000)
            self._submit(dict(op="metrics", metrics=metrics, step=int(step), timestamp=timestamp))

    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        """Log ``image`` (uint8 HxWx3, RGB) as the artifact ``images/<name>_<step>.png``.

        MMEngine passes ``name`` as the artifact file, which MLflow 3 refuses without an
        image extension.
        """
        self._ensure_env()
        file_name = f"{name}_{step}.png"
        with self._lock:
            if self.outbox is None:
                try:
                    self._client.log_image(self.run_id, image, artifact_file=f"images/{file_name}")
                    return
                except Exception as err:
                    if not is_outage(err):
                        raise
                    self._go_offline(err)
            path = self.outbox.keep_file(file_name, _png_bytes(image))
            self.outbox.append(dict(op="artifact", path=str(path), artifact_path="images"))

    def _ensure_env(self) -> None:
        if not hasattr(self, "_mlflow"):
            self._init_env()

    def close(self) -> None:
        """Log the run's log files as artifacts (from ``cfg.work_dir`` when the config
        has one, else from the backend's folder) and end the run with ``end_status``.

        After an outage, the outbox is sent once more; when the server is still away,
        one warning names the outbox and ``lab sync``.
        """
        if not hasattr(self, "_mlflow"):
            return
        root = self._work_dir()
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if OUTBOX_DIR in path.relative_to(root).parts:
                    continue
                if path.is_file() and path.name.endswith(self._artifact_suffix):
                    relative = path.relative_to(root).parent.as_posix()
                    artifact_dir = None if relative == "." else relative
                    self._submit(dict(op="artifact", path=str(path), artifact_path=artifact_dir))
        self._submit(dict(op="end", status=self.end_status))
        if self.outbox is not None:
            self._stop_retrying.set()
            if self._retry_thread is not None:
                self._retry_thread.join()
            if self.outbox is not None and not self._flush_outbox():
                print_log(
                    f"MLflow tracking server {self.tracking_uri} is still unreachable: "
                    f"{self.outbox.pending()} records of this run are kept in "
                    f"{self.outbox.folder}. Send them when it is back with "
                    f"`lab sync {root}`.",
                    logger="current",
                    level=30,
                )
        del self._mlflow


def retry_interval() -> float:
    """Seconds between two attempts to reach an unreachable tracking server:
    ``$OPENLAB_MLFLOW_RETRY_INTERVAL``, default 30."""
    return float(os.environ.get("OPENLAB_MLFLOW_RETRY_INTERVAL", "30"))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def _warn_refused(record: dict[str, Any], err: BaseException) -> None:
    print_log(
        f"MLflow refused a kept {record['op']} record and it was skipped: {_first_line(err)}",
        logger="current",
        level=30,
    )


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _as_float(value) -> float | None:
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else None
    elif isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else None
    if isinstance(value, (bool, int, float, np.number)):
        return float(value)
    return None
