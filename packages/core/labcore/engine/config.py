"""Loading configs: ``pkg::rel/path.py`` names and checked ``--cfg-options``.

A config name ``labcls::resnet/resnet18_tiny_shapes.py`` resolves to the file
``configs/resnet/resnet18_tiny_shapes.py`` inside the installed ``labcls`` package,
found through :mod:`importlib` so it works from any folder and for editable installs.
The same names work in ``_base_`` lists inside config files (the resolution is
installed into MMEngine's Config by :mod:`labcore.engine.compat`).

``--cfg-options`` may only change keys that exist in the config; a key that does not
exist is almost always a typo, so it raises :class:`ConfigError` with close matches.
A new key is added on purpose by prefixing it with ``+``: ``+model.backbone.with_cp=True``.

YAML and JSON configs are data: they are read with a safe YAML loader
(:class:`SafeConfigLoader`, installed into MMEngine by :mod:`labcore.engine.compat`),
which refuses tags that build Python objects (``!!python/object/apply:os.system``) and
names the file and line. Pure-Python (lazy-import) configs may import the standard
library inside a virtualenv (:func:`is_builtin_module`).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from mmengine.config import Config

from labcore.errors import ConfigError, close_matches

PACKAGE_SEPARATOR = "::"
NEW_KEY_PREFIX = "+"


def package_configs_root(package: str) -> Path:
    """The ``configs`` folder shipped inside the importable package ``package``.

    Raises:
        ConfigError: the package is not installed or ships no ``configs`` folder.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"Config package '{package}' is not installed (no importable package of that name). "
            f"Install it (e.g. `pip install -e packages/<name>`) or fix the part before '::'."
        )
    for location in spec.submodule_search_locations:
        root = Path(location) / "configs"
        if root.is_dir():
            return root
    raise ConfigError(
        f"Package '{package}' ships no configs folder (looked in "
        f"{list(spec.submodule_search_locations)}). Use a config file path instead."
    )


def list_package_configs(package: str) -> list[str]:
    """Every config of ``package`` as a path relative to its ``configs`` folder."""
    root = package_configs_root(package)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))


def resolve_config_path(name: str | os.PathLike) -> Path:
    """The file a config name points to.

    Args:
        name: ``pkg::rel/path.py`` (resolved inside the installed package's ``configs``
            folder) or a plain file path.

    Raises:
        ConfigError: the file does not exist; for ``pkg::`` names the message lists the
            package's configs closest to the requested one.
    """
    name = os.fspath(name)
    if PACKAGE_SEPARATOR not in name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"Config file '{name}' does not exist. Give a path to a config file or a "
                f"packaged config such as 'labcls::resnet/resnet18_tiny_shapes.py'."
            )
        return path
    package, _, relative = name.partition(PACKAGE_SEPARATOR)
    if not package or not relative or PACKAGE_SEPARATOR in relative:
        raise ConfigError(
            f"Config name '{name}' is malformed: write it as 'package::relative/path.py'."
        )
    root = package_configs_root(package)
    path = root / relative
    if path.is_file():
        return path
    available = list_package_configs(package)
    matches = close_matches(relative, available)
    if not matches:  # compare file names when the folders differ
        stems = {Path(a).name: a for a in available}
        matches = [stems[m] for m in close_matches(Path(relative).name, stems)]
    hint = (
        f" Did you mean: {', '.join(f'{package}::{m}' for m in matches)}?"
        if matches
        else f" `lab info` and the folder {root} list the available configs."
    )
    raise ConfigError(f"Config '{name}' does not exist: no file {path}.{hint}")


def project_root(file: str | os.PathLike) -> Path | None:
    """The folder that holds the ``projects/`` folder a config file lives in, or None.

    A config of ``<root>/projects/NAME/configs/x.py`` imports its project's modules with
    ``custom_imports = dict(imports=["projects.NAME.module"])``; that works from any
    working directory because :func:`load_config` puts ``<root>`` on ``sys.path`` first.
    """
    for folder in Path(file).resolve().parents:
        if folder.name == "projects":
            return folder.parent
    return None


def add_project_root_to_path(file: str | os.PathLike) -> None:
    """Make ``projects.NAME`` importable for a config inside a ``projects/`` folder."""
    root = project_root(file)
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))


