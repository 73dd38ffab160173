"""OpenLab's registries: children of MMEngine's root registries, scope ``labcore``.

Each codebase makes its own children of these (scope ``labcls``, ``labdet``, ...), so a
``type`` that a codebase does not define resolves here, and then in MMEngine. Every
registry names the modules that fill it (``locations``), so building works without
importing the package first.

An unknown ``type`` raises :class:`labcore.errors.UnknownTypeError`, which lists the
close matches and the registries that were searched. A config entry whose arguments
its type does not accept raises :class:`labcore.errors.ConfigError` before anything is
built (:func:`check_build_arguments`, run by every OpenLab registry and, through
:mod:`labcore.engine.compat`, by MMEngine's root registries).
"""

from __future__ import annotations

import functools
import inspect

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry as MMEngineRegistry

from labcore.errors import ConfigError, UnknownTypeError, close_matches

#: keys that MMEngine's build functions consume themselves, per registry name
_BUILDER_KEYS = {"parameter scheduler": {"convert_to_iter_based", "epoch_length"}}


def checked_build_func(build_func):
    """``build_func`` (a registry's builder) that first checks the arguments of the
    config entry against its type's signature (:func:`check_build_arguments`)."""
    if getattr(build_func, "_checks_arguments", False):
        return build_func

    @functools.wraps(build_func)
    def build(cfg, *args, registry, **kwargs):
        default_args = kwargs.get("default_args", args[0] if args else None)
        check_build_arguments(cfg, registry, default_args)
        return build_func(cfg, *args, registry=registry, **kwargs)

    build._checks_arguments = True
    return build


