"""LabMLflowVisBackend: MMEngine's MLflow backend made to work with MLflow 3, kept off
the path to the first iteration, and training on when the tracking server goes away.

MLflow 3 refuses the plain file store that MMEngine's backend points it to, and
MMEngine's ``close()`` reads ``cfg.work_dir`` even when the runner has no config. This
backend tracks into ``sqlite:///<work_dir>/mlflow.db`` unless ``MLFLOW_TRACKING_URI``
(or ``tracking_uri``) says otherwise, starts its own run, logs the flattened config as
parameters within MLflow's limits, the resolved config as an artifact, every scalar
the logger hook writes (loss, lr, eval metrics) and, on close, the run's log files.

The training process never imports MLflow: the backend starts a child process
(:mod:`labcore.tracking.mlflow_sender`) and writes it each record, so importing MLflow
and opening its store (about 3 s of one core) happen beside the first iterations instead
of before them. ``close()`` waits until the child has sent everything.

When the server cannot be reached (after MLflow's own HTTP retries,
``MLFLOW_HTTP_REQUEST_MAX_RETRIES``), training goes on: one warning says so, every later
call is kept in an outbox on disk (:mod:`labcore.tracking.mlflow_outbox`, in the backend's
folder of the work dir), the child retries every ``OPENLAB_MLFLOW_RETRY_INTERVAL``
seconds (default 30) and sends what was kept once the server is back, and tries once
more on close. What is still not sent then is sent later by ``lab sync WORK_DIR``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import subprocess
import sys
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

from labcore.registry import VISBACKENDS
from labcore.tracking.mlflow_outbox import OUTBOX_DIR, MlflowOutbox

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
        self.end_status = "FINISHED"  # set to "FAILED" before close() when the run failed
        self.outbox: MlflowOutbox | None = None  # set while the server is unreachable
        self._sender: subprocess.Popen | None = None
        self._run_id: str | None = None
        self._started = threading.Event()  # the sender created the run, or gave up
        self._lock = threading.Lock()

    @property
    def run_id(self) -> str | None:
        """The MLflow run's id, once the sender created it (waits until then); None
        while the server has been unreachable since the run started."""
        if self._sender is not None:
            self._started.wait()
        return self._run_id

    def _init_env(self) -> None:
        os.makedirs(self._save_dir, exist_ok=True)
        self.tracking_uri = self._tracking_uri or default_tracking_uri(self._save_dir)
        mlflow = sys.modules.get("mlflow")  # a run started around this one (a sweep's parent)
        parent = mlflow.active_run() if mlflow is not None else None
        self._sender = subprocess.Popen(
            [sys.executable, "-m", "labcore.tracking.mlflow_sender"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._events = threading.Thread(
            target=self._read_events, name="mlflow-sender-events", daemon=True
        )
        self._events.start()
        spec = dict(
            experiment=self._exp_name,
            run_name=self._run_name,
            tags=self._tags or {},
            parent_run_id=parent.info.run_id if parent is not None else None,
            artifact_location=self._artifact_location,
        )
        self._submit(
            dict(
                op="start",
                tracking_uri=self.tracking_uri,
                spec=spec,
                save_dir=str(self._save_dir),
                work_dir=str(self._work_dir()),
                argv=sys.argv,
            )
        )
        if self._params:
            self._log_params(flatten_params(self._params))

    def _submit(self, line: dict[str, Any]) -> None:
        """One line to the sender; none once it exited (``_read_events`` said so)."""
        with self._lock, contextlib.suppress(BrokenPipeError, ValueError):
            self._sender.stdin.write(json.dumps(line) + "\n")

    def _read_events(self) -> None:
        """Apply the sender's events (run id, outbox, warnings for the log) as they come."""
        closed = False
        for line in self._sender.stdout:
            event = json.loads(line)
            kind = event["event"]
            if kind == "started":
                self._run_id = event["run_id"]
                self._started.set()
            elif kind == "outbox":
                self.outbox = MlflowOutbox(event["folder"]) if event["folder"] else None
                self._run_id = event.get("run_id", self._run_id)
            elif kind == "log":
                print_log(event["message"], logger="current", level=event["level"])
            elif kind == "closed":
                self._run_id = event["run_id"]
                self.outbox = MlflowOutbox(event["outbox"]) if event["outbox"] else None
                closed = True
        status = self._sender.wait()
        if not closed:
            print_log(
                f"The MLflow sender of this run (labcore.tracking.mlflow_sender) exited "
                f"with status {status} before the run was closed; its error is above on "
                f"stderr. Later metrics of this run are not tracked.",
                logger="current",
                level=30,
            )
        self._started.set()

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
        self.cfg = config
        self._ensure_env()
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
        png = base64.b64encode(_png_bytes(image)).decode("ascii")
        self._submit(dict(op="image", file_name=f"{name}_{step}.png", png=png))

    def _ensure_env(self) -> None:
        if self._sender is None:
            self._init_env()

    def close(self) -> None:
        """Log the run's log files as artifacts (from ``cfg.work_dir`` when the config
        has one, else from the backend's folder), end the run with ``end_status`` and
        wait until the sender has sent everything.

        After an outage, the sender sends the outbox once more; when the server is still
        away, one warning names the outbox and ``lab sync``.
        """
        if self._sender is None:
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
        self._submit(dict(op="close", work_dir=str(root)))
        with self._lock, contextlib.suppress(BrokenPipeError):
            self._sender.stdin.close()
        self._events.join()
        self._sender = None


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
