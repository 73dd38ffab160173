"""labseg's registries: children of labcore's, scope ``labseg``.

A ``type`` that labseg does not define (``ResNetV1c``, ``MixVisionTransformer``, the
shared transforms) resolves in labcore, then in MMEngine.
"""

from labcore.registry import make_children

_REGISTRIES = make_children(
    "labseg",
    {
        "MODELS": ["labseg.models"],
        "DATASETS": ["labseg.datasets"],
        "TRANSFORMS": ["labseg.datasets"],
        "METRICS": ["labseg.evaluation"],
        "TASK_UTILS": ["labseg.models"],
    },
)

MODELS = _REGISTRIES["MODELS"]
DATASETS = _REGISTRIES["DATASETS"]
TRANSFORMS = _REGISTRIES["TRANSFORMS"]
METRICS = _REGISTRIES["METRICS"]
TASK_UTILS = _REGISTRIES["TASK_UTILS"]
