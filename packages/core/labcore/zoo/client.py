"""The model-zoo client: from a model's name to its weights and a ready model.

    from labcore import zoo
    state_dict = zoo.load("resnet18_tiny_shapes")            # dict of tensors
    model = zoo.init_model("resnet18_tiny_shapes")           # built from its config

Names resolve through the manifests (:mod:`labcore.zoo.manifest`); files come from
the mirrors in ``OPENLAB_ZOO_MIRRORS`` and then the manifest's URLs, and are cached
under ``$OPENLAB_HOME/zoo`` (:mod:`labcore.zoo.download`).

An imported entry (weights published by torchvision or OpenMMLab) downloads the upstream
file, checks the sha256 prefix in its name (and the full digest when the manifest records
it), reads it with ``weights_only`` and the engine's allowlist, converts its keys and
caches the result beside it as ``<file stem>.openlab.safetensors``; later loads read
that file and skip the conversion.
"""

from __future__ import annotations

from pathlib import Path

import torch
from filelock import FileLock
from torch import nn

from labcore.engine.checkpoint import load_state_dict
from labcore.zoo import settings
from labcore.zoo.download import fetch, sha256_file
from labcore.zoo.errors import ChecksumError, ZooError
from labcore.zoo.manifest import ImportedEntry, ZooEntry, find_entry
from labcore.zoo.weights import (
    convert_layout,
    load_safetensors,
    load_weights_file,
    run_converter,
    save_safetensors,
)

Entry = ZooEntry | ImportedEntry


def resolve(name: str | Entry) -> Entry:
    """The manifest entry of ``name`` (an entry passes through)."""
    return name if isinstance(name, ZooEntry | ImportedEntry) else find_entry(name)


def cache_path(entry: Entry) -> Path:
    """Where the entry's weights are cached: ``$OPENLAB_HOME/zoo/<codebase>/<name>/<file>``."""
    return settings.zoo_cache_dir() / entry.codebase / entry.name / entry.weights.file_name


def converted_path(entry: ImportedEntry) -> Path:
    """Where the converted weights of an imported entry are cached (beside the upstream file)."""
    stem = entry.weights.file_name.rsplit(".", 1)[0]
    return cache_path(entry).with_name(f"{stem}.openlab.safetensors")


def candidate_urls(entry: Entry) -> list[str]:
    """The mirrors (``<mirror>/<weights.path>``) then the manifest's URLs, without repeats."""
    urls = [f"{m}/{entry.weights.path}" for m in settings.mirrors()] + list(entry.weights.urls)
    return list(dict.fromkeys(urls))


def download(name: str | Entry, *, verify: bool = False, progress: bool | None = None) -> Path:
    """Download the weights of ``name`` into the cache (reusing a cached copy) and return
    the file's path. A fresh download is always checked against the manifest's sha256
    (an imported entry's: the full digest when recorded, else the prefix in the upstream
    file name); ``verify=True`` also hashes a cached copy."""
    entry = resolve(name)
    target = cache_path(entry)
    size = entry.weights.size
    was_cached = target.is_file() and (size is None or target.stat().st_size == size)
    if not was_cached:
        settings.home_folder(*target.parent.relative_to(settings.openlab_home()).parts)
    fetch(
        candidate_urls(entry),
        target,
        sha256=entry.weights.sha256,
        size=size,
        progress=progress,
        sha256_prefix=getattr(entry.weights, "sha256_prefix", None),
    )
    if verify and was_cached:
        verify_file(entry)
    return target