def load_config(path: str | os.PathLike, cfg_options: dict[str, Any] | None = None) -> Config:
    """Load a config file or packaged config and apply ``cfg_options``.

    Args:
        path: a config file path or ``pkg::rel/path.py``.
        cfg_options: ``{"dotted.key": value}`` overrides, as parsed from ``--cfg-options``.
            Each key must exist in the config (list items by index: ``pipeline.0.type``);
            prefix a key with ``+`` to add a new one.

    Raises:
        ConfigError: the file is missing, cannot be parsed, or an override key does not
            exist.
    """
    file = resolve_config_path(path)
    add_project_root_to_path(file)
    try:
        cfg = Config.fromfile(str(file))
    except ConfigError:
        raise
    except Exception as err:  # anything a config file's code can raise while it is read
        raise ConfigError(
            f"Config '{path}' cannot be loaded ({file}): {type(err).__name__}: {err}. Fix the "
            f"config file (or its _base_ files) and run again."
        ) from err
    if cfg_options:
        apply_cfg_options(cfg, cfg_options)
    return cfg


def apply_cfg_options(cfg: Config, cfg_options: dict[str, Any]) -> None:
    """Merge ``{"dotted.key": value}`` into ``cfg`` after checking that each key exists.

    Raises:
        ConfigError: naming the first key that does not exist, the part of it that is
            missing, and the close matches found at that level.
    """
    checked = {}
    for full_key, value in cfg_options.items():
        if full_key.startswith(NEW_KEY_PREFIX):
            checked[full_key[len(NEW_KEY_PREFIX) :]] = value
            continue
        _check_key_exists(cfg, full_key)
        checked[full_key] = value
    cfg.merge_from_dict(checked, allow_list_keys=True)


def _check_key_exists(cfg: Config, full_key: str) -> None:
    node: Any = cfg._cfg_dict
    parts = full_key.split(".")
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the top level"
        if isinstance(node, dict):
            if part in node:
                node = node[part]
                continue
            matches = close_matches(part, [str(k) for k in node])
            hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
            raise ConfigError(
                f"--cfg-options key '{full_key}' does not exist: '{part}' is not a key of "
                f"{where}.{hint} To add a new key on purpose, write '+{full_key}=...'."
            )
        if isinstance(node, (list, tuple)):
            if part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                node = node[int(part)]
                continue
            raise ConfigError(
                f"--cfg-options key '{full_key}' does not exist: {where} is a list of "
                f"{len(node)} items, so '{part}' must be an index from 0 to {len(node) - 1}."
            )
        raise ConfigError(
            f"--cfg-options key '{full_key}' does not exist: {where} holds "
            f"{type(node).__name__} {node!r}, not a dict. Override {where} itself instead."
        )


_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SafeConfigLoader(_SafeBase):
    """YAML's safe loader plus ``!!python/tuple`` (which MMEngine's YAML dumper writes
    for tuples); every other ``!!python`` tag is refused."""


SafeConfigLoader.add_constructor(
    "tag:yaml.org,2002:python/tuple",
    lambda loader, node: tuple(loader.construct_sequence(node)),
)


def load_yaml_safely(stream, **kwargs):
    """``yaml.load`` with :class:`SafeConfigLoader`; MMEngine's YAML handler is this.
    A ``Loader`` argument is ignored: no caller may choose an unsafe one."""
    return yaml.load(stream, Loader=SafeConfigLoader)


def config_error_from_yaml(filename: str | os.PathLike, err: yaml.YAMLError) -> ConfigError:
    """A ConfigError naming ``filename`` and the line of a YAML error (a refused tag or
    a syntax error)."""
    mark = getattr(err, "problem_mark", None)
    where = f"{filename}, line {mark.line + 1}, column {mark.column + 1}" if mark else filename
    problem = getattr(err, "problem", None) or str(err)
    if isinstance(err, yaml.constructor.ConstructorError) and "python/" in problem:
        return ConfigError(
            f"Config {where}: {problem}. YAML and JSON configs are data; tags that run "
            f"Python (!!python/...) are refused. Remove the tag, or write the config in Python."
        )
    return ConfigError(f"Config {where} is not valid YAML: {problem}. Fix the file.")


def is_builtin_module(module_name: str) -> bool:
    """MMEngine's ``_is_builtin_module`` that also knows the standard library inside a
    virtualenv: a module of :data:`sys.stdlib_module_names` is built in, wherever the
    interpreter lives (MMEngine compares the module's path with the interpreter's
    prefix, which a virtualenv moves, so ``import os`` became a lazy import there)."""
    if module_name.startswith("."):
        return False
    if module_name.startswith("mmengine.config"):
        return True
    top = module_name.split(".")[0]
    return top in sys.builtin_module_names or top in sys.stdlib_module_names
