"""labcls's registries: children of labcore's, scope ``labcls``.

A ``type`` that labcls does not define resolves in labcore, then in MMEngine. Only the
registries labcls fills are named here; :func:`labcore.registry.make_children` makes the
others, so every lookup in scope ``labcls`` finds a registry.
"""

from labcore.registry import make_children

_REGISTRIES = make_children(
    "labcls",
    {
        "MODELS": ["labcls.models"],
        "DATASETS": ["labcls.datasets"],
        "TRANSFORMS": ["labcls.datasets"],
        "METRICS": ["labcls.evaluation"],
        "HOOKS": ["labcls.engine"],
        "TASK_UTILS": ["labcls.models"],
    },
)

MODELS = _REGISTRIES["MODELS"]
DATASETS = _REGISTRIES["DATASETS"]
TRANSFORMS = _REGISTRIES["TRANSFORMS"]
METRICS = _REGISTRIES["METRICS"]
HOOKS = _REGISTRIES["HOOKS"]
TASK_UTILS = _REGISTRIES["TASK_UTILS"]
