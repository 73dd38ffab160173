"""Publish the weights of finished runs to the model zoo.

For each run: read the checkpoint of the published seed (``weights_only``), keep the
model weights only (the EMA weights when the run kept an EMA), write them as
safetensors named ``<name>-<first 8 hex of sha256>.safetensors``, upload the file to the
destination (:mod:`labcore.zoo.upload`) and add the model's entry to the manifest
``<manifest_dir>/<codebase>.yml`` (and, for the repository's ``model_zoo/``, regenerate
``docs/model_zoo.md``).

The benchmark harness fills one :class:`ZooRun` per config (``labbench --publish DEST``);
``lab zoo publish CHECKPOINT ...`` publishes one checkpoint by hand.
"""

from __future__ import annotations

import datetime
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from labcore.engine.checkpoint import read_checkpoint
from labcore.errors import LabError
from labcore.zoo import settings
from labcore.zoo.download import sha256_file
from labcore.zoo.errors import PublishError
from labcore.zoo.manifest import (
    NAME_PATTERN,
    MetricSummary,
    ProtocolRef,
    WeightsFile,
    ZooEntry,
    write_entries,
)
from labcore.zoo.upload import upload
from labcore.zoo.weights import save_safetensors

DEFAULT_LICENSE = "Apache-2.0"


@dataclass
class ZooRun:
    """What the zoo needs to know about one benchmarked config to publish it.

    Attributes:
        name: the zoo name (the config file's stem, e.g. ``resnet18_tiny_shapes``).
        codebase: the codebase's package, e.g. ``labcls``.
        config: ``pkg::rel/path.py`` or a path to the config file.
        protocol: the protocol's name, e.g. ``cls-shapes-tiny``.
        protocol_version: the protocol's version.
        checkpoint: the published seed's checkpoint (``.pth`` or ``.safetensors``).
        metrics_mean: each metric's mean over the seeds.
        metrics_std: each metric's standard deviation over the seeds.
        seed: the seed whose weights are published.
        mlflow_run_id: the MLflow run of the published seed.
        params: number of parameters (None: counted on the model built from the config).
        flops: FLOPs at the protocol's input size, when measured.
        seeds: every seed the mean is over (default: ``[seed]``).
        seed_metrics: the published seed's own metric values (what a user who evaluates
            the downloaded weights gets).
        task: e.g. ``image-classification`` (None: read from the codebase's metafile).
        license: the licence of the weights.
        git_commit: the code's commit (None: the source checkout's HEAD, when known).
    """

    name: str
    codebase: str
    config: str
    protocol: str
    protocol_version: int
    checkpoint: str | Path
    metrics_mean: dict[str, float]
    metrics_std: dict[str, float]
    seed: int
    mlflow_run_id: str | None = None
    params: int | None = None
    flops: int | None = None
    seeds: list[int] = field(default_factory=list)
    seed_metrics: dict[str, float] | None = None
    task: str | None = None
    license: str = DEFAULT_LICENSE
    git_commit: str | None = None


def publish_runs(
    runs: Iterable[ZooRun],
    dest: str | Path,
    *,
    manifest_dir: str | Path | None = None,
    base_url: str | None = None,
) -> list[ZooEntry]:
    """Export, upload and register ``runs``; return the manifest entries written.

    Args:
        runs: the runs to publish, one per model.
        dest: a folder, ``file://`` URL, ``http(s)://`` base URL (PUT) or ``mlflow[:URI]``.
        manifest_dir: where ``<codebase>.yml`` is updated (default: the first manifest
            location, i.e. the repository's ``model_zoo/``).
        base_url: the public URL the destination folder is served at, recorded in the
            manifest instead of the upload location.

    Raises:
        PublishError: some runs failed; it lists them, the others are published and
            recorded (``error.entries``). A single run's own error is raised as is.
    """
    manifest_dir = _manifest_dir(manifest_dir)
    entries, failures = [], []
    for run in runs:
        try:
            entries.append(_publish_one(run, str(dest), base_url=base_url))
        except LabError as err:  # one bad run must not lose the others
            failures.append((run.name, err))
    if entries:
        write_entries(entries, manifest_dir)
        _refresh_repository_docs(manifest_dir)
    if len(failures) == 1 and not entries:
        raise failures[0][1]
    if failures:
        error = PublishError(
            f"{len(failures)} of {len(failures) + len(entries)} runs could not be published "
            f"(the others were):\n  " + "\n  ".join(f"{name}: {err}" for name, err in failures)
        )
        error.entries = entries
        raise error
    return entries


