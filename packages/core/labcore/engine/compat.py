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
- ``registry``: MMEngine's root registries check a config entry's arguments against
  its type's signature before building (:func:`labcore.registry.check_build_arguments`),
  so a misspelt key is named instead of ending in the constructor's bare TypeError.
- ``data preprocessor``: ``BaseDataPreprocessor.cast_data`` passes data samples that are
  on the model's device already through as they are, instead of copying each (with a
  deep copy of its metainfo) to the device it is on: about 30 deep copies per sample.
- ``config text``: ``Config.pretty_text`` formats with yapf each time (a runner asks
  for it about five times while it starts: logging, dumping, MLflow, checkpoints);
  the formatted text of the same code is kept, so yapf runs once per config text.
- ``visualizer figure``: ``Visualizer.__init__`` makes its matplotlib figure (importing
  matplotlib's figure and Agg canvas) in every runner, which draws nothing unless a
  visualization hook asks; the figure is made the first time it is used instead.
- MLflow 3: ``LabMLflowVisBackend`` (:mod:`labcore.engine.mlflow_backend`), set in the
  default runtime config; ``type='MLflowVisBackend'`` builds it too, in every scope.
- ``yaml``: YAML configs (and every YAML file MMEngine reads) load with a safe loader; a
  ``!!python`` tag is refused naming the file and line (:mod:`labcore.engine.config`).
- ``lazy_import``: pure-Python configs treat the standard library as built in inside a
  virtualenv too (:func:`labcore.engine.config.is_builtin_module`).
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
    _patch_cast_data()
    _patch_config_formatting()
    _patch_lazy_visualizer_figure()
    _patch_safe_yaml()
    _patch_builtin_modules()
    _patch_mlflow_backend_name()
    _patch_registry_builders()


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


def _patch_registry_builders() -> None:
    import mmengine.registry as mm_registry

    from labcore.registry import checked_build_func

    for name in dir(mm_registry):
        root = getattr(mm_registry, name)
        if isinstance(root, mm_registry.Registry) and root.parent is None:
            ORIGINALS.setdefault(f"build_func:{name}", root.build_func)
            root.build_func = checked_build_func(root.build_func)


def _patch_safe_yaml() -> None:
    import yaml
    from mmengine.config import Config
    from mmengine.fileio.handlers.yaml_handler import YamlHandler

    from labcore.engine.config import config_error_from_yaml, load_yaml_safely

    def load_from_fileobj(self, file, **kwargs):
        return load_yaml_safely(file)

    _replace(YamlHandler, "load_from_fileobj", load_from_fileobj, "YamlHandler.load_from_fileobj")
    file2dict = Config._file2dict
    ORIGINALS["Config._file2dict"] = file2dict

    def _file2dict(filename, *args, **kwargs):
        try:
            return file2dict(filename, *args, **kwargs)
        except yaml.YAMLError as err:  # raised from the temporary copy: name the real file
            raise config_error_from_yaml(filename, err) from None

    Config._file2dict = staticmethod(_file2dict)


def _patch_builtin_modules() -> None:
    import mmengine.config.config as mm_config
    import mmengine.config.utils as mm_config_utils

    from labcore.engine.config import is_builtin_module

    _replace(mm_config_utils, "_is_builtin_module", is_builtin_module)
    mm_config._is_builtin_module = is_builtin_module


def _patch_mlflow_backend_name() -> None:
    from mmengine.registry import VISBACKENDS as MM_VISBACKENDS

    from labcore.engine.mlflow_backend import LabMLflowVisBackend
    from labcore.registry import VISBACKENDS

    ORIGINALS.setdefault("VISBACKENDS:MLflowVisBackend", MM_VISBACKENDS.get("MLflowVisBackend"))
    for registry in (MM_VISBACKENDS, VISBACKENDS):
        registry.register_module(name="MLflowVisBackend", module=LabMLflowVisBackend, force=True)


def _patch_cast_data() -> None:
    import torch
    from mmengine.model import BaseDataPreprocessor
    from mmengine.structures import BaseDataElement

    original = BaseDataPreprocessor.cast_data
    ORIGINALS["BaseDataPreprocessor.cast_data"] = original

    def on_device(element: BaseDataElement, device: torch.device) -> bool:
        for value in element.values():
            if isinstance(value, torch.Tensor):
                if value.device != device:
                    return False
            elif isinstance(value, BaseDataElement):
                if not on_device(value, device):
                    return False
            elif hasattr(value, "to"):  # something else that .to() would move
                return False
        return True

    def cast_data(self, data):
        if isinstance(data, BaseDataElement) and on_device(data, self.device):
            return data
        return original(self, data)

    BaseDataPreprocessor.cast_data = cast_data


def _patch_config_formatting() -> None:
    import functools

    import mmengine.config.config as mm_config

    original = mm_config.FormatCode
    ORIGINALS["FormatCode"] = original

    @functools.lru_cache(maxsize=32)
    def format_cached(text: str, style: tuple, kwargs: tuple):
        return original(text, style_config=dict(style), **dict(kwargs))

    def format_code(text: str, style_config=None, **kwargs):
        if not isinstance(style_config, dict):
            return original(text, style_config=style_config, **kwargs)
        return format_cached(
            text, tuple(sorted(style_config.items())), tuple(sorted(kwargs.items()))
        )

    mm_config.FormatCode = format_code


class _NoFigureYet:
    """What ``Visualizer.__init__`` sees instead of its figure: the figure is made on first
    use (see :func:`_patch_lazy_visualizer_figure`)."""

    def get_dpi(self) -> None:
        return None


def _patch_lazy_visualizer_figure() -> None:
    from mmengine.visualization import Visualizer

    original = Visualizer._initialize_fig
    ORIGINALS["Visualizer._initialize_fig"] = original
    parts = ("fig_save_canvas", "fig_save", "ax_save")

    def initialize_fig(self, fig_cfg):
        if fig_cfg is self.__dict__.get("fig_save_cfg") and "_lab_figure" not in self.__dict__:
            return None, _NoFigureYet(), None  # the saving figure: made when first used
        return original(self, fig_cfg)

    def figure(self) -> tuple:
        made = self.__dict__.get("_lab_figure")
        if made is None:
            made = self.__dict__["_lab_figure"] = list(original(self, self.fig_save_cfg))
        return made

    def part(index: int) -> property:
        def get(self):
            placeholder = self.__dict__.get("_lab_no_figure_yet")
            if placeholder is not None and "_lab_dpi" not in self.__dict__:
                return placeholder  # inside __init__: ``self.dpi = self.fig_save.get_dpi()``
            return figure(self)[index]

        def set_(self, value):
            if isinstance(value, _NoFigureYet):
                self.__dict__["_lab_no_figure_yet"] = value
            elif value is not None:  # None: Visualizer.__init__ clearing the figure
                figure(self)[index] = value

        return property(get, set_)

    def get_dpi(self):
        dpi = self.__dict__.get("_lab_dpi")
        return self.fig_save.get_dpi() if dpi is None else dpi

    def set_dpi(self, value):
        self.__dict__["_lab_dpi"] = value

    Visualizer._initialize_fig = initialize_fig
    for index, name in enumerate(parts):
        setattr(Visualizer, name, part(index))
    Visualizer.dpi = property(get_dpi, set_dpi)
