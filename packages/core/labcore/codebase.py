"""The interface every OpenLab codebase declares, and how codebases are found.

A codebase (labcls, labdet, a third-party one) is a distribution that declares one entry
point in the group ``openlab.codebases``, naming a :class:`Codebase` object in a small
module of its own::

    # pyproject.toml
    [project.entry-points."openlab.codebases"]
    labdet = "labdet.codebase:CODEBASE"

    # labdet/codebase.py
    from labcore.codebase import Codebase
    CODEBASE = Codebase(name="labdet", apis="labdet.apis", description="object detection")

That object is the whole contract:

- ``name``: the import name, which is also the registry scope (``default_scope`` of the
  codebase's configs) and the part before ``::`` in config names;
- the config folder (``<package>/configs``) and the metafiles inside it, which register
  configs with the benchmark's protocols, and optionally protocols of its own
  (``<package>/protocols/*.yaml``);
- the inference API, in the module ``apis`` names, with one signature everywhere::

      init_model(config, checkpoint=None, *, device="cpu", strict=True, cfg_options=None)
      inference(model, inputs)                 # one data sample, or a list for a list
      format_result(result, **display_options) -> str
      show_result(image, result, *, out_file=None, **display_options)

- optionally, commands of its own under ``lab data`` (:class:`DataCommand`: a name, a
  one-line help and a module with ``add_arguments(parser)`` and ``run(args) -> int``),
  e.g. labrot's ``lab data split-dota``; the module is imported only when its command
  runs.

``lab infer``, ``lab test``, the zoo client and the benchmark harness find codebases
only through :func:`discover_codebases`, and call the API only through a
:class:`Codebase`; a piece that is missing raises :class:`CodebaseError` naming the
codebase and the piece. Discovery imports only each ``codebase`` module, which is small:
the models load when the API is first used.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from labcore.errors import LabError, close_matches

ENTRY_POINT_GROUP = "openlab.codebases"
API_FUNCTIONS = ("init_model", "inference", "format_result", "show_result")


class CodebaseError(LabError):
    """A codebase is not installed, or lacks a piece of the interface it declares."""


def _import_declared(module: str, missing: str) -> ModuleType:
    """The module a codebase declares; ``missing`` is the CodebaseError's message when the
    module itself does not exist (an import error inside an existing module propagates)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and not module.startswith(err.name):
            raise  # the module exists; something it imports is missing
        raise CodebaseError(missing) from err


@dataclass(frozen=True)
class DataCommand:
    """A ``lab data`` sub-command that a codebase adds.

    Attributes:
        name: the sub-command, e.g. ``"split-dota"`` (``lab data split-dota``).
        module: the module holding ``add_arguments(parser)`` and ``run(args) -> int``,
            imported only when the command runs (``lab data --help`` lists ``help``).
        help: one line for ``lab data --help``.
    """

    name: str
    module: str
    help: str = ""

    def load(self, codebase: str = "") -> tuple[Callable, Callable]:
        """``(add_arguments, run)`` of the command's module."""
        owner = f"Codebase '{codebase}'" if codebase else "A codebase"
        module = _import_declared(
            self.module,
            f"{owner} declares the data command '{self.name}' in the module "
            f"'{self.module}', which does not exist; fix its DataCommand.",
        )
        functions = [getattr(module, name, None) for name in ("add_arguments", "run")]
        if not all(callable(f) for f in functions):
            raise CodebaseError(
                f"{owner} declares the data command '{self.name}' in '{self.module}', which "
                f"lacks add_arguments(parser) or run(args); a data command module has both."
            )
        return functions[0], functions[1]


