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
- the run's CPU provenance in ``cfg.cpu_provenance`` (model, SIMD flags, the CPU pins
  of ``cpu_pins`` and the kernel level torch uses), so it reaches MLflow's parameters,
  the dumped config and the checkpoints' meta; with ``cpu_pins`` the thread count is
  set too (the kernel pins must be in the environment before torch is imported, see
  :mod:`labcore.cpu_pins`);
- no validation when ``train_cfg.val_interval`` is longer than the training (MMEngine
  would still validate, and save a best checkpoint, at the last epoch);
- data-loader workers seeded by :func:`labcore.engine.worker_seed.seed_worker` (new
  random streams every epoch, repeated by a resumed run) unless a dataloader names its
  own ``worker_init_fn``.
"""

from __future__ import annotations

import copy
import gc
import os
import re
import time
from pathlib import Path

from mmengine.config import Config, ConfigDict
from mmengine.logging import MessageHub, MMLogger, print_log
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

from labcore.cpu_pins import CpuPins, apply_threads, check_in_effect, cpu_provenance
from labcore.engine.config import load_config
from labcore.engine.mlflow_backend import LabMLflowVisBackend, default_tracking_uri
from labcore.errors import ConfigError
from labcore.folders import writable_folder

DEFAULT_HOOKS = ("RNGStateHook", "NonFiniteLossHook")
MLFLOW_BACKENDS = ("LabMLflowVisBackend", "MLflowVisBackend")
LAUNCHERS = ("none", "pytorch", "slurm", "mpi")
CHECKPOINT_NAME = re.compile(r"(epoch|iter)_(\d+)\.pth")


def build_runner(
    cfg: Config | str | os.PathLike,
    *,
    work_dir: str | os.PathLike | None = None,
    resume: bool | str = False,
    launcher: str = "none",
    cpu_pins: CpuPins | None = None,
) -> Runner:
    """A Runner for ``cfg`` with OpenLab's defaults applied (see the module docstring).

    Args:
        cfg: a loaded config, a config file or a ``pkg::rel/path.py`` name. A loaded
            config is copied, not changed.
        work_dir: where checkpoints and logs go; overrides ``cfg.work_dir``.
        resume: True resumes from the latest checkpoint in the work dir: the one its
            ``last_checkpoint`` file names, else the newest ``epoch_N.pth`` /
            ``iter_N.pth`` (a fresh start when the work dir holds no checkpoint); a
            path resumes from that checkpoint.
        launcher: 'none', 'pytorch' (torchrun), 'slurm' (srun) or 'mpi'.
        cpu_pins: the CPU pins this process runs under (recorded, threads applied);
            raises ConfigError when they are not in this process's environment.

    Raises:
        ConfigError: an unknown launcher or a config without ``model``, or ``resume``
            in a work dir whose checkpoints cannot be ordered.
        FolderError: the work dir cannot be created or written.
    """
    cfg = copy.deepcopy(cfg) if isinstance(cfg, Config) else load_config(cfg)
    if launcher not in LAUNCHERS:
        raise ConfigError(f"Unknown launcher '{launcher}': choose one of {', '.join(LAUNCHERS)}.")
    if "model" not in cfg:
        raise ConfigError(
            f"Config {cfg.filename or '(in memory)'} has no `model`; a runnable config "
            f"needs model, and the dataloaders and loops of what it runs."
        )
    setting = "--work-dir" if work_dir is not None else "work_dir (of the config)"
    cfg.work_dir = str(writable_folder(_work_dir(cfg, work_dir), setting=setting))
    cfg.launcher = launcher
    if isinstance(resume, (str, os.PathLike)):
        cfg.load_from = str(resume)
        cfg.resume = True
    elif resume:
        cfg.resume = True
        latest = latest_checkpoint(cfg.work_dir)
        if latest is not None:
            cfg.load_from = str(latest)
    cfg.experiment_name = cfg.get("experiment_name") or _unique_experiment_name(cfg)
    _record_cpu(cfg, cpu_pins)
    _drop_unrequested_validation(cfg)
    _ensure_custom_hooks(cfg)
    _unscope_collate_functions(cfg)
    _ensure_dist_backend(cfg)
    _ensure_worker_seeding(cfg)
    _configure_visualizer(cfg)
    _freeze_imported_objects()
    if "runner_type" in cfg:
        from labcore.registry import RUNNERS

        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def latest_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """The checkpoint a resumed run in ``work_dir`` continues from: the file named in
    ``last_checkpoint`` (MMEngine's record), else the ``epoch_N.pth`` or ``iter_N.pth``
    with the largest N; None when the work dir holds no checkpoint.

    Raises:
        ConfigError: there are checkpoints, but none has a name that says how far it
            trained (``epoch_N.pth`` / ``iter_N.pth``); the message lists them.
    """
    work_dir = Path(work_dir)
    record = work_dir / "last_checkpoint"
    if record.is_file():
        named = Path(record.read_text().strip())
        if named.is_file():
            return named
        print_log(
            f"{record} names {named}, which does not exist; resuming from the newest "
            f"checkpoint found instead.",
            logger="current",
            level=30,
        )
    found = sorted(work_dir.glob("*.pth"))
    progress = {p: int(m.group(2)) for p in found if (m := CHECKPOINT_NAME.fullmatch(p.name))}
    if progress:
        newest = max(progress, key=lambda p: (progress[p], p.stat().st_mtime))
        print_log(f"resuming from {newest}: the newest checkpoint in {work_dir}", logger="current")
        return newest
    if found:
        raise ConfigError(
            f"--resume: {work_dir} has no last_checkpoint file and no epoch_N.pth or "
            f"iter_N.pth, only {', '.join(p.name for p in found)}. Name the checkpoint to "
            f"resume from: --resume {found[-1]}."
        )
    return None


def _freeze_imported_objects() -> None:
    """Move every object alive now (modules, classes, functions of the ~5,000 modules a
    run imports) to the garbage collector's permanent generation (``gc.freeze``), so its
    full passes walk only what the run creates. MMEngine's datasets call
    ``gc.collect()`` once each while serializing their annotations: each call walked all
    of them, about 0.5 s of CPU before the first iteration. A process that runs runs one
    after another (labbench's worker) calls ``gc.unfreeze()`` between them."""
    gc.freeze()


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


def _record_cpu(cfg: Config, pins: CpuPins | None) -> None:
    if pins is not None:
        check_in_effect(pins)
        apply_threads(pins)
    cfg.cpu_provenance = cpu_provenance(pins)


def _drop_unrequested_validation(cfg: Config) -> None:
    """No validation loop when ``val_interval`` exceeds the training's length: MMEngine
    validates at the last epoch whatever the interval, which costs a pass over the val
    set and a best checkpoint that the config did not ask for."""
    train_cfg = cfg.get("train_cfg") or {}
    by_epoch = train_cfg.get("by_epoch", train_cfg.get("type") == "EpochBasedTrainLoop")
    length = train_cfg.get("max_epochs" if by_epoch else "max_iters")
    interval = train_cfg.get("val_interval", 1)
    if cfg.get("val_dataloader") is None or not length or interval <= length:
        return
    print_log(
        f"train_cfg.val_interval={interval} is longer than the training ({length} "
        f"{'epochs' if by_epoch else 'iterations'}): no validation while training.",
        logger="current",
    )
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None


def _unscope_collate_functions(cfg: Config) -> None:
    """A config that inherits another package's ``_base_`` (a project on labdet's
    configs) gets ``_scope_`` written into every dict with a ``type``; MMEngine's
    dataloader builder passes a ``collate_fn``'s keys to the function itself, so
    ``pseudo_collate`` would receive ``_scope_``. The function is looked up in the
    default scope either way: drop the key."""
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        loader = cfg.get(key)
        collate = loader.get("collate_fn") if isinstance(loader, dict) else None
        if isinstance(collate, dict):
            collate.pop("_scope_", None)


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
