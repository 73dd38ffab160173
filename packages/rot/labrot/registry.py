"""labrot's registries, scope ``labrot``: children of labdet's, as MMRotate's are of MMDetection's.

labrot builds on labdet, so a ``type`` that labrot does not define resolves in labdet,
then in labcore, then in MMEngine: a labrot config names labdet's ``FocalLoss`` or
``DetDataPreprocessor`` as it is, without a scope prefix. Each
registry names the labrot modules that fill it (``locations``), and labdet's too;
:func:`labcore.registry.make_children` makes every registry, so every look-up in scope
``labrot`` finds one.
"""

import labdet.registry  # noqa: F401  (makes labdet's registries, the parents of these)
from labcore.registry import make_children

_REGISTRIES = make_children(
    "labrot",
    {
        "MODELS": ["labrot.models"],
        "DATASETS": ["labrot.datasets"],
        "TRANSFORMS": ["labrot.datasets"],
        "METRICS": ["labrot.evaluation"],
        "TASK_UTILS": ["labrot.models"],
    },
    parent="labdet",
)

MODELS = _REGISTRIES["MODELS"]
DATASETS = _REGISTRIES["DATASETS"]
TRANSFORMS = _REGISTRIES["TRANSFORMS"]
METRICS = _REGISTRIES["METRICS"]
TASK_UTILS = _REGISTRIES["TASK_UTILS"]
