"""Fixes for MMEngine 0.10.7 on torch >= 2.6, MLflow 3 and setuptools without
pkg_resources. Applied once, when labcore is imported.

Each fix replaces one MMEngine function by its OpenLab version; the replaced
originals stay in :data:`ORIGINALS` (tests call them to show the failure that the fix
removes):

- ``package_utils``: ``is_installed``, ``get_installed_path``, ``package2module`` on
  importlib (:mod:`labcore.engine.package_utils`).
- ``config``: ``pkg::rel/path.py`` names in ``_base_`` resolve inside the installed
  package's ``configs`` folder (:mod:`labcore.engine.config`).
- ``checkpoint``: local and http checkpoints load with ``weights_only=True`` and an
  allowlist of MMEngine's own classes (:mod:`labcore.engine.checkpoint`).
- ``dist``: process groups start on CPU-only machines (gloo, no ``cuda.set_device``),
  Slurm ranks come from ``SLURM_*`` variables, and DDP wraps CPU models without
  ``device_ids`` (:mod:`labcore.engine.dist`).
- MLflow 3: ``LabMLflowVisBackend`` (:mod:`labcore.engine.mlflow_backend`), set in the
  default runtime config.
"""

from __future__ import annotations

from typing import Any

ORIGINALS: dict[str, Any] = {}
_applied = False


def apply() -> None:
    """Apply every fix; calling it again does nothing."""
    global _applied
    if _applied:
        return
    _applied = True
    _patch_package_utils()
    _patch_config_paths()
    _patch_checkpoint_loaders()
    _patch_distributed()


def _replace(owner, name: str, new, key: str | None = None) -> None:
    ORIGINALS.setdefault(key or name, getattr(owner, name))
    setattr(owner, name, new)


def _patch_package_utils() -> None:
    import mmengine.config.config as mm_config
    import mmengine.hub.hub as mm_hub
    import mmengine.utils as mm_utils
    import mmengine.utils.package_utils as mm_package_utils

    from labcore.engine import package_utils

    for name in ("is_installed", "get_installed_path", "package2module"):
        _replace(mm_package_utils, name, getattr(package_utils, name))
        for module in (mm_utils, mm_config, mm_hub):  # modules that imported the names
            if hasattr(module, name):
                setattr(module, name, getattr(package_utils, name))


def _get_cfg_path(cfg_path: str, filename: str):
    """``Config._get_cfg_path`` that resolves ``pkg::`` names through importlib."""
    from labcore.engine.config import PACKAGE_SEPARATOR, resolve_config_path

    if PACKAGE_SEPARATOR in cfg_path:
        return str(resolve_config_path(cfg_path)), cfg_path.partition(PACKAGE_SEPARATOR)[0]
    return ORIGINALS["Config._get_cfg_path"](cfg_path, filename)


def _patch_config_paths() -> None:
    from mmengine.config import Config

    ORIGINALS["Config._get_cfg_path"] = Config._get_cfg_path
    Config._get_cfg_path = staticmethod(_get_cfg_path)


def _patch_checkpoint_loaders() -> None:
    import mmengine.runner.checkpoint as mm_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader

    from labcore.engine import checkpoint

    for prefix, loader in checkpoint.LOADERS.items():
        ORIGINALS[f"load_checkpoint:{prefix}"] = CheckpointLoader._schemes[prefix]
        CheckpointLoader.register_scheme(prefixes=prefix, loader=loader, force=True)
    # torchvision://, open-mmlab://, mmcls:// loaders call these by their module names
    _replace(mm_checkpoint, "load_from_local", checkpoint.load_from_local)
    _replace(mm_checkpoint, "load_from_http", checkpoint.load_from_http)


def _patch_distributed() -> None:
    import mmengine.dist as mm_dist
    import mmengine.dist.utils as mm_dist_utils
    import mmengine.runner.runner as mm_runner
    from mmengine.model.wrappers import MMDistributedDataParallel

    from labcore.engine.dist import init_dist

    _replace(mm_dist_utils, "init_dist", init_dist)
    mm_dist.init_dist = init_dist
    mm_runner.init_dist = init_dist

    original_init = MMDistributedDataParallel.__init__
    ORIGINALS["MMDistributedDataParallel.__init__"] = original_init

    def ddp_init(self, module, detect_anomalous_params: bool = False, **kwargs):
        devices = {p.device.type for p in module.parameters()}
        if devices <= {"cpu"}:  # DDP accepts device_ids only for GPU modules
            kwargs.pop("device_ids", None)
            kwargs.pop("output_device", None)
        original_init(self, module, detect_anomalous_params=detect_anomalous_params, **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init
