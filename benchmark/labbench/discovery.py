"""Finding the configs to benchmark.

Codebases are found only through the ``openlab.codebases`` entry points, so a
third-party codebase takes part by declaring one. Every model listed in a codebase's
``configs/**/metafile.yml`` under one or more protocols is registered.

A model's ``DefaultSweep: true | false`` says whether plain ``labbench`` trains it; the
rest run with ``labbench --all``. Where no model of a protocol states it, all of them are
in the default sweep (see :func:`default_sweep`); a protocol's baseline always is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labcore.codebase import discover_codebases as find_codebases
from labcore.errors import ConfigError

PROJECTS_ENV = "OPENLAB_PROJECTS"


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
    # the metafile's DefaultSweep: True / False, None when the metafile does not say
    default_sweep: bool | None = None


def default_sweep(entries: list[ConfigEntry], protocol: str, baseline: str | None) -> set[str]:
    """The names of the configs that plain ``labbench`` runs under ``protocol``: those
    marked ``DefaultSweep: true`` and the baseline; every config of the protocol when
    none of them states ``DefaultSweep``."""
    members = [e for e in entries if protocol in e.protocols]
    if all(e.default_sweep is None for e in members):
        return {e.name for e in members}
    return {e.name for e in members if e.default_sweep or e.name == baseline}


def discover_codebases() -> dict[str, Path]:
    """Every installed codebase (:func:`labcore.codebase.discover_codebases`, the
    ``openlab.codebases`` entry points), mapped to its package folder."""
    return {name: codebase.package_dir for name, codebase in find_codebases().items()}


def discover_projects() -> list[Path]:
    """Every project folder (``projects/NAME`` with a ``configs/`` folder) under the
    folders of ``$OPENLAB_PROJECTS`` (os.pathsep-separated), else under ``./projects``.

    A project is a new algorithm that plugs into a codebase without changing it; its
    ``configs/metafile.yml`` names that codebase (``Codebase: labdet``) and registers its
    configs with protocols, like a codebase's metafiles (docs/projects.md).
    """
    roots = [Path(p) for p in os.environ.get(PROJECTS_ENV, "").split(os.pathsep) if p]
    roots = roots or [Path.cwd() / "projects"]
    return sorted(
        folder for root in roots if root.is_dir() for folder in root.iterdir()
        if (folder / "configs").is_dir()
    )  # fmt: skip


def read_project_metafiles(project: Path) -> list[ConfigEntry]:
    """The entries of a project's metafiles; their configs are named by file path."""
    entries = []
    for metafile in sorted((project / "configs").glob("**/metafile.yml")):
        raw = yaml.safe_load(metafile.read_text()) or {}
        codebase = raw.get("Codebase")
        if not codebase:
            raise ConfigError(
                f"project metafile {metafile} names no codebase: add `Codebase: labdet` (the "
                f"codebase the project plugs into) at its top level."
            )
        entries.extend(read_metafile(metafile, str(codebase), project, by_path=True))
    return entries


def read_metafile(
    path: Path, codebase: str, package_dir: Path, *, by_path: bool = False
) -> list[ConfigEntry]:
    """The entries of one metafile that name at least one protocol. Configs are named
    ``<package>::rel/path.py``, or by their file path with ``by_path`` (projects)."""
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
        flag = model.get("DefaultSweep")
        if flag is not None and not isinstance(flag, bool):
            raise ConfigError(
                f"metafile {path}: model {model['Name']!r} has DefaultSweep: {flag!r}; write "
                "`DefaultSweep: true` (plain `labbench` trains it) or `false` (only `--all`)."
            )
        title, url = papers.get(model.get("Collection"), ("", ""))
        entries.append(
            ConfigEntry(
                name=str(model["Name"]),
                codebase=codebase,
                config=str(config_path.resolve()) if by_path else f"{package_dir.name}::{rel}",
                path=config_path,
                protocols=tuple(str(p) for p in protocols),
                task=str(model.get("Task", "")),
                collection=str(model.get("Collection", "")),
                paper_title=title,
                paper_url=url,
                expected=dict(model.get("Expected") or {}),
                default_sweep=flag,
            )
        )
    return entries


def registered_configs(codebases: dict[str, Path] | None = None) -> list[ConfigEntry]:
    """Every config that any codebase's metafiles (and, when ``codebases`` is not given,
    any project's) register under a protocol, sorted by codebase and name. Two entries
    with the same name raise ConfigError."""
    projects: list[Path] = []
    if codebases is None:
        codebases = discover_codebases()
        projects = discover_projects()
    entries: list[ConfigEntry] = []
    for codebase, package_dir in sorted(codebases.items()):
        for metafile in sorted((package_dir / "configs").glob("**/metafile.yml")):
            entries.extend(read_metafile(metafile, codebase, package_dir))
    for project in projects:
        entries.extend(read_project_metafiles(project))
    seen: dict[str, ConfigEntry] = {}
    for entry in entries:
        if entry.name in seen:
            raise ConfigError(
                f"model name {entry.name!r} is registered twice ({seen[entry.name].path} and "
                f"{entry.path}); model names must be unique across codebases."
            )
        seen[entry.name] = entry
    return sorted(entries, key=lambda e: (e.codebase, e.name))
