"""Merging a protocol over a config, and naming each run by a hash.

A config owns its model and optimizer; the protocol owns everything under its
``fixed:`` section plus the budget. Merging refuses a config that sets a fixed field to
another value and names every conflicting key with both values. Three things are the
harness's own and are overwritten without a conflict: where the data is (protocol
values that use ``${...}`` variables), the seed and determinism (``randomness``), and
the work folder.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmengine.config import Config

from labbench.dependencies import without_pretrained_weights
from labbench.discovery import ConfigEntry
from labbench.protocol import Protocol, uses_variables
from labcore.engine.config import load_config as labcore_load_config
from labcore.errors import ConfigError

_MISSING = object()
# Keys the harness sets for every run, whatever the config says.
HARNESS_KEYS = ("randomness", "work_dir", "launcher", "resume", "load_from")


class ProtocolConflictError(ConfigError):
    """A config sets a field that its protocol fixes, to a different value."""

    def __init__(self, config: str, protocol: str, conflicts: list[tuple[str, Any, Any]]):
        self.conflicts = conflicts
        lines = [
            f"  {key}: config has {ours!r}, protocol has {theirs!r}"
            for key, ours, theirs in conflicts
        ]
        super().__init__(
            f"config {config} sets {len(conflicts)} field(s) that protocol {protocol} fixes:\n"
            + "\n".join(lines)
            + "\nRemove these keys from the config (the protocol provides them) or set them to "
            "the protocol's values."
        )


@dataclass(frozen=True)
class RunSpec:
    """One (config, protocol, seed) run, fully resolved.

    ``cfg`` is the merged config (a plain dict ready for ``mmengine.Config``);
    ``run_hash`` identifies the run: a hash of the resolved config with data locations
    left as variables, the protocol's name and version, and the seed.
    """

    entry: ConfigEntry
    protocol: Protocol
    seed: int
    cfg: dict[str, Any]
    run_hash: str
    mode: str = "train"
    # (protocol, config) pairs whose published weights this run starts from; the sweep
    # trains and publishes them first (see labbench.dependencies)
    upstream: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.protocol.name}/{self.entry.name}/seed{self.seed}"

    def run_dir(self, work_dir: Path) -> Path:
        """Where the run keeps its config, log, result and checkpoint."""
        mode = "" if self.mode == "train" else f"{self.mode}/"
        return (
            Path(work_dir)
            / "runs"
            / f"{mode}{self.protocol.name}-v{self.protocol.version}"
            / self.entry.name
            / f"seed{self.seed}-{self.run_hash}"
        )


def load_config(entry: ConfigEntry) -> Config:
    """The config of a metafile entry, loaded with labcore's ``pkg::`` resolution."""
    return labcore_load_config(entry.config)


