"""labpose's registries: children of labcore's, scope ``labpose``.

A ``type`` that labpose does not define resolves in labcore, then in MMEngine. Keypoint
codecs (MSRAHeatmap, SimCCLabel, ...) live in TASK_UTILS.
"""

from labcore.registry import make_children

_REGISTRIES = make_children(
    "labpose",
    {
        "MODELS": ["labpose.models"],
        "DATASETS": ["labpose.datasets"],
        "TRANSFORMS": ["labpose.datasets"],
        "METRICS": ["labpose.evaluation"],
        "TASK_UTILS": ["labpose.codecs"],
    },
)

MODELS = _REGISTRIES["MODELS"]
DATASETS = _REGISTRIES["DATASETS"]
TRANSFORMS = _REGISTRIES["TRANSFORMS"]
METRICS = _REGISTRIES["METRICS"]
TASK_UTILS = _REGISTRIES["TASK_UTILS"]