def publish_checkpoint(
    checkpoint: str | Path,
    *,
    name: str,
    config: str,
    dest: str | Path,
    protocol: str,
    protocol_version: int = 1,
    metrics: Mapping[str, MetricSummary] | None = None,
    seed: int = 0,
    **run_fields,
) -> ZooEntry:
    """Publish one checkpoint (what ``lab zoo publish`` does); ``codebase`` defaults to
    the config's ``default_scope``. Other :class:`ZooRun` fields go in ``run_fields``."""
    metrics = dict(metrics or {})
    manifest_dir = run_fields.pop("manifest_dir", None)
    base_url = run_fields.pop("base_url", None)
    if "codebase" not in run_fields:
        run_fields["codebase"] = _config_scope(config)
    run = ZooRun(
        name=name,
        config=config,
        protocol=protocol,
        protocol_version=protocol_version,
        checkpoint=checkpoint,
        metrics_mean={k: m.mean for k, m in metrics.items()},
        metrics_std={k: m.std for k, m in metrics.items()},
        seed_metrics={k: m.published for k, m in metrics.items() if m.published is not None},
        seed=seed,
        **run_fields,
    )
    return publish_runs([run], dest, manifest_dir=manifest_dir, base_url=base_url)[0]


def _refresh_repository_docs(manifest_dir: Path) -> None:
    """Regenerate ``docs/model_zoo.md`` when the repository's own manifests changed."""
    repository = settings.repository_model_zoo()
    if repository is None or manifest_dir.resolve() != repository.resolve():
        return
    from labcore.zoo.docs import render
    from labcore.zoo.manifest import all_entries

    docs = repository.parent / "docs" / "model_zoo.md"
    docs.parent.mkdir(exist_ok=True)
    docs.write_text(render(all_entries([repository])))


def _manifest_dir(manifest_dir: str | Path | None) -> Path:
    if manifest_dir is not None:
        return Path(manifest_dir)
    for location in settings.manifest_locations():
        return location if location.suffix != ".yml" else location.parent
    raise PublishError(
        "no manifest folder to write to: pass manifest_dir (--manifest-dir) or set "
        "OPENLAB_ZOO_MANIFESTS"
    )


