"""Model-zoo manifests: ``model_zoo/<codebase>.yml``, one entry per published model.

A manifest is YAML validated by the pydantic models below (``model_zoo/schema.json`` is
their JSON schema, for editors and other tools)::

    schema_version: 1
    codebase: labcls
    models:
      - name: resnet18_tiny_shapes
        codebase: labcls
        config: labcls::resnet/resnet18_tiny_shapes.py
        task: image-classification
        protocol: {name: cls-shapes-tiny, version: 1}
        metrics: {top1: {mean: 0.95, std: 0.01, published: 0.96}}
        seeds: [0, 1, 2]
        published_seed: 1
        params: 2790000
        flops: 37000000
        weights:
          path: labcls/resnet18_tiny_shapes/resnet18_tiny_shapes-3f2a9c1d.safetensors
          urls: [https://example.org/zoo/labcls/resnet18_tiny_shapes/resnet18_...safetensors]
          sha256: 3f2a9c1d...  # 64 hex digits
          size: 11170000
          format: safetensors
          layout: openlab
        mlflow_run_id: 0123abcd...
        git_commit: 367794a...
        date: 2026-11-25
        license: Apache-2.0

``metrics.<name>.published`` is the value the published seed's weights reach, so a user
who evaluates the downloaded weights under the protocol gets exactly that number.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from filelock import FileLock
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labcore.errors import close_matches
from labcore.zoo import settings
from labcore.zoo.errors import ZooError

SCHEMA_VERSION = 1
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.+-]*$"
LAYOUTS = ("openlab", "torchvision", "openmmlab")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProtocolRef(_Strict):
    """The benchmark protocol (``benchmark/protocols/<name>.yaml``) and its version."""

    name: str
    version: int = Field(ge=1)


class MetricSummary(_Strict):
    """A metric over the protocol's seeds, and the value of the published seed."""

    mean: float
    std: float = Field(ge=0)
    published: float | None = None


class WeightsFile(_Strict):
    """One weights file: where to get it and how to check it.

    ``path`` is the file's place under any zoo base URL (mirrors add it to their base);
    ``layout`` names the key layout of the state dict: ``openlab`` loads as is,
    ``torchvision`` and ``openmmlab`` go through :mod:`labcore.models.convert`
    (``family`` names the architecture family, e.g. ``resnet``).
    """

    path: str
    urls: list[str] = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(gt=0)
    format: Literal["safetensors", "pth"] = "safetensors"
    layout: Literal["openlab", "torchvision", "openmmlab"] = "openlab"
    family: str | None = None

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @model_validator(mode="after")
    def _family_for_conversions(self) -> WeightsFile:
        if self.layout != "openlab" and not self.family:
            raise ValueError(f"layout '{self.layout}' needs `family` (e.g. family: resnet)")
        return self


class ZooEntry(_Strict):
    """One published model."""

    name: str = Field(pattern=NAME_PATTERN)
    codebase: str
    config: str
    task: str
    protocol: ProtocolRef
    metrics: dict[str, MetricSummary]
    seeds: list[int] = Field(min_length=1)
    published_seed: int
    params: int = Field(ge=0)
    flops: int | None = Field(default=None, ge=0)
    weights: WeightsFile
    mlflow_run_id: str | None = None
    git_commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{7,40}$")
    date: datetime.date
    license: str

    @model_validator(mode="after")
    def _published_seed_is_a_seed(self) -> ZooEntry:
        if self.published_seed not in self.seeds:
            raise ValueError(f"published_seed {self.published_seed} is not in seeds {self.seeds}")
        return self


class Manifest(_Strict):
    """The content of one ``model_zoo/<codebase>.yml``."""

    schema_version: Literal[1] = SCHEMA_VERSION
    codebase: str
    models: list[ZooEntry] = Field(default_factory=list)

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ZooEntry]) -> list[ZooEntry]:
        names = [m.name for m in models]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"model names must be unique; repeated: {repeated}")
        return models

    @model_validator(mode="after")
    def _entries_of_this_codebase(self) -> Manifest:
        for m in self.models:
            if m.codebase != self.codebase:
                raise ValueError(
                    f"model '{m.name}' has codebase '{m.codebase}', not '{self.codebase}'"
                )
        return self


