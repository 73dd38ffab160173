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

Schema version 2 adds entries of ``kind: imported``: weights published by another project
(torchvision, OpenMMLab), fetched from the upstream URL and converted on first load
(:class:`ImportedEntry`); entries without ``kind`` are ``trained`` (the entries above).
A version-1 manifest stays valid; ``model_zoo/imported-*.yml`` (written by
``model_zoo/generate_imported.py``) hold entries of several codebases and so name none::

    schema_version: 2
    models:
      - kind: imported
        name: tv_resnet18_imagenet1k_v1
        codebase: labcls
        config: labcls::resnet/resnet18_8xb32_in1k.py
        task: image-classification
        source: {project: torchvision, version: 0.29.1, weights: ResNet18_Weights.IMAGENET1K_V1}
        weights:
          url: https://download.pytorch.org/models/resnet18-f37072fd.pth
          sha256_prefix: f37072fd
          layout: torchvision
          converter: labcore.models.convert:convert_torchvision_classifier
          converter_args: {family: resnet}
        metrics: {acc@1: 69.758, acc@5: 89.078}
        dataset: ImageNet-1K
        metrics_link: https://pytorch.org/vision/stable/models/generated/torchvision.models.resnet18.html
        params: 11689512
        license: BSD-3-Clause
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

import yaml
from filelock import FileLock
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from labcore.errors import close_matches
from labcore.zoo import settings
from labcore.zoo.errors import ZooError

SCHEMA_VERSION = 2
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
    """One model trained and published by OpenLab (``kind: trained``, the default)."""

    kind: Literal["trained"] = "trained"
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


# An upstream weights file name: NAME-<first 8+ hex digits of the sha256>, optionally
# followed by the publishing date (MMPose writes NAME-<sha256[:8]>_<YYYYMMDD>.pth).
# Group 1 is the hash prefix.
UPSTREAM_FILE = re.compile(r"^[\w.+-]+?-([0-9a-f]{8,64})(?:_\d{8})?\.(pth|pt|bin|safetensors)$")
PROJECTS = ("torchvision", "openmmlab")


class ImportSource(_Strict):
    """Who published the weights: ``project`` (torchvision or openmmlab), the package and
    version they were read from, and the upstream's own name for them."""

    project: Literal["torchvision", "openmmlab"]
    package: str
    version: str
    weights: str


class UpstreamWeights(_Strict):
    """The upstream weights file and how to turn it into OpenLab's layout.

    ``sha256_prefix`` is the hash the upstream puts in the file name (the first 8 or more
    hex digits of the file's sha256, as torch.hub checks); ``sha256`` is the full digest
    once a fetched file was hashed. ``converter`` is ``module:function``, called as
    ``function(state_dict, **converter_args)``.
    """

    url: str
    sha256_prefix: str = Field(pattern=r"^[0-9a-f]{8,64}$")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(default=None, gt=0)
    layout: Literal["torchvision", "openmmlab"]
    converter: str = Field(pattern=r"^[\w.]+:\w+$")
    converter_args: dict[str, str] = Field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def path(self) -> str:
        """The file's place under a mirror's base URL: ``imported/<layout>/<file name>``."""
        return f"imported/{self.layout}/{self.file_name}"

    @property
    def urls(self) -> list[str]:
        return [self.url]

    @model_validator(mode="after")
    def _name_carries_the_hash(self) -> UpstreamWeights:
        match = UPSTREAM_FILE.match(self.file_name)
        if match is None or match[1] != self.sha256_prefix:
            raise ValueError(
                f"the file name {self.file_name} does not carry the hash prefix "
                f"{self.sha256_prefix} (expected NAME-{self.sha256_prefix}.pth, or "
                f"NAME-{self.sha256_prefix}_YYYYMMDD.pth with a date)"
            )
        if self.sha256 is not None and not self.sha256.startswith(self.sha256_prefix):
            raise ValueError(
                f"sha256 {self.sha256} does not start with the file name's hash "
                f"{self.sha256_prefix}"
            )
        return self


