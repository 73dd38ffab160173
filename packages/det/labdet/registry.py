"""labdet's registries: children of labcore's, scope ``labdet``.

A ``type`` that labdet does not define resolves in labcore, then in MMEngine. Only the
registries labdet fills are named here; :func:`labcore.registry.make_children` makes the
others, so every lookup in scope ``labdet`` finds a registry.
"""

from labcore.registry import make_children

_REGISTRIES = make_children(
    "labdet",
    {
        "MODELS": ["labdet.models"],
        "DATASETS": ["labdet.datasets"],
        "TRANSFORMS": ["labdet.datasets"],
        "METRICS": ["labdet.evaluation"],
        "HOOKS": ["labdet.engine"],
        "TASK_UTILS": ["labdet.models"],
    },
)

MODELS = _REGISTRIES["MODELS"]
DATASETS = _REGISTRIES["DATASETS"]
TRANSFORMS = _REGISTRIES["TRANSFORMS"]
METRICS = _REGISTRIES["METRICS"]
HOOKS = _REGISTRIES["HOOKS"]
TASK_UTILS = _REGISTRIES["TASK_UTILS"]