def json_schema() -> dict:
    """The JSON schema of a manifest file (written to ``model_zoo/schema.json``)."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "OpenLab model-zoo manifest"
    return schema


def read_manifest(path: str | Path) -> Manifest:
    """Parse and validate one manifest file; errors name the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ZooError(f"manifest {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ZooError(f"manifest {path} is not valid YAML: {err}") from None
    if data is None:
        data = {"codebase": path.stem}
    try:
        return Manifest.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<top>'}: {e['msg']}" for e in err.errors()
        )
        raise ZooError(f"manifest {path} is invalid: {problems}") from None


def manifest_files(locations: Iterable[Path] | None = None) -> list[Path]:
    """The ``*.yml`` manifests in the given folders/files (default: settings)."""
    files: list[Path] = []
    for location in settings.manifest_locations() if locations is None else locations:
        location = Path(location)
        if location.is_dir():
            files += sorted(p for p in location.glob("*.yml"))
        elif location.is_file():
            files.append(location)
    return files


def all_entries(locations: Iterable[Path] | None = None) -> list[ZooEntry]:
    """Every entry of every manifest; a name published twice is an error."""
    entries: dict[str, tuple[ZooEntry, Path]] = {}
    for path in manifest_files(locations):
        for entry in read_manifest(path).models:
            if entry.name in entries:
                raise ZooError(
                    f"model '{entry.name}' is published in both {entries[entry.name][1]} and "
                    f"{path}; remove one of the entries"
                )
            entries[entry.name] = (entry, path)
    return [e for e, _ in entries.values()]


def find_entry(name: str, locations: Iterable[Path] | None = None) -> ZooEntry:
    """The entry called ``name``; an unknown name lists close matches."""
    entries = {e.name: e for e in all_entries(locations)}
    if name in entries:
        return entries[name]
    where = ", ".join(str(p) for p in settings.manifest_locations()) or "(none found)"
    matches = close_matches(name, entries)
    hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
    raise ZooError(
        f"no model called '{name}' in the model zoo (manifests: {where}).{hint} "
        f"`lab zoo list` shows the published models; OPENLAB_ZOO_MANIFESTS selects other "
        f"manifests, e.g. the local zoo that `nox -s benchmark` publishes to: "
        f"OPENLAB_ZOO_MANIFESTS=work_dirs/benchmark/zoo."
    )


def _dump(manifest: Manifest) -> str:
    data = manifest.model_dump(mode="json", exclude_none=True)
    header = (
        f"# OpenLab model zoo: models published for {manifest.codebase}.\n"
        "# Written by `lab zoo publish` / `labbench --publish`; validated against schema.json.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _lock_path(path: Path) -> Path:
    """A lock file for ``path`` kept in the cache, not beside the manifest."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    locks = settings.openlab_home() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    return locks / f"manifest-{digest}.lock"


def write_entries(entries: Iterable[ZooEntry], manifest_dir: str | Path) -> list[Path]:
    """Add or replace ``entries`` (by name) in ``<manifest_dir>/<codebase>.yml``.

    Each file is rewritten atomically under a lock, so concurrent publishers do not
    lose each other's entries. Returns the files written.
    """
    manifest_dir = Path(manifest_dir)
    manifest_dir.mkdir(parents=True, exist_ok=True)
    by_codebase: dict[str, list[ZooEntry]] = {}
    for entry in entries:
        by_codebase.setdefault(entry.codebase, []).append(entry)
    written = []
    for codebase, new in sorted(by_codebase.items()):
        path = manifest_dir / f"{codebase}.yml"
        with FileLock(str(_lock_path(path))):
            manifest = read_manifest(path) if path.exists() else Manifest(codebase=codebase)
            models = {m.name: m for m in manifest.models}
            models.update({m.name: m for m in new})
            manifest = Manifest(
                codebase=codebase, models=sorted(models.values(), key=lambda m: m.name)
            )
            fd, tmp = tempfile.mkstemp(dir=manifest_dir, prefix=f".{codebase}.", suffix=".yml")
            with os.fdopen(fd, "w") as f:
                f.write(_dump(manifest))
            os.replace(tmp, path)
        written.append(path)
    return written