def check_build_arguments(cfg, registry, default_args=None) -> None:
    """Raise :class:`ConfigError` when a config entry gives its ``type`` arguments that
    its constructor (or function) does not accept: a misspelt, unknown or missing key.

    The type is resolved in the scope that MMEngine's builder will use (the entry's
    ``_scope_`` or the default scope); the message names the type, its module, the
    argument, the closest accepted names and every accepted name. Entries that are not
    single ``type`` dicts (lists of modules, the runner's whole config) pass unchecked,
    as do types whose signature takes ``**kwargs``.
    """
    if not isinstance(cfg, dict) or registry.name == "runner":
        return
    args = dict(cfg)
    for name, value in (default_args or {}).items():
        args.setdefault(name, value)
    obj_type = args.pop("type", None)
    scope = args.pop("_scope_", None)
    for key in _BUILDER_KEYS.get(registry.name, ()):
        args.pop(key, None)
    if isinstance(obj_type, str):
        with registry.switch_scope_and_registry(scope) as scoped:
            obj_cls = scoped.get(obj_type)
    else:
        obj_cls = obj_type
    if obj_cls is None or not callable(obj_cls):
        return
    try:
        signature = inspect.signature(obj_cls)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**args)
    except TypeError as bind_error:
        reason = str(bind_error)
    else:
        return
    name = getattr(obj_cls, "__qualname__", repr(obj_cls))
    accepted = [
        p.name
        for p in signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    hint = ""
    unexpected = [key for key in args if key not in signature.parameters]
    if unexpected:
        matches = close_matches(unexpected[0], accepted)
        hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
    raise ConfigError(
        f"The config entry of type '{name}' ({obj_cls.__module__}) cannot be built: "
        f"{reason}.{hint} {name} accepts: {', '.join(accepted) or 'no arguments'}. "
        f"Fix the key in the config, or the --cfg-options that set it."
    )


class Registry(MMEngineRegistry):
    """MMEngine's Registry whose failed look-up names close matches.

    ``get`` returns the class as MMEngine's does; where MMEngine would return None for
    an unknown name (and its builder would then raise a bare KeyError), this raises
    :class:`UnknownTypeError` naming the registries searched and the closest names.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.build_func = checked_build_func(self.build_func)

    def get(self, key):
        obj = super().get(key)
        if obj is None and isinstance(key, str):
            raise UnknownTypeError(self._unknown_type_message(key))
        return obj

    def _unknown_type_message(self, key: str) -> str:
        searched, names = [], set()
        registry = self
        while registry is not None:  # this registry and its ancestors
            searched.append(f"{registry.scope}::{registry.name}")
            names.update(registry.module_dict)
            registry = registry.parent
        root = self._get_root_registry()
        for child in root.children.values():  # siblings: other codebases' registries
            if child.scope not in (r.split("::")[0] for r in searched):
                names.update(f"{child.scope}.{n}" for n in child.module_dict)
        name = key.split(".")[-1]
        matches = close_matches(name, names) or close_matches(key, names)
        hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
        return (
            f"Unknown type '{key}': it is not registered in {' -> '.join(searched)}.{hint} "
            f"Check the spelling of `type` in the config, or that the module defining it "
            f"is listed in the registry's locations."
        )


def _child(parent: MMEngineRegistry, name: str, *locations: str) -> Registry:
    return Registry(name, parent=parent, scope="labcore", locations=list(locations))


RUNNERS = _child(MMENGINE_RUNNERS, "runner", "labcore.engine")
RUNNER_CONSTRUCTORS = _child(MMENGINE_RUNNER_CONSTRUCTORS, "runner constructor", "labcore.engine")
LOOPS = _child(MMENGINE_LOOPS, "loop", "labcore.engine")
HOOKS = _child(MMENGINE_HOOKS, "hook", "labcore.engine")
DATASETS = _child(MMENGINE_DATASETS, "dataset", "labcore.datasets")
DATA_SAMPLERS = _child(MMENGINE_DATA_SAMPLERS, "data sampler", "labcore.datasets")
TRANSFORMS = _child(MMENGINE_TRANSFORMS, "transform", "labcore.datasets")
MODELS = _child(MMENGINE_MODELS, "model", "labcore.models")
MODEL_WRAPPERS = _child(MMENGINE_MODEL_WRAPPERS, "model_wrapper", "labcore.engine")
WEIGHT_INITIALIZERS = _child(MMENGINE_WEIGHT_INITIALIZERS, "weight initializer", "labcore.models")
OPTIMIZERS = _child(MMENGINE_OPTIMIZERS, "optimizer", "labcore.engine")
OPTIM_WRAPPERS = _child(MMENGINE_OPTIM_WRAPPERS, "optim_wrapper", "labcore.engine")
OPTIM_WRAPPER_CONSTRUCTORS = _child(
    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, "optimizer wrapper constructor", "labcore.engine"
)
PARAM_SCHEDULERS = _child(MMENGINE_PARAM_SCHEDULERS, "parameter scheduler", "labcore.engine")
METRICS = _child(MMENGINE_METRICS, "metric", "labcore.evaluation")
EVALUATOR = _child(MMENGINE_EVALUATOR, "evaluator", "labcore.evaluation")
TASK_UTILS = _child(MMENGINE_TASK_UTILS, "task util", "labcore.models")
VISUALIZERS = _child(MMENGINE_VISUALIZERS, "visualizer", "labcore.engine")
VISBACKENDS = _child(MMENGINE_VISBACKENDS, "vis_backend", "labcore.engine")
LOG_PROCESSORS = _child(MMENGINE_LOG_PROCESSORS, "log_processor", "labcore.engine")
INFERENCERS = _child(MMENGINE_INFERENCERS, "inferencer", "labcore.engine")
FUNCTIONS = _child(MMENGINE_FUNCTIONS, "function", "labcore.datasets", "labcore.engine.worker_seed")

ALL = {
    "RUNNERS": RUNNERS, "RUNNER_CONSTRUCTORS": RUNNER_CONSTRUCTORS, "LOOPS": LOOPS,
    "HOOKS": HOOKS, "DATASETS": DATASETS, "DATA_SAMPLERS": DATA_SAMPLERS,
    "TRANSFORMS": TRANSFORMS, "MODELS": MODELS, "MODEL_WRAPPERS": MODEL_WRAPPERS,
    "WEIGHT_INITIALIZERS": WEIGHT_INITIALIZERS, "OPTIMIZERS": OPTIMIZERS,
    "OPTIM_WRAPPERS": OPTIM_WRAPPERS, "OPTIM_WRAPPER_CONSTRUCTORS": OPTIM_WRAPPER_CONSTRUCTORS,
    "PARAM_SCHEDULERS": PARAM_SCHEDULERS, "METRICS": METRICS, "EVALUATOR": EVALUATOR,
    "TASK_UTILS": TASK_UTILS, "VISUALIZERS": VISUALIZERS, "VISBACKENDS": VISBACKENDS,
    "LOG_PROCESSORS": LOG_PROCESSORS, "INFERENCERS": INFERENCERS, "FUNCTIONS": FUNCTIONS,
}  # fmt: skip


def make_children(
    scope: str, locations: dict[str, list[str]], *, parent: str | None = None
) -> dict[str, Registry]:
    """Child registries for a codebase: one per labcore registry, in scope ``scope``.

    ``locations`` maps a registry's name (``"MODELS"``) to the modules that fill it in
    the codebase; registries it does not name get no locations of their own. A codebase
    declares only the registries it fills; the others are made too, so that every
    look-up in scope ``scope`` finds a registry.

    ``parent`` names the codebase this one builds on (its scope, e.g. ``"labdet"`` for
    labrot): the children then hang below that codebase's registries, so a ``type`` the
    codebase does not define resolves in the parent codebase, then in labcore, then in
    MMEngine. The parent's ``registry`` module must be imported first.

        MODELS = make_children("labcls", {"MODELS": ["labcls.models"]})["MODELS"]
        MODELS = make_children("labrot", {"MODELS": ["labrot.models"]}, parent="labdet")["MODELS"]

    Raises:
        ValueError: an unknown registry name, or a parent scope without registries.
    """
    unknown = set(locations) - set(ALL)
    if unknown:
        raise ValueError(f"unknown registries {sorted(unknown)}; choose from {sorted(ALL)}")
    parents = dict(ALL)
    if parent is not None:
        parents = {key: registry.children.get(parent) for key, registry in ALL.items()}
        missing = sorted(key for key, registry in parents.items() if registry is None)
        if missing:
            raise ValueError(
                f"codebase '{parent}' has no child registries {missing} of labcore's; import "
                f"{parent}.registry before making the registries of '{scope}'."
            )
    # MMEngine imports only a registry's own locations on look-up, not its parent's: a
    # child of a codebase's registries also imports the modules that fill those.
    inherited = {key: list(base._locations) if parent else [] for key, base in parents.items()}
    return {
        key: Registry(
            base.name,
            parent=base,
            scope=scope,
            locations=[*locations.get(key, []), *inherited[key]],
        )
        for key, base in parents.items()
    }