def _plain(value: Any) -> Any:
    """Tuples as lists and MMEngine ConfigDicts as dicts, so values compare as YAML would."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _leaves(tree: dict[str, Any], prefix: str = ""):
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaves(value, path + ".")
        else:
            yield path, value


def _get(tree: dict[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def find_conflicts(cfg: dict[str, Any], fixed: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, config value, protocol value)`` for each fixed leaf the config sets differently.

    Leaves are reached through nested dicts; a list (a pipeline) is one leaf. Leaves that
    use data variables and the harness's own keys are skipped.
    """
    conflicts = []
    for path, theirs in _leaves(_plain(fixed)):
        if path.split(".")[0] in HARNESS_KEYS or uses_variables(theirs) or theirs == {}:
            continue  # an empty dict asks only that the section exists (``val_cfg: {}``)
        ours = _get(cfg, path)
        if ours is not _MISSING and _plain(ours) != theirs:
            conflicts.append((path, ours, theirs))
    return conflicts


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def merge_protocol(
    cfg: dict[str, Any],
    protocol: Protocol,
    *,
    data_root: str | Path,
    seed: int,
    config_name: str,
    task: str | None = None,
    check: Protocol | None = None,
    devices: int | None = None,
) -> dict[str, Any]:
    """The config with the protocol's fixed fields merged over it.

    Raises :class:`ProtocolConflictError` when the config sets a field that ``check``
    (default: ``protocol`` itself) fixes to another value; a dry run checks against the
    real protocol and merges its own reduced budget. ``devices`` (default: the
    protocol's) sets the per-device batch size. ``train_cfg`` is replaced whole,
    since the budget defines the loop, and the logging and checkpoint hooks follow it:
    a checkpoint every ``checkpoint_interval`` of the protocol, only the last one kept,
    so an interrupted run resumes from it. When the interval is 0 (dry runs) the hook
    saves nothing, not even the config's best checkpoint.
    """
    cfg = _plain(cfg)
    recipe = cfg.get("protocol_recipe")
    reference = (check or protocol).fixed_fields(data_root, task=task, fill=False, recipe=recipe)
    conflicts = find_conflicts(cfg, reference)
    conflicts += _hook_conflicts(cfg, (check or protocol).fixed_hooks(recipe))
    if conflicts:
        raise ProtocolConflictError(config_name, (check or protocol).label, conflicts)
    fixed = protocol.fixed_fields(data_root, task=task, devices=devices, recipe=recipe)
    merged = _merge(cfg, {k: v for k, v in fixed.items() if k != "train_cfg"})
    _add_protocol_hooks(merged, protocol.fixed_hooks(recipe))
    train_cfg = fixed["train_cfg"]
    by_epoch = train_cfg["by_epoch"]
    merged["train_cfg"] = train_cfg
    merged["randomness"] = dict(seed=seed, deterministic=protocol.deterministic)
    merged.setdefault("log_processor", {})["by_epoch"] = by_epoch
    hooks = merged.setdefault("default_hooks", {})
    checkpoint = hooks.get("checkpoint")
    if not isinstance(checkpoint, dict):
        checkpoint = hooks["checkpoint"] = {"type": "CheckpointHook"}
    every = protocol.checkpoint_every()
    checkpoint.update(
        by_epoch=by_epoch,
        interval=every or -1,
        max_keep_ckpts=1,
        save_last=every > 0,
        save_optimizer=True,
        save_param_scheduler=True,
    )
    if not every:
        checkpoint["save_best"] = None
    return merged


