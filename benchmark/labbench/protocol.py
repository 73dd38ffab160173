"""Benchmark protocols: what a fair comparison holds equal.

A protocol is a versioned YAML file (``benchmark/protocols/<name>.yaml``). It fixes the
task, the dataset (name, version, and where it comes from: a data root or a synthetic
generator with its seed), the splits, the input resolution, the train and test
pipelines, the training budget (iterations or epochs at a global batch size), the
evaluation metric and its direction, the seeds, determinism, the baseline config, and
``checkpoint_interval``: how often a run saves the checkpoint it resumes from when it is
killed, preempted or times out (in the budget's unit; default a tenth of the budget).

A protocol may also name ``reported_metrics``: metrics of its evaluator that the
leaderboard shows beside the ranked one (mean ± std over the same seeds), and
``upstream_weights``: how its runs that start from the weights of another benchmarked
config (``zoo://NAME``) get them: ``published`` (default; every seed from NAME's
representative run, as a user downloads it) or ``per-seed`` (seed i from NAME's run of
seed i, so the statistics over seeds cover the upstream training too; see
:mod:`labbench.dependencies`).

The config fragment a protocol fixes lives under ``fixed:``. Strings in it may name the
protocol's data variables as ``${data_root}``, ``${train_ann}``, ...: those say *where*
the data is on this machine and are filled in by the harness. Everything else in
``fixed:`` says *what* is compared, and a config that sets any of it to another value is
refused (see :mod:`labbench.resolve`).

``hooks:`` lists training hooks the protocol adds to every config's ``custom_hooks``
(e.g. the switch to a plain pipeline for the last epochs of a real-time detector's
schedule): they belong to the augmentation, so to the protocol.

Where a recipe's published augmentation depends on the model's size (RTMDet's smaller
models jitter and mix less), ``recipes:`` names each variant in full: a mapping from a
recipe name to values of ``${...}`` variables used in ``fixed:`` and ``hooks:``, with
``default_recipe`` the one a config gets unless it names another as
``protocol_recipe = "NAME"``. A protocol so holds a short, fixed list of augmentations,
each spelled out, rather than leaving the pipeline to the config.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labcore.cpu_pins import CpuPins
from labcore.errors import ConfigError, close_matches

PROTOCOLS_ENV = "OPENLAB_PROTOCOLS"
_VARIABLE = re.compile(r"\$\{(\w+)\}")
_REQUIRED = ("name", "version", "task", "dataset", "budget", "metric", "seeds", "fixed")
UPSTREAM_WEIGHTS = ("published", "per-seed")


def default_protocol_dirs() -> list[Path]:
    """Folders searched for ``<name>.yaml``: ``$OPENLAB_PROTOCOLS`` (os.pathsep-separated)
    first, then the ``protocols/`` folder shipped beside the labbench package, then the
    ``protocols/`` folder of each installed codebase that ships one (a codebase made
    with ``lab new codebase`` brings its own tiny protocol)."""
    from labcore.codebase import discover_codebases

    dirs = [Path(p) for p in os.environ.get(PROTOCOLS_ENV, "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parent.parent / "protocols")
    for codebase in discover_codebases().values():
        if codebase.protocol_dir.is_dir():
            dirs.append(codebase.protocol_dir)
    return dirs


@dataclass(frozen=True)
class Metric:
    """The evaluation metric a protocol ranks by.

    ``key`` is the name the evaluator reports (``accuracy/top1``, ``coco/bbox_mAP``);
    ``name`` is the short name used in metafiles' ``Expected`` and in leaderboards.
    """

    key: str
    name: str
    greater_is_better: bool = True


@dataclass(frozen=True)
class Budget:
    """The training budget: iterations or epochs, at a global batch size.

    ``batch_size`` is global: a run on N devices uses ``batch_size // N`` per device.
    """

    batch_size: int
    max_iters: int | None = None
    max_epochs: int | None = None
    val_interval: int | None = None

    def train_cfg(self) -> dict[str, Any]:
        """The ``train_cfg`` that this budget means; validation runs at the end by default."""
        if self.max_iters is not None:
            interval = self.val_interval or self.max_iters
            return dict(by_epoch=False, max_iters=self.max_iters, val_interval=interval)
        return dict(by_epoch=True, max_epochs=self.max_epochs, val_interval=self.val_interval or 1)


@dataclass(frozen=True)
class DataSource:
    """Where a protocol's data comes from.

    Either ``synthetic`` (keyword arguments of the generator, which writes the dataset in
    its real on-disk format and returns its root) or ``root`` (a folder, overridable by the
    environment variable ``root_env``). ``variables`` are the ``${...}`` values besides
    ``data_root`` (annotation files, image folders).
    """

    synthetic: dict[str, Any] | None = None
    generator: str = "labcore.datasets.synthetic:ensure_shapes"
    root: str | None = None
    root_env: str | None = None
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def is_synthetic(self) -> bool:
        return self.synthetic is not None


@dataclass(frozen=True)
class Protocol:
    """One benchmark protocol, loaded from YAML (see the module docstring)."""

    name: str
    version: int
    task: str
    description: str
    dataset: dict[str, Any]
    data: DataSource
    splits: dict[str, str]
    input_size: tuple[int, int]
    budget: Budget
    metric: Metric
    seeds: tuple[int, ...]
    deterministic: bool
    baseline: str | None
    fixed: dict[str, Any]
    tiny: bool = False
    devices: int = 1
    estimate_s: float = 60.0
    task_fixed: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop_after_epochs: int | None = None
    dry_run: dict[str, Any] = field(default_factory=dict)
    checkpoint_interval: int | None = None
    cpu_pins: CpuPins | None = None  # CPU kernels and threads, set before torch loads
    # metrics the leaderboard shows beside ``metric`` (mean ± std over the seeds)
    reported_metrics: tuple[Metric, ...] = ()
    # where runs starting from zoo://NAME of a benchmarked config take its weights:
    # "published" (NAME's representative seed) or "per-seed" (NAME's run of their seed)
    upstream_weights: str = "published"
    # hooks added to every config's custom_hooks; named recipes of ``${...}`` values
    hooks: tuple[dict[str, Any], ...] = ()
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_recipe: str | None = None
    path: Path | None = None

    def checkpoint_every(self) -> int:
        """How often a run saves the checkpoint it resumes from after a kill, in the
        budget's unit (iterations or epochs): ``checkpoint_interval``, else a tenth of the
        budget (at least 1). 0: no resume checkpoint (dry runs, which never resume)."""
        if self.checkpoint_interval is not None:
            return self.checkpoint_interval
        length = self.budget.max_iters or self.budget.max_epochs or 1
        return max(1, length // 10)

    @property
    def label(self) -> str:
        """``name@vN``: how runs and leaderboards name the protocol."""
        return f"{self.name}@v{self.version}"

    def dry_run_protocol(self) -> Protocol:
        """The protocol as ``--dry-run`` runs it: the same pipelines and resolution on
        synthetic data in the real dataset's format, one seed, ``dry_run.iters`` (default
        1) iterations: the first ``iters x batch_size`` samples (``dry_run.subset``,
        default true, for datasets built on MMEngine's BaseDataset) and one epoch, without
        the resume checkpoint (a full-size model's weights and optimizer state cost seconds
        to write, and a dry run is rerun from scratch anyway).

        For protocols whose full-size step costs tens of seconds on a CPU, the dry run may
        run the same transforms at fewer pixels: ``dry_run.resize_scale`` replaces the
        ``scale`` of every resize transform in the protocol's own pipelines (``fixed``
        and ``task_fixed``; a multi-scale resize's ``scales`` become that one scale),
        ``dry_run.crop_size`` the ``crop_size`` of every crop (and
        :func:`labbench.resolve.resolve_run` pads to it where the model's data
        preprocessor pads to a fixed size)."""
        spec = self.dry_run
        if "synthetic" not in spec:
            raise ConfigError(
                f"protocol {self.name!r} ({self.path}) has no dry_run.synthetic section; add one "
                "naming the synthetic generator arguments that mimic its dataset."
            )
        data = DataSource(
            synthetic=dict(spec["synthetic"]),
            generator=spec.get("generator", self.data.generator),
            variables={**self.data.variables, **spec.get("variables", {})},
        )
        per_device, iters = int(spec.get("batch_size", 2)), int(spec.get("iters", 1))
        stop_after_epochs = None
        if self.budget.max_epochs is not None:
            # Epoch-based schedules need the real length (a warm-up of 20 epochs must fit),
            # so the loop keeps it and the run stops after its first, short, epoch.
            budget = Budget(per_device, max_epochs=self.budget.max_epochs, val_interval=1)
            stop_after_epochs = 1
        else:
            budget = Budget(batch_size=per_device, max_iters=iters)
        fixed, task_fixed = copy.deepcopy(self.fixed), copy.deepcopy(self.task_fixed)
        hooks = copy.deepcopy(list(self.hooks))
        if "resize_scale" in spec:
            trees = [fixed, task_fixed, hooks]
            _set_transform_arg(trees, "Resize", "scale", spec["resize_scale"])
            # a multi-scale resize draws from that one scale
            _set_transform_arg(trees, "Resize", "scales", [spec["resize_scale"]])
        if "crop_size" in spec:
            _set_transform_arg([fixed, task_fixed, hooks], "Crop", "crop_size", spec["crop_size"])
        for split in ("train_dataloader", "val_dataloader", "test_dataloader"):
            if split in fixed and isinstance(fixed[split], dict):
                fixed[split]["num_workers"] = 0
                fixed[split]["persistent_workers"] = False
                if split != "train_dataloader":
                    fixed[split]["batch_size"] = 1
                if spec.get("subset", True):  # MMEngine datasets: keep the first samples
                    count = iters * per_device if split == "train_dataloader" else 2
                    fixed[split].setdefault("dataset", {})["indices"] = count
        return Protocol(
            **{
                **self.__dict__,
                "data": data,
                "budget": budget,
                "seeds": self.seeds[:1],
                "fixed": fixed,
                "task_fixed": task_fixed,
                "hooks": tuple(hooks),
                "deterministic": False,
                "estimate_s": float(spec.get("estimate_s", 30.0)),
                "stop_after_epochs": stop_after_epochs,
                "checkpoint_interval": 0,
                "devices": 1,  # the dry run's batch is per device
            }
        )

    def data_variables(self, data_root: str | Path) -> dict[str, str]:
        """The values of ``${...}`` in ``fixed`` for data found at ``data_root``."""
        return {"data_root": str(data_root), **self.data.variables}

    def recipe_values(self, recipe: str | None) -> dict[str, Any]:
        """The ``${...}`` values of recipe ``recipe`` (None: ``default_recipe``); a name
        the protocol lacks is refused with the ones it has."""
        if recipe is None:
            recipe = self.default_recipe
            if recipe is None:
                return {}
        if recipe not in self.recipes:
            if not self.recipes:
                raise ConfigError(
                    f"the config names protocol_recipe={recipe!r}, but protocol {self.label} "
                    "has no recipes; remove protocol_recipe from the config."
                )
            near = close_matches(str(recipe), self.recipes)
            raise ConfigError(
                f"protocol {self.label} has no recipe {recipe!r}"
                + (f" (did you mean {', '.join(near)}?)" if near else "")
                + f"; its recipes: {', '.join(sorted(self.recipes))}."
            )
        return dict(self.recipes[recipe])

    def fixed_hooks(self, recipe: str | None = None) -> list[dict[str, Any]]:
        """The hooks this protocol adds to ``custom_hooks``, with recipe ``recipe``'s values."""
        return fill_recipe(copy.deepcopy(list(self.hooks)), self.recipe_values(recipe))

    def fixed_fields(
        self,
        data_root: str | Path,
        *,
        task: str | None = None,
        devices: int | None = None,
        fill: bool = True,
        recipe: str | None = None,
    ) -> dict[str, Any]:
        """The config fragment this protocol fixes for a config of ``task`` (the metafile's
        Task; ``task_fixed`` may fix more for one task, e.g. masks for instance
        segmentation), with the values of ``recipe`` (default: ``default_recipe``) and the
        data variables filled in and the budget applied (``train_cfg`` and the per-device
        train batch size)."""
        devices = devices or self.devices
        if self.budget.batch_size % devices:
            raise ConfigError(
                f"protocol {self.name!r}: global batch size {self.budget.batch_size} does not "
                f"divide over {devices} devices; run it on a divisor of the batch size."
            )
        fixed = _merged(self.fixed, self.task_fixed.get(task or "", {}))
        fixed = fill_recipe(fixed, self.recipe_values(recipe))
        if fill:  # without: the data variables stay, marking what says where the data is
            fixed = fill_variables(fixed, self.data_variables(data_root))
        fixed.setdefault("train_dataloader", {})["batch_size"] = self.budget.batch_size // devices
        fixed["train_cfg"] = self.budget.train_cfg()
        return fixed


def _set_transform_arg(tree: Any, type_suffix: str, key: str, value: Sequence[int]) -> None:
    """Set ``key`` to ``value`` in every transform of ``tree`` whose type ends in
    ``type_suffix`` and that has ``key``."""
    if isinstance(tree, dict):
        if str(tree.get("type", "")).endswith(type_suffix) and key in tree:
            tree[key] = list(value)
        for child in tree.values():
            _set_transform_arg(child, type_suffix, key, value)
    elif isinstance(tree, list):
        for child in tree:
            _set_transform_arg(child, type_suffix, key, value)


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``update`` merged in (dicts recursively, lists replaced)."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def fill_variables(tree: Any, values: dict[str, str]) -> Any:
    """Replace ``${name}`` in every string of ``tree`` (dicts and lists, recursively)."""
    if isinstance(tree, dict):
        return {k: fill_variables(v, values) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [fill_variables(v, values) for v in tree]
    if isinstance(tree, str):

        def substitute(match: re.Match) -> str:
            if match.group(1) not in values:
                raise ConfigError(
                    f"protocol variable ${{{match.group(1)}}} has no value; define it under "
                    f"dataset.variables (known: {sorted(values)})."
                )
            return values[match.group(1)]

        return _VARIABLE.sub(substitute, tree)
    return tree


def fill_recipe(tree: Any, values: dict[str, Any]) -> Any:
    """Replace each string of ``tree`` that is exactly ``${name}``, for a ``name`` of
    ``values``, by that value as it is (a number, a list, a bool); other strings stay."""
    if isinstance(tree, dict):
        return {k: fill_recipe(v, values) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [fill_recipe(v, values) for v in tree]
    if isinstance(tree, str):
        match = _VARIABLE.fullmatch(tree)
        if match and match.group(1) in values:
            return copy.deepcopy(values[match.group(1)])
    return tree


def uses_variables(tree: Any) -> bool:
    """Whether a protocol value names a data variable (so it says where, not what)."""
    if isinstance(tree, dict):
        return any(uses_variables(v) for v in tree.values())
    if isinstance(tree, list | tuple):
        return any(uses_variables(v) for v in tree)
    return isinstance(tree, str) and bool(_VARIABLE.search(tree))


def protocol_from_dict(raw: dict[str, Any], path: Path | None = None) -> Protocol:
    """Build a :class:`Protocol` from parsed YAML; a missing field raises ConfigError."""
    where = f" ({path})" if path else ""
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise ConfigError(
            f"protocol {raw.get('name', '?')!r}{where} lacks the fields {missing}; "
            f"every protocol must define {list(_REQUIRED)}."
        )
    dataset = dict(raw["dataset"])
    data = DataSource(
        synthetic=dataset.pop("synthetic", None),
        generator=dataset.pop("generator", DataSource.generator),
        root=dataset.pop("root", None),
        root_env=dataset.pop("root_env", None),
        variables={k: str(v) for k, v in dataset.pop("variables", {}).items()},
    )
    if not data.is_synthetic and not data.root:
        raise ConfigError(
            f"protocol {raw['name']!r}{where}: dataset needs either `synthetic` (generator "
            "arguments) or `root` (a data folder)."
        )
    budget = Budget(**raw["budget"])
    if (budget.max_iters is None) == (budget.max_epochs is None):
        raise ConfigError(
            f"protocol {raw['name']!r}{where}: budget must set exactly one of max_iters and "
            f"max_epochs (got {raw['budget']})."
        )
    recipes = {str(k): dict(v) for k, v in (raw.get("recipes") or {}).items()}
    default_recipe = raw.get("default_recipe")
    if recipes and default_recipe not in recipes:
        raise ConfigError(
            f"protocol {raw['name']!r}{where}: default_recipe is {default_recipe!r}; name one "
            f"of its recipes {sorted(recipes)}."
        )
    upstream_weights = str(raw.get("upstream_weights", "published"))
    if upstream_weights not in UPSTREAM_WEIGHTS:
        raise ConfigError(
            f"protocol {raw['name']!r}{where}: upstream_weights is {upstream_weights!r}; use "
            f"one of {', '.join(UPSTREAM_WEIGHTS)}."
        )
    return Protocol(
        name=str(raw["name"]),
        version=int(raw["version"]),
        task=str(raw["task"]),
        description=str(raw.get("description", "")).strip(),
        dataset=dataset,
        data=data,
        splits=dict(raw.get("splits", {})),
        input_size=tuple(raw.get("input_size", (224, 224))),
        budget=budget,
        metric=_metric(raw["metric"]),
        seeds=tuple(int(s) for s in raw["seeds"]),
        deterministic=bool(raw.get("deterministic", False)),
        baseline=raw.get("baseline"),
        fixed=dict(raw["fixed"]),
        tiny=bool(raw.get("tiny", False)),
        devices=int(raw.get("devices", 1)),
        estimate_s=float(raw.get("estimate_s", 60.0)),
        task_fixed=dict(raw.get("task_fixed") or {}),
        dry_run=dict(raw.get("dry_run", {})),
        checkpoint_interval=_positive(raw, "checkpoint_interval", where),
        cpu_pins=CpuPins.from_spec(raw.get("cpu_pins")),
        reported_metrics=tuple(_metric(m) for m in raw.get("reported_metrics") or ()),
        upstream_weights=upstream_weights,
        hooks=tuple(dict(h) for h in raw.get("hooks") or ()),
        recipes=recipes,
        default_recipe=default_recipe,
        path=path,
    )


def _metric(raw: dict[str, Any]) -> Metric:
    """A :class:`Metric` from its YAML mapping (``key``, optional ``name`` and direction)."""
    return Metric(
        key=raw["key"],
        name=raw.get("name", raw["key"].split("/")[-1]),
        greater_is_better=bool(raw.get("greater_is_better", True)),
    )


def _positive(raw: dict[str, Any], key: str, where: str) -> int | None:
    """``raw[key]`` as a positive int, None when absent; anything else raises ConfigError."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"protocol {raw.get('name', '?')!r}{where}: {key} must be a positive number of "
            f"iterations or epochs (the budget's unit), got {value!r}."
        )
    return value


def list_protocols(dirs: list[Path] | None = None) -> dict[str, Path]:
    """Every protocol name found, mapped to its file (earlier folders win)."""
    found: dict[str, Path] = {}
    for folder in dirs or default_protocol_dirs():
        for path in sorted(Path(folder).glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def load_protocol(name_or_path: str | Path, dirs: list[Path] | None = None) -> Protocol:
    """Load a protocol by name (searched in :func:`default_protocol_dirs`) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        known = list_protocols(dirs)
        if str(name_or_path) not in known:
            matches = close_matches(str(name_or_path), known)
            hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
            raise ConfigError(
                f"unknown protocol {str(name_or_path)!r}.{hint} Known protocols: "
                f"{', '.join(sorted(known)) or 'none'}; they are the YAML files in "
                f"{', '.join(str(d) for d in dirs or default_protocol_dirs())}."
            )
        path = known[str(name_or_path)]
    if not path.is_file():
        raise ConfigError(f"protocol file {path} does not exist; check the path.")
    with open(path) as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict):
        raise ConfigError(f"protocol file {path} is not a YAML mapping; see benchmark/protocols/.")
    if raw.get("name") != path.stem:
        raise ConfigError(
            f"protocol file {path} declares name {raw.get('name')!r}; the name must equal the "
            f"file stem {path.stem!r}."
        )
    return protocol_from_dict(raw, path)


def load_all_protocols(dirs: list[Path] | None = None) -> dict[str, Protocol]:
    """Every protocol found, by name."""
    return {name: load_protocol(path, dirs) for name, path in list_protocols(dirs).items()}
