"""labssl's registries, scope ``labssl``: children of labcls's.

labssl is built on labcls (as MMSelfSup was on MMClassification), so a ``type`` that
labssl does not define resolves in labcls (``ImageClassifier``, ``ShapesDataset``,
``PackClsInputs``, ``Accuracy``), then in labcore (backbones, transforms, LARS), then in
MMEngine.
"""

import labcls.registry  # noqa: F401  (makes labcls's registries, the parents of these)
from labcore.registry import make_children

_REGISTRIES = make_children(
    "labssl",
    {
        "MODELS": ["labssl.models"],
        "DATASETS": ["labssl.datasets"],
        "TRANSFORMS": ["labssl.datasets"],
        "METRICS": ["labssl.evaluation"],
        "HOOKS": ["labssl.engine"],
        "LOOPS": ["labssl.engine"],
    },
    parent="labcls",
)

MODELS = _REGISTRIES["MODELS"]
DATASETS = _REGISTRIES["DATASETS"]
TRANSFORMS = _REGISTRIES["TRANSFORMS"]
METRICS = _REGISTRIES["METRICS"]
HOOKS = _REGISTRIES["HOOKS"]
LOOPS = _REGISTRIES["LOOPS"]