def verify_file(name: str | Entry) -> Path:
    """Hash the cached weights of ``name``; a mismatch deletes the file.

    Raises:
        ZooError: the weights are not in the cache.
        ChecksumError: the digest differs (names expected and actual digests).
    """
    entry = resolve(name)
    path = cache_path(entry)
    if not path.is_file():
        raise ZooError(
            f"{entry.name} is not in the cache ({path}); `lab zoo download {entry.name}`"
        )
    actual = sha256_file(path)
    expected = entry.weights.sha256
    if expected is None:  # an imported entry without a recorded digest: its name's prefix
        expected = entry.weights.sha256_prefix
    if not actual.startswith(expected):
        path.unlink()
        if isinstance(entry, ImportedEntry):
            converted_path(entry).unlink(missing_ok=True)
        raise ChecksumError(path, expected, actual)
    return path


def converted_file(
    name: str | Entry, *, verify: bool = False, progress: bool | None = None
) -> Path:
    """The OpenLab-layout safetensors file of an imported entry: from the cache, or
    downloaded, read restricted (``weights_only``), converted and cached first."""
    entry = resolve(name)
    if not isinstance(entry, ImportedEntry):
        raise ZooError(
            f"{entry.name} is not an imported entry; its weights are {cache_path(entry)}"
        )
    target = converted_path(entry)
    if verify:
        verify_file(entry)
    if target.is_file():
        return target
    upstream = download(entry, progress=progress)
    with FileLock(str(target) + ".lock"):  # two processes convert once
        if not target.is_file():
            _convert_into(entry, upstream, target)
    return target


def _convert_into(entry: ImportedEntry, upstream: Path, target: Path) -> None:
    from labcore.engine.checkpoint import read_checkpoint

    state_dict = read_checkpoint(upstream).state_dict
    converted = run_converter(state_dict, entry.weights.converter, entry.weights.converter_args)
    metadata = {
        "zoo_name": entry.name,
        "source_file": upstream.name,
        "converter": entry.weights.converter,
    }
    part = target.with_name(target.name + ".part")
    save_safetensors(converted, part, metadata)
    part.replace(target)


def load(
    name: str | Entry,
    *,
    verify: bool = False,
    map_location: str | torch.device = "cpu",
    progress: bool | None = None,
) -> dict[str, torch.Tensor]:
    """The state dict of ``name`` in OpenLab's key layout (converted from the source
    layout the manifest names), downloaded or taken from the cache."""
    entry = resolve(name)
    if isinstance(entry, ImportedEntry):
        state_dict = load_safetensors(converted_file(entry, verify=verify, progress=progress))
        return {k: v.to(map_location) for k, v in state_dict.items()}
    path = download(entry, verify=verify, progress=progress)
    state_dict = load_weights_file(path, entry.weights.format)
    state_dict = convert_layout(state_dict, entry.weights.layout, entry.weights.family)
    return {k: v.to(map_location) for k, v in state_dict.items()}


def load_model_config(config: str):
    """The MMEngine Config of a manifest's ``config`` (``pkg::rel/path.py`` or a path)."""
    from labcore.engine.config import load_config

    return load_config(config)


def build_model(cfg, device: str | torch.device = "cpu") -> nn.Module:
    """Build ``cfg.model`` through the ``init_model`` of the codebase that the config's
    ``default_scope`` names (:mod:`labcore.codebase`), without weights; a config in
    labcore's own scope (or none) is built from labcore's registry."""
    from labcore import codebase

    if cfg.get("default_scope") in (None, "labcore"):
        return codebase.init_model(scope="labcore", config=cfg, device=str(device))
    return codebase.codebase_of_config(cfg).init_model(cfg, None, device=str(device))


def load_into(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Load ``state_dict`` strictly; missing or unexpected keys are named in the error."""
    load_state_dict(model, state_dict, strict=True, source=source)
    return model


def init_model(
    name: str | Entry,
    *,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
    verify: bool = False,
) -> nn.Module:
    """Build the model of ``name`` from its config (dispatching on ``default_scope``)
    and, with ``pretrained``, load its published weights. Returned in eval mode."""
    entry = resolve(name)
    model = build_model(load_model_config(entry.config), device=device)
    if pretrained:
        load_into(model, load(entry, verify=verify, map_location=device), f"zoo model {entry.name}")
    return model.eval()