@dataclass(frozen=True)
class Codebase:
    """What a codebase declares (see the module docstring).

    Attributes:
        name: import name = registry scope = entry-point name, e.g. ``"labdet"``.
        apis: the module holding the inference API, e.g. ``"labdet.apis"``.
        description: one line for ``lab info`` and the docs.
        display_options: keyword options that ``format_result`` and ``show_result``
            accept besides the result (labcls: ``("topk",)``); ``lab infer`` offers them.
        data_commands: sub-commands the codebase adds to ``lab data``.
    """

    name: str
    apis: str
    description: str = ""
    display_options: tuple[str, ...] = ()
    data_commands: tuple[DataCommand, ...] = ()

    @property
    def package_dir(self) -> Path:
        """The folder of the codebase's package, located without importing it."""
        spec = importlib.util.find_spec(self.name)
        if spec is None or not spec.submodule_search_locations:
            raise CodebaseError(
                f"Codebase '{self.name}' declares an entry point but its package is not "
                f"importable; reinstall its distribution (pip install -e packages/<name>)."
            )
        return Path(next(iter(spec.submodule_search_locations)))

    @property
    def config_dir(self) -> Path:
        """``<package>/configs``: the configs named ``<name>::rel/path.py``."""
        return self.package_dir / "configs"

    @property
    def protocol_dir(self) -> Path:
        """``<package>/protocols``: benchmark protocols the codebase ships (optional)."""
        return self.package_dir / "protocols"

    def metafiles(self) -> list[Path]:
        """Every ``metafile.yml`` under the config folder, sorted."""
        return sorted(self.config_dir.glob("**/metafile.yml"))

    def api(self, function: str) -> Callable:
        """The API function ``function`` (one of :data:`API_FUNCTIONS`)."""
        if function not in API_FUNCTIONS:
            raise ValueError(f"{function!r} is not part of the codebase API {API_FUNCTIONS}")
        module = _import_declared(
            self.apis,
            f"Codebase '{self.name}' names the API module '{self.apis}', which does not "
            f"exist; fix `apis` in {self.name}'s Codebase declaration.",
        )
        found = getattr(module, function, None)
        if not callable(found):
            raise CodebaseError(
                f"Codebase '{self.name}' has no `{function}` in its API module '{self.apis}'; "
                f"a codebase provides {', '.join(API_FUNCTIONS)} there (see labcore.codebase)."
            )
        return found

    def init_model(
        self,
        config,
        checkpoint: str | os.PathLike | None = None,
        *,
        device: str = "cpu",
        strict: bool = True,
        cfg_options: dict | None = None,
    ):
        """The codebase's ``init_model``: a model in eval mode with ``cfg`` and
        ``dataset_meta``."""
        return self.api("init_model")(
            config, checkpoint, device=device, strict=strict, cfg_options=cfg_options
        )

    def inference(self, model, inputs):
        """The codebase's ``inference``: one data sample, or a list for a list of inputs."""
        return self.api("inference")(model, inputs)

    def format_result(self, result, **display_options) -> str:
        self.check_display_options(display_options)
        return self.api("format_result")(result, **display_options)

    def show_result(self, image, result, *, out_file=None, **display_options):
        self.check_display_options(display_options)
        return self.api("show_result")(image, result, out_file=out_file, **display_options)

    def check_display_options(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - set(self.display_options))
        if unknown:
            offered = ", ".join(self.display_options) or "none"
            raise CodebaseError(
                f"Codebase '{self.name}' does not take the display option(s) "
                f"{', '.join(unknown)} (it offers: {offered}); leave them out."
            )


@cache
def _discover() -> tuple[tuple[str, Codebase], ...]:
    found: dict[str, Codebase] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            declared = entry_point.load()
        except (ImportError, AttributeError) as err:
            raise CodebaseError(
                f"The entry point {entry_point.name!r} = {entry_point.value!r} of group "
                f"{ENTRY_POINT_GROUP!r} cannot be loaded ({err}); it must name a Codebase "
                f"object, e.g. '{entry_point.name}.codebase:CODEBASE'. Reinstall or fix that "
                f"distribution."
            ) from err
        if not isinstance(declared, Codebase):
            raise CodebaseError(
                f"The entry point {entry_point.name!r} of group {ENTRY_POINT_GROUP!r} names "
                f"{entry_point.value!r}, a {type(declared).__name__}, not a "
                f"labcore.codebase.Codebase; declare one (see labcore.codebase)."
            )
        if declared.name != entry_point.name:
            raise CodebaseError(
                f"The entry point {entry_point.name!r} declares a codebase named "
                f"{declared.name!r}; the entry point's name must be the codebase's name."
            )
        found[declared.name] = declared
    return tuple(sorted(found.items()))


def discover_codebases() -> dict[str, Codebase]:
    """Every installed codebase, by name, from the ``openlab.codebases`` entry points."""
    return dict(_discover())


