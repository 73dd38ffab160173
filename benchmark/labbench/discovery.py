"""Finding the configs to benchmark.

Codebases are found only through the ``openlab.codebases`` entry points, so a
third-party codebase takes part by declaring one. Every model listed in a codebase's
``configs/**/metafile.yml`` under one or more protocols is registered.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labcore.errors import ConfigError

ENTRY_POINT_GROUP = "openlab.codebases"


@dataclass(frozen=True)
class ConfigEntry:
    """A config registered for benchmarking by a metafile.

    ``config`` is the ``pkg::rel/path.py`` name; ``path`` the file on disk.
    """

    name: str
    codebase: str
    config: str
    path: Path
    protocols: tuple[str, ...]
    task: str = ""
    collection: str = ""
    paper_title: str = ""
    paper_url: str = ""
    expected: dict[str, Any] = field(default_factory=dict)


def discover_codebases() -> dict[str, Path]:
    """Every codebase declared in the ``openlab.codebases`` entry-point group, mapped to
    its package folder. The package is located, not imported."""
    found: dict[str, Path] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module = entry_point.value.split(":")[0]
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"entry point {entry_point.name!r} of group {ENTRY_POINT_GROUP!r} names package "
                f"{module!r}, which is not importable; reinstall that distribution."
            )
        found[entry_point.name] = Path(next(iter(spec.submodule_search_locations)))
    return found


def read_metafile(path: Path, codebase: str, package_dir: Path) -> list[ConfigEntry]:
    """The entries of one metafile that name at least one protocol."""
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    papers = {}
    for collection in raw.get("Collections") or []:
        paper = collection.get("Paper") or {}
        papers[collection.get("Name")] = (paper.get("Title", ""), paper.get("URL", ""))
    configs_dir = package_dir / "configs"
    entries = []
    for model in raw.get("Models") or []:
        protocols = model.get("Protocols") or []
        if isinstance(protocols, str):
            protocols = [protocols]
        if not protocols:
            continue
        if "Config" not in model or "Name" not in model:
            raise ConfigError(
                f"metafile {path}: every model under Models needs `Name` and `Config` "
                f"(got {sorted(model)})."
            )
        rel = str(model["Config"])
        config_path = configs_dir / rel
        if not config_path.is_file():
            raise ConfigError(
                f"metafile {path}: model {model['Name']!r} names config {rel!r}, which does not "
                f"exist under {configs_dir}; fix the `Config` path (relative to configs/)."
            )
        title, url = papers.get(model.get("Collection"), ("", ""))
        entries.append(
            ConfigEntry(
                name=str(model["Name"]),
                codebase=codebase,
                config=f"{package_dir.name}::{rel}",
                path=config_path,
                protocols=tuple(str(p) for p in protocols),
                task=str(model.get("Task", "")),
                collection=str(model.get("Collection", "")),
                paper_title=title,
                paper_url=url,
                expected=dict(model.get("Expected") or {}),
            )
        )
    return entries


def registered_configs(codebases: dict[str, Path] | None = None) -> list[ConfigEntry]:
    """Every config that any codebase's metafiles register under a protocol, sorted by
    codebase and name. Two entries with the same name raise ConfigError."""
    if codebases is None:
        codebases = discover_codebases()
    entries: list[ConfigEntry] = []
    for codebase, package_dir in sorted(codebases.items()):
        for metafile in sorted((package_dir / "configs").glob("**/metafile.yml")):
            entries.extend(read_metafile(metafile, codebase, package_dir))
    seen: dict[str, ConfigEntry] = {}
    for entry in entries:
        if entry.name in seen:
            raise ConfigError(
                f"model name {entry.name!r} is registered twice ({seen[entry.name].path} and "
                f"{entry.path}); model names must be unique across codebases."
            )
        seen[entry.name] = entry
    return sorted(entries, key=lambda e: (e.codebase, e.name))
