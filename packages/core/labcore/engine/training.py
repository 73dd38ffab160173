"""Building MMEngine runners with OpenLab's defaults.

:func:`build_runner` is the one way OpenLab starts training and testing (the ``lab``
command and the benchmark harness use it). On top of the config it ensures:

- a work dir (``work_dirs/<config name>`` when neither argument nor config gives one);
- the shared hooks ``RNGStateHook`` (exact resume) and ``NonFiniteLossHook`` (stop at
  the first NaN loss), added when a config lacks them;
- MLflow tracking through ``LabMLflowVisBackend`` into ``sqlite:///<work_dir>/mlflow.db``
  unless ``MLFLOW_TRACKING_URI`` is set, or no MLflow at all with ``mlflow = False`` in
  the config (``--cfg-options mlflow=False``), which tests use since a new sqlite store
  costs seconds;
- a distributed backend chosen at run time (``"auto"``);
- data-loader workers seeded by :func:`labcore.engine.worker_seed.seed_worker` (new
  random streams every epoch, repeated by a resumed run) unless a dataloader names its
  own ``worker_init_fn``.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

from mmengine.config import Config, ConfigDict
from mmengine.logging import MessageHub, MMLogger
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

from labcore.engine.config import load_config
from labcore.engine.mlflow_backend import LabMLflowVisBackend, default_tracking_uri
from labcore.errors import ConfigError

DEFAULT_HOOKS = ("RNGStateHook", "NonFiniteLossHook")
MLFLOW_BACKENDS = ("LabMLflowVisBackend", "MLflowVisBackend")
LAUNCHERS = ("none", "pytorch", "slurm", "mpi")


def build_runner(
    cfg: Config | str | os.PathLike,
    *,
    work_dir: str | os.PathLike | None = None,
    resume: bool | str = False,
    launcher: str = "none",
) -> Runner:
    """A Runner for ``cfg`` with OpenLab's defaults applied (see the module docstring).

    Args:
        cfg: a loaded config, a config file or a ``pkg::rel/path.py`` name. A loaded
            config is copied, not changed.
        work_dir: where checkpoints and logs go; overrides ``cfg.work_dir``.
        resume: True resumes from the latest checkpoint in the work dir (a fresh start
            when there is none); a path resumes from that checkpoint.
        launcher: 'none', 'pytorch' (torchrun), 'slurm' (srun) or 'mpi'.

    Raises:
        ConfigError: an unknown launcher or a config without ``model``.
    """
    cfg = copy.deepcopy(cfg) if isinstance(cfg, Config) else load_config(cfg)
    if launcher not in LAUNCHERS:
        raise ConfigError(f"Unknown launcher '{launcher}': choose one of {', '.join(LAUNCHERS)}.")
    if "model" not in cfg:
        raise ConfigError(
            f"Config {cfg.filename or '(in memory)'} has no `model`; a runnable config "
            f"needs model, and the dataloaders and loops of what it runs."
        )
    cfg.work_dir = str(_work_dir(cfg, work_dir))
    cfg.launcher = launcher
    if isinstance(resume, (str, os.PathLike)):
        cfg.load_from = str(resume)
        cfg.resume = True
    elif resume:
        cfg.resume = True
    cfg.experiment_name = cfg.get("experiment_name") or _unique_experiment_name(cfg)
    _ensure_custom_hooks(cfg)
    _ensure_dist_backend(cfg)
    _ensure_worker_seeding(cfg)
    _configure_visualizer(cfg)
    if "runner_type" in cfg:
        from labcore.registry import RUNNERS

        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def _work_dir(cfg: Config, work_dir) -> Path:
    if work_dir is not None:
        return Path(work_dir)
    if cfg.get("work_dir"):
        return Path(cfg.work_dir)
    stem = Path(cfg.filename).stem if cfg.filename else "in_memory_config"
    return Path("work_dirs") / stem


def _unique_experiment_name(cfg: Config) -> str:
    """The config's name, with a counter when a run of this process already uses it.

    MMEngine names the experiment ``<experiment_name>_<timestamp>`` and keys its logger,
    message hub and visualizer by that name, so two runs of one config started in the
    same second (tests, sweeps) would otherwise share their histories.
    """
    stem = Path(cfg.filename).stem if cfg.filename else "in_memory_config"
    timestamp = time.strftime("%Y%m%d_%H%M%S", time.localtime())
    name, counter = stem, 1
    while any(
        manager.check_instance_created(f"{name}_{timestamp}")
        for manager in (MMLogger, MessageHub, Visualizer)
    ):
        counter += 1
        name = f"{stem}_{counter}"
    return name


def _ensure_custom_hooks(cfg: Config) -> None:
    hooks = list(cfg.get("custom_hooks") or [])
    present = {h.get("type") if isinstance(h, dict) else type(h).__name__ for h in hooks}
    for name in DEFAULT_HOOKS:
        if name not in present:
            hooks.append(ConfigDict(type=name, _scope_="labcore"))
    cfg.custom_hooks = hooks


def _ensure_dist_backend(cfg: Config) -> None:
    env_cfg = cfg.get("env_cfg") or ConfigDict()
    dist_cfg = env_cfg.get("dist_cfg") or ConfigDict()
    dist_cfg.setdefault("backend", "auto")
    env_cfg["dist_cfg"] = dist_cfg
    cfg.env_cfg = env_cfg


def _ensure_worker_seeding(cfg: Config) -> None:
    for split in ("train", "val", "test"):
        dataloader = cfg.get(f"{split}_dataloader")
        if isinstance(dataloader, dict) and "worker_init_fn" not in dataloader:
            dataloader["worker_init_fn"] = ConfigDict(type="labcore.seed_worker")


def _configure_visualizer(cfg: Config) -> None:
    visualizer = cfg.get("visualizer")
    if visualizer is None:
        visualizer = ConfigDict(
            type="Visualizer",
            vis_backends=[ConfigDict(type="LocalVisBackend")],
        )
    backends = []
    for backend in visualizer.get("vis_backends") or []:
        if backend.get("type") in MLFLOW_BACKENDS:
            if cfg.get("mlflow", True) is False:
                continue
            backend = ConfigDict(backend)
            backend.type = "LabMLflowVisBackend"
            backend._scope_ = "labcore"
            backend.setdefault("tracking_uri", None)
            if backend.tracking_uri is None:
                backend.tracking_uri = default_tracking_uri(cfg.work_dir)
        backends.append(backend)
    visualizer.vis_backends = backends
    cfg.visualizer = visualizer


def close_failed_run(runner: Runner) -> None:
    """End a run that stopped with an error: its MLflow runs are marked FAILED and every
    backend is closed; the files in the work dir stay as they are."""
    for backend in runner.visualizer._vis_backends.values():
        if isinstance(backend, LabMLflowVisBackend):
            backend.end_status = "FAILED"
    runner.visualizer.close()
