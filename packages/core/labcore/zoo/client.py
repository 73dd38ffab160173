"""The model-zoo client: from a model's name to its weights and a ready model.

    from labcore import zoo
    state_dict = zoo.load("resnet18_tiny_shapes")            # dict of tensors
    model = zoo.init_model("resnet18_tiny_shapes")           # built from its config

Names resolve through the manifests (:mod:`labcore.zoo.manifest`); files come from
the mirrors in ``OPENLAB_ZOO_MIRRORS`` and then the manifest's URLs, and are cached
under ``$OPENLAB_HOME/zoo`` (:mod:`labcore.zoo.download`).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from labcore.errors import CheckpointError
from labcore.zoo import settings
from labcore.zoo.download import fetch, sha256_file
from labcore.zoo.errors import ChecksumError, ZooError
from labcore.zoo.manifest import ZooEntry, find_entry
from labcore.zoo.weights import convert_layout, load_weights_file


def resolve(name: str | ZooEntry) -> ZooEntry:
    """The manifest entry of ``name`` (an entry passes through)."""
    return name if isinstance(name, ZooEntry) else find_entry(name)


def cache_path(entry: ZooEntry) -> Path:
    """Where the entry's weights are cached: ``$OPENLAB_HOME/zoo/<codebase>/<name>/<file>``."""
    return settings.zoo_cache_dir() / entry.codebase / entry.name / entry.weights.file_name


def candidate_urls(entry: ZooEntry) -> list[str]:
    """The mirrors (``<mirror>/<weights.path>``) then the manifest's URLs, without repeats."""
    urls = [f"{m}/{entry.weights.path}" for m in settings.mirrors()] + list(entry.weights.urls)
    return list(dict.fromkeys(urls))


def download(name: str | ZooEntry, *, verify: bool = False, progress: bool | None = None) -> Path:
    """Download the weights of ``name`` into the cache (reusing a cached copy) and return
    the file's path. A fresh download is always checked against the manifest's sha256;
    ``verify=True`` also hashes a cached copy."""
    entry = resolve(name)
    target = cache_path(entry)
    was_cached = target.is_file() and target.stat().st_size == entry.weights.size
    fetch(
        candidate_urls(entry),
        target,
        sha256=entry.weights.sha256,
        size=entry.weights.size,
        progress=progress,
    )
    if verify and was_cached:
        verify_file(entry)
    return target


def verify_file(name: str | ZooEntry) -> Path:
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
    if actual != entry.weights.sha256:
        path.unlink()
        raise ChecksumError(path, entry.weights.sha256, actual)
    return path


def load(
    name: str | ZooEntry,
    *,
    verify: bool = False,
    map_location: str | torch.device = "cpu",
    progress: bool | None = None,
) -> dict[str, torch.Tensor]:
    """The state dict of ``name`` in OpenLab's key layout (converted from the source
    layout the manifest names), downloaded or taken from the cache."""
    entry = resolve(name)
    path = download(entry, verify=verify, progress=progress)
    state_dict = load_weights_file(path, entry.weights.format)
    state_dict = convert_layout(state_dict, entry.weights.layout, entry.weights.family)
    return {k: v.to(map_location) for k, v in state_dict.items()}


def load_model_config(config: str):
    """The MMEngine Config of a manifest's ``config`` (``pkg::rel/path.py`` or a path)."""
    from labcore.engine.config import load_config

    return load_config(config)


def build_model(cfg, device: str | torch.device = "cpu") -> nn.Module:
    """Build ``cfg.model`` with the codebase's own ``<scope>.apis.init_model`` when the
    config's ``default_scope`` has one, else from the registry in that scope."""
    scope = cfg.get("default_scope") or "labcore"
    try:
        apis = importlib.import_module(f"{scope}.apis")
    except ModuleNotFoundError as err:
        if err.name not in (scope, f"{scope}.apis"):
            raise  # the apis exist but something they import is missing
        apis = None
    if apis is not None and hasattr(apis, "init_model"):
        return apis.init_model(cfg, checkpoint=None, device=str(device))
    from mmengine.registry import DefaultScope

    from labcore.registry import MODELS

    try:
        importlib.import_module(scope)  # a codebase registers its modules on import
    except ModuleNotFoundError:
        raise ZooError(
            f"the config's default_scope '{scope}' is not an installed codebase; install it "
            f"(pip install -e packages/<codebase>) to build this model"
        ) from None
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    return model.to(device)


def load_into(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Load ``state_dict`` strictly; missing or unexpected keys are named in the error."""
    result = model.load_state_dict(state_dict, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"the weights of {source} do not fit the model built from its config: "
            f"missing keys {result.missing_keys[:10]}"
            f"{' ...' if len(result.missing_keys) > 10 else ''}, unexpected keys "
            f"{result.unexpected_keys[:10]}{' ...' if len(result.unexpected_keys) > 10 else ''}. "
            f"The config or the manifest entry's layout may be wrong."
        )
    return model


def init_model(
    name: str | ZooEntry,
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