def _hook_conflicts(cfg: dict[str, Any], hooks: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    """``(key, config hook, protocol hook)`` for each protocol hook whose type the config
    lists in ``custom_hooks`` with other arguments."""
    own = {h.get("type"): h for h in cfg.get("custom_hooks") or [] if isinstance(h, dict)}
    return [
        (f"custom_hooks[type={hook['type']}]", own[hook["type"]], hook)
        for hook in hooks
        if hook["type"] in own and _plain(own[hook["type"]]) != _plain(hook)
    ]


def _add_protocol_hooks(cfg: dict[str, Any], hooks: list[dict[str, Any]]) -> None:
    """Append to ``cfg['custom_hooks']`` the protocol's hooks it does not list already
    (a config that lists one lists it as the protocol does: see :func:`_hook_conflicts`)."""
    own = list(cfg.get("custom_hooks") or [])
    types = {h.get("type") for h in own if isinstance(h, dict)}
    missing = [hook for hook in hooks if hook["type"] not in types]
    if missing:
        cfg["custom_hooks"] = own + missing


def run_hash(cfg: dict[str, Any], protocol: Protocol, seed: int) -> str:
    """12 hex digits of the sha256 of the resolved config, protocol version, seed and the
    protocol's CPU pins (other kernels train other weights, so they are another run)."""
    record: dict[str, Any] = {
        "config": cfg, "protocol": protocol.name, "version": protocol.version, "seed": seed
    }  # fmt: skip
    if protocol.cpu_pins is not None:  # runs without pins keep their hashes
        record["cpu_pins"] = protocol.cpu_pins.as_dict()
    payload = json.dumps(record, sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def data_root(protocol: Protocol) -> Path:
    """The protocol's data on this machine: generated (synthetic) or the configured root."""
    data = protocol.data
    if data.is_synthetic:
        module_name, _, function_name = data.generator.partition(":")
        try:
            generator = getattr(importlib.import_module(module_name), function_name)
        except (ImportError, AttributeError) as err:
            raise ConfigError(
                f"protocol {protocol.name!r}: data generator {data.generator!r} cannot be "
                f"imported ({err}); install the package that provides it or fix `generator`."
            ) from err
        arguments = dict(data.synthetic)
        num_categories = arguments.pop("num_categories", None)
        skip_ids = arguments.pop("skip_category_ids", ())
        root = Path(generator(**arguments)).resolve()
        return with_categories(root, num_categories, skip_ids) if num_categories else root
    root = os.environ.get(data.root_env or "", "") or data.root
    if not Path(root).is_dir():
        hint = f" or set ${data.root_env}" if data.root_env else ""
        raise ConfigError(
            f"protocol {protocol.name!r} needs the dataset {protocol.dataset.get('name', '')!r} "
            f"at {Path(root).resolve()}, which does not exist; put the data there{hint}. "
            f"`labbench --dry-run` checks the configs of this protocol without the data."
        )
    return Path(root).resolve()


def resolve_run(
    entry: ConfigEntry,
    protocol: Protocol,
    seed: int,
    root: str | Path,
    *,
    mode: str = "train",
    devices: int | None = None,
) -> RunSpec:
    """Load ``entry``'s config, merge ``protocol`` over it for ``seed``, and hash the result.

    ``mode='dry-run'`` checks the config against ``protocol`` but merges its dry-run form
    (:meth:`Protocol.dry_run_protocol`); ``root`` is then the synthetic data's root.
    ``devices`` is how many devices the run uses (default: the protocol's); the global
    batch stays the protocol's.
    """
    raw = load_config(entry).to_dict()
    merged_protocol = protocol.dry_run_protocol() if mode == "dry-run" else protocol

    def merge(where: str | Path) -> dict[str, Any]:
        return merge_protocol(
            raw,
            merged_protocol,
            data_root=where,
            seed=seed,
            config_name=entry.config,
            task=entry.task,
            check=protocol,
            devices=devices,
        )

    digest = run_hash(merge("${data_root}"), merged_protocol, seed)
    cfg = merge(root)
    if mode == "dry-run":  # no upstream weights exist yet, and nothing is downloaded
        cfg, _ = without_pretrained_weights(cfg)
        _pad_to_dry_run_crop(cfg, merged_protocol.dry_run.get("crop_size"))
    return RunSpec(
        entry=entry, protocol=merged_protocol, seed=seed, cfg=cfg, run_hash=digest, mode=mode
    )


def _pad_to_dry_run_crop(cfg: dict[str, Any], crop_size: Sequence[int] | None) -> None:
    """A dry run that crops smaller (``dry_run.crop_size``) pads its batches to that crop
    where the model's data preprocessor pads to a fixed size (segmentors pad to theirs)."""
    preprocessor = (cfg.get("model") or {}).get("data_preprocessor") or {}
    if crop_size and preprocessor.get("size"):
        preprocessor["size"] = tuple(crop_size)


def with_categories(root: Path, num_categories: int, skip_ids: Sequence[int] = ()) -> Path:
    """A view of the COCO-format data set ``root`` whose annotation files declare
    ``num_categories`` categories: the real ones first, then unused placeholders, whose
    ids skip ``skip_ids``.

    Dry runs of full protocols use it so that a model with the real dataset's number of
    classes (80 for COCO) meets annotation files of the same size, and with the real ids
    (COCO's run to 90, skipping 10) a model whose labels are category ids. The view is a
    sibling folder holding links to the images and padded copies of ``annotations/*.json``.
    """
    skip = set(skip_ids)
    suffix = f"-skip{len(skip)}" if skip else ""
    view = root.with_name(f"{root.name}-{num_categories}cats{suffix}")
    if (view / "annotations").is_dir():
        return view
    padded = {}
    for source in sorted((root / "annotations").glob("*.json")):
        coco = json.loads(source.read_text())
        categories = coco["categories"]
        if len(categories) > num_categories:
            raise ConfigError(
                f"{source} has {len(categories)} categories, more than the protocol's "
                f"dry_run num_categories={num_categories}; raise num_categories."
            )
        taken = {c["id"] for c in categories} & skip
        if taken:
            raise ConfigError(
                f"{source} uses category ids {sorted(taken)}, which the protocol's dry_run "
                f"skip_category_ids leaves out; remove them from skip_category_ids."
            )
        next_id = max(c["id"] for c in categories) + 1
        while len(categories) < num_categories:
            if next_id not in skip:
                categories.append({"id": next_id, "name": f"unused-{next_id}", "supercategory": ""})
            next_id += 1
        padded[source.name] = coco
    staging = Path(tempfile.mkdtemp(prefix=f".{view.name}.tmp-", dir=root.parent))
    for entry in root.iterdir():
        if entry.name != "annotations":
            (staging / entry.name).symlink_to(entry)
    (staging / "annotations").mkdir()
    for name, coco in padded.items():
        (staging / "annotations" / name).write_text(json.dumps(coco))
    try:
        staging.rename(view)
    except OSError:  # another process made the view first
        shutil.rmtree(staging, ignore_errors=True)
    return view
