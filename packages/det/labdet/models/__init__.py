"""labdet models: detectors and the parts configs combine (heads, losses, task modules).

labcore's models (ResNet, FPN, ...) are imported here as well: MMEngine looks a type up in
the parent registries without importing their ``locations``, so a labdet config naming
``type='ResNet'`` needs labcore.models registered first.
"""

import labcore.models  # noqa: F401
from labdet.models import (
    dense_heads,
    detectors,
    losses,
    necks,
    roi_heads,
    task_modules,
    transformers,
)
from labdet.models.data_preprocessor import DetDataPreprocessor

__all__ = [
    "DetDataPreprocessor",
    "dense_heads",
    "detectors",
    "losses",
    "necks",
    "roi_heads",
    "task_modules",
    "transformers",
]
