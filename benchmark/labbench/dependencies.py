"""Runs that start from the weights of other benchmarked configs.

A config may initialise part of its model from the model zoo, e.g. a detector whose
backbone says ``init_cfg=dict(type='Pretrained', checkpoint='zoo://resnet18_tiny_shapes',
prefix='backbone.')``. When ``resnet18_tiny_shapes`` is itself a registered config, the
sweep produces those weights: it plans the upstream config's runs too (even when
``--only`` left them out), trains them first, publishes them to the sweep's local zoo,
and only then starts the runs that need them. A downstream run's hash includes the
hashes of the upstream runs, so new upstream weights make new downstream runs.

A name already published in the zoo's manifests is used as published (the run's hash
then chains the weights' sha256) and is not trained again.

Under a protocol with ``upstream_weights: per-seed`` (the linear probes of
self-supervised pretraining, whose significance must cover the pretraining's variance)
the run of seed i starts from the upstream config's run of seed i instead: the sweep
publishes every seed of the upstream config to its local zoo as well, as
``NAME.seed<i>`` (:func:`seed_name`), and the run's config names that entry; its hash
chains only that run's hash. A registered upstream config is then trained by the sweep
even when NAME is published (a published model holds one seed's weights).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from typing import Any

from labcore.zoo.scheme import PREFIX


def zoo_names(cfg: Any) -> list[str]:
    """Every ``zoo://NAME`` the resolved config refers to, in order, without repeats."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, str) and value.startswith(PREFIX):
            name = value[len(PREFIX) :].strip("/")
            if name not in found:
                found.append(name)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)

    visit(cfg)
    return found


def seed_name(name: str, seed: int) -> str:
    """The local zoo's name of the weights of ``name``'s run of ``seed``."""
    return f"{name}.seed{seed}"


def with_zoo_names(cfg: Any, names: dict[str, str]) -> Any:
    """``cfg`` with every ``zoo://OLD`` of ``names`` replaced by ``zoo://NEW``."""
    if isinstance(cfg, str) and cfg.startswith(PREFIX):
        name = cfg[len(PREFIX) :].strip("/")
        return f"{PREFIX}{names[name]}" if name in names else cfg
    if isinstance(cfg, dict):
        return {k: with_zoo_names(v, names) for k, v in cfg.items()}
    if isinstance(cfg, list | tuple):
        return type(cfg)(with_zoo_names(v, names) for v in cfg)
    return cfg


def without_pretrained_weights(cfg: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config with every ``Pretrained`` initialisation removed, and the checkpoints
    it named. Dry runs use it: they check that a config builds and trains, before any
    upstream weights exist and without downloading any (``zoo://``, ``torchvision://``,
    ``open-mmlab://``, URLs)."""
    removed: list[str] = []

    def is_pretrained(value: Any) -> bool:
        return isinstance(value, dict) and value.get("type") == "Pretrained"

    def strip(value: Any) -> Any:
        if is_pretrained(value):  # init_cfg=dict(type="Pretrained", ...) -> None
            removed.append(str(value.get("checkpoint")))
            return None
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):  # init_cfg=[..., dict(type="Pretrained", ...)]: dropped
            removed.extend(str(v.get("checkpoint")) for v in value if is_pretrained(v))
            return [strip(v) for v in value if not is_pretrained(v)]
        return value

    return strip(copy.deepcopy(cfg)), removed


def chained_hash(run_hash: str, upstream_hashes: list[str]) -> str:
    """A run's hash extended by the hashes of the runs whose weights it starts from."""
    if not upstream_hashes:
        return run_hash
    payload = "+".join([run_hash, *sorted(upstream_hashes)])
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def with_upstream(
    spec,
    upstream: tuple[tuple[str, str], ...],
    upstream_hashes: list[str],
    zoo_renames: dict[str, str] | None = None,
):
    """``spec`` (a :class:`labbench.resolve.RunSpec`) that waits for the ``upstream``
    (protocol, config) pairs to be published, its hash chained to ``upstream_hashes``
    (the runs it starts from), its ``zoo://`` names renamed by ``zoo_renames``."""
    cfg = with_zoo_names(spec.cfg, zoo_renames) if zoo_renames else spec.cfg
    return dataclasses.replace(
        spec, cfg=cfg, upstream=upstream, run_hash=chained_hash(spec.run_hash, upstream_hashes)
    )