def _publish_one(run: ZooRun, dest: str, *, base_url: str | None) -> ZooEntry:
    """Export and upload one run's weights; return its manifest entry. Everything that
    can be wrong with the run is checked before anything is uploaded."""
    if not re.match(NAME_PATTERN, run.name):
        raise PublishError(
            f"zoo name '{run.name}' is invalid: use lower-case letters, digits and _ . + -"
        )
    seeds = run.seeds or [run.seed]
    seed_metrics = run.seed_metrics or {}
    if len(seeds) == 1 and not seed_metrics:
        seed_metrics = dict(run.metrics_mean)  # one seed: its value is the mean
    fields = dict(
        name=run.name,
        codebase=run.codebase,
        config=_portable_config(run.config, run.codebase),
        task=run.task or _task_from_metafile(run),
        protocol=ProtocolRef(name=run.protocol, version=run.protocol_version),
        metrics={
            k: MetricSummary(
                mean=float(v),
                std=float(run.metrics_std.get(k, 0.0)),
                published=None if k not in seed_metrics else float(seed_metrics[k]),
            )
            for k, v in run.metrics_mean.items()
        },
        seeds=seeds,
        published_seed=run.seed,
        params=run.params if run.params is not None else _count_parameters(run.config),
        flops=run.flops,
        mlflow_run_id=run.mlflow_run_id,
        git_commit=_valid_commit(run.git_commit) or _git_commit(),
        date=datetime.datetime.now(datetime.UTC).date(),
        license=run.license,
    )
    weights = _read_weights(Path(run.checkpoint))
    metadata = {
        "name": run.name,
        "codebase": run.codebase,
        "config": fields["config"],
        "protocol": f"{run.protocol}@{run.protocol_version}",
        "seed": str(run.seed),
    }
    with tempfile.TemporaryDirectory(prefix="openlab-publish-") as tmp:
        staged = save_safetensors(weights, Path(tmp) / f"{run.name}.safetensors", metadata)
        digest = sha256_file(staged)
        file_name = f"{run.name}-{digest[:8]}.safetensors"
        relative_path = f"{run.codebase}/{run.name}/{file_name}"
        size = staged.stat().st_size
        # validate the whole entry before uploading; the URL is known after the upload
        fields["weights"] = WeightsFile(
            path=relative_path, urls=[relative_path], sha256=digest, size=size
        )
        entry = ZooEntry(**fields)
        final = staged.rename(staged.with_name(file_name))
        url = upload(
            final,
            relative_path,
            dest,
            base_url=base_url,
            model_name=run.name,
            mlflow_run_id=run.mlflow_run_id,
        )
    return entry.model_copy(update={"weights": entry.weights.model_copy(update={"urls": [url]})})


def _read_weights(checkpoint: Path):
    if not checkpoint.is_file():
        raise PublishError(f"checkpoint {checkpoint} does not exist; check the run's work dir")
    return read_checkpoint(checkpoint).state_dict


def _config_scope(config: str) -> str:
    from labcore.zoo.client import load_model_config

    scope = load_model_config(config).get("default_scope")
    if not scope:
        raise PublishError(f"config {config} sets no default_scope; pass the codebase explicitly")
    return scope


def _portable_config(config: str, codebase: str) -> str:
    """``codebase::rel/path.py`` when the config ships inside the codebase, else as given."""
    if "::" in config:
        return config
    configs = _configs_folder(codebase)
    path = Path(config).resolve()
    if configs is not None and path.is_relative_to(configs):
        return f"{codebase}::{path.relative_to(configs).as_posix()}"
    return str(path)


def _configs_folder(package: str) -> Path | None:
    """The ``configs`` folder of the package ``pkg::`` config names resolve in (the
    same rule as :func:`labcore.engine.config.package_configs_root`), or None."""
    from labcore.engine.config import package_configs_root

    try:
        return package_configs_root(package).resolve()
    except LabError:
        return None


def _task_from_metafile(run: ZooRun) -> str:
    """The ``Task`` of the run's config in its codebase's ``metafile.yml`` files."""
    config = _portable_config(run.config, run.codebase).partition("::")[2]
    configs = _configs_folder(run.codebase)
    if configs is not None:
        for metafile in sorted(configs.glob("**/metafile.yml")):
            data = yaml.safe_load(metafile.read_text()) or {}
            for model in data.get("Models", []):
                named = model.get("Name") == run.name or model.get("Config") == config
                if named and model.get("Task"):
                    return model["Task"]
    raise PublishError(
        f"the task of '{run.name}' is unknown: it has no Task in {run.codebase}'s metafile.yml; "
        f"pass it (ZooRun.task / --task)"
    )


def _count_parameters(config: str) -> int:
    from labcore.zoo.client import build_model, load_model_config

    model = build_model(load_model_config(config))
    return sum(p.numel() for p in model.parameters())


def _valid_commit(commit: str | None) -> str | None:
    """``commit`` when it is a plain hex commit id (not 'unknown' or 'abc123-dirty')."""
    return commit if commit and re.fullmatch(r"[0-9a-f]{7,40}", commit) else None


def _git_commit() -> str | None:
    """HEAD of the checkout labcore runs from, or None outside a git checkout."""
    import labcore

    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(labcore.__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None