class ImportedEntry(_Strict):
    """Weights published by another project, converted to an OpenLab model
    (``kind: imported``). ``metrics`` are the upstream's published values on ``dataset``,
    stated at ``metrics_link``; they are never ranked with OpenLab-trained entries."""

    kind: Literal["imported"]
    name: str = Field(pattern=NAME_PATTERN)
    codebase: str
    config: str
    task: str
    source: ImportSource
    weights: UpstreamWeights
    metrics: dict[str, float] = Field(min_length=1)
    dataset: str
    metrics_link: str
    params: int = Field(gt=0)
    license: str


def _entry_kind(value) -> str:
    if isinstance(value, dict):
        return value.get("kind", "trained")
    return getattr(value, "kind", "trained")


AnyEntry = Annotated[
    Annotated[ZooEntry, Tag("trained")] | Annotated[ImportedEntry, Tag("imported")],
    Discriminator(_entry_kind),
]


class Manifest(_Strict):
    """The content of one manifest: ``model_zoo/<codebase>.yml`` (``codebase`` set, every
    entry of it) or a manifest of imported entries of several codebases (no ``codebase``)."""

    schema_version: Literal[1, 2] = SCHEMA_VERSION
    codebase: str | None = None
    models: list[AnyEntry] = Field(default_factory=list)

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
        if self.schema_version == 1:
            if self.codebase is None:
                raise ValueError("a schema_version 1 manifest needs `codebase`")
            imported = [m.name for m in self.models if m.kind == "imported"]
            if imported:
                raise ValueError(
                    f"imported entries {imported} need schema_version: {SCHEMA_VERSION}"
                )
        for m in self.models:
            if self.codebase is not None and m.codebase != self.codebase:
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
            f"{'.'.join(str(p) for p in _location(e['loc'])) or '<top>'}: {e['msg']}"
            for e in err.errors()
        )
        raise ZooError(f"manifest {path} is invalid: {problems}") from None


def _location(loc: tuple) -> tuple:
    """An error's field path without the entry-kind tag pydantic adds (``models.0.trained.x``
    -> ``models.0.x``)."""
    if len(loc) > 2 and loc[0] == "models" and loc[2] in ("trained", "imported"):
        return loc[:2] + loc[3:]
    return loc


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


def all_entries(locations: Iterable[Path] | None = None) -> list[ZooEntry | ImportedEntry]:
    """Every entry of every manifest; a name published twice is an error."""
    entries: dict[str, tuple[ZooEntry | ImportedEntry, Path]] = {}
    for path in manifest_files(locations):
        for entry in read_manifest(path).models:
            if entry.name in entries:
                raise ZooError(
                    f"model '{entry.name}' is published in both {entries[entry.name][1]} and "
                    f"{path}; remove one of the entries"
                )
            entries[entry.name] = (entry, path)
    return [e for e, _ in entries.values()]


def find_entry(name: str, locations: Iterable[Path] | None = None) -> ZooEntry | ImportedEntry:
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


def _dump(manifest: Manifest, header: str | None = None) -> str:
    data = manifest.model_dump(mode="json", exclude_none=True)
    for entry in data["models"]:
        if entry.get("kind") == "trained":
            del entry["kind"]  # the default; trained entries read as before
    header = header or (
        f"# OpenLab model zoo: models published for {manifest.codebase}.\n"
        "# Written by `lab zoo publish` / `labbench --publish`; validated against schema.json.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _lock_path(path: Path) -> Path:
    """A lock file for ``path`` kept in the cache, not beside the manifest."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    locks = settings.home_folder("locks")
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


def write_manifest(manifest: Manifest, path: str | Path, header: str) -> Path:
    """Write a whole manifest to ``path`` atomically (used by generated manifests);
    ``header`` is the comment put above it (lines starting with ``#``)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".yml")
    with os.fdopen(fd, "w") as f:
        f.write(_dump(manifest, header))
    os.replace(tmp, path)
    return path