def refresh_codebases() -> None:
    """Forget what :func:`discover_codebases` found (after installing a distribution)."""
    _discover.cache_clear()


def discover_data_commands() -> dict[str, tuple[Codebase, DataCommand]]:
    """Every installed codebase's ``lab data`` sub-commands, by name, with their codebase;
    two codebases declaring one name raise a :class:`CodebaseError` naming both."""
    found: dict[str, tuple[Codebase, DataCommand]] = {}
    for codebase in discover_codebases().values():
        for command in codebase.data_commands:
            if command.name in found:
                raise CodebaseError(
                    f"Codebases '{found[command.name][0].name}' and '{codebase.name}' both "
                    f"declare the data command '{command.name}'; rename one of them."
                )
            found[command.name] = (codebase, command)
    return found


def get_codebase(name: str) -> Codebase:
    """The installed codebase ``name``; a name that is not installed lists close ones."""
    codebases = discover_codebases()
    if name in codebases:
        return codebases[name]
    matches = close_matches(name, codebases)
    hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
    raise CodebaseError(
        f"No installed codebase is named '{name}' (installed: "
        f"{', '.join(codebases) or 'none'}).{hint} Install it, or fix the name "
        f"(the config's default_scope or the part before '::')."
    )


def codebase_of_config(cfg) -> Codebase:
    """The codebase that a config's ``default_scope`` names."""
    scope = cfg.get("default_scope")
    if not scope:
        raise CodebaseError(
            f"Config {getattr(cfg, 'filename', None) or ''} sets no default_scope, so it names "
            f"no codebase to run it; set default_scope = 'labcls' (or labdet, ...) in it."
        )
    return get_codebase(scope)


def init_model(
    *,
    scope: str,
    config,
    checkpoint: str | os.PathLike | None = None,
    device: str = "cpu",
    strict: bool = True,
    cfg_options: dict | None = None,
):
    """The shared body of every codebase's ``init_model``.

    Builds ``cfg.model`` in ``scope`` (a top-level ``data_preprocessor`` is passed to the
    model when the model config has none), loads ``checkpoint`` from any source that
    :func:`labcore.engine.checkpoint.read_checkpoint` reads (a path, ``.safetensors``,
    http(s), ``zoo://NAME``) with :func:`labcore.engine.checkpoint.load_state_dict`'s
    strictness, and returns the model in eval mode on ``device`` with ``model.cfg`` and
    ``model.dataset_meta`` (the checkpoint's ``meta.dataset_meta``, else the classes the
    config's test dataset names, else ``{}``).

    Raises:
        ConfigError: the config is missing or invalid.
        CheckpointError: the checkpoint is missing, unreadable or, with ``strict``, does
            not fit the model (the keys are named).
    """
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from labcore.engine.checkpoint import load_state_dict, read_checkpoint
    from labcore.engine.config import load_config
    from labcore.registry import MODELS

    if isinstance(config, Config):
        cfg = config.copy()
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    else:
        cfg = load_config(config, cfg_options)
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model)
    if cfg.get("data_preprocessor") is not None:
        model_cfg.setdefault("data_preprocessor", dict(cfg.data_preprocessor))
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    dataset_meta: dict = {}
    if checkpoint is not None:
        loaded = read_checkpoint(checkpoint)
        load_state_dict(model, loaded.state_dict, strict=strict, source=loaded.source)
        dataset_meta = dict(loaded.meta.get("dataset_meta") or {})
    model.cfg = cfg
    model.dataset_meta = dataset_meta or config_dataset_meta(cfg)
    return model.to(device).eval()


def config_dataset_meta(cfg) -> dict:
    """``classes`` of a config's test (or val) dataset, read without loading its data:
    ``classes``/``metainfo.classes`` in the config, or a ``classes.txt`` in its data root."""
    for key in ("test_dataloader", "val_dataloader"):
        dataset = (cfg.get(key) or {}).get("dataset") or {}
        metainfo = dataset.get("metainfo")
        classes = dataset.get("classes") or (
            metainfo.get("classes") if isinstance(metainfo, dict) else None
        )
        if classes is None and dataset.get("data_root"):
            path = Path(dataset["data_root"]) / "classes.txt"
            if path.is_file():
                classes = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if classes:
            return dict(classes=tuple(classes))
    return {}
