"""labrot models: rotated detectors and the parts configs combine.

labdet's models (and through them labcore's) are imported here: MMEngine looks a type
up in the parent registries without importing their ``locations``, so a labrot config
naming labdet's ``type='FocalLoss'`` needs labdet.models registered first.
"""

import labdet.models  # noqa: F401
from labrot.models import dense_heads, detectors, roi_heads, task_modules
from labrot.models.detectors import OrientedRCNN, RotatedRetinaNet

__all__ = [
    "OrientedRCNN",
    "RotatedRetinaNet",
    "dense_heads",
    "detectors",
    "roi_heads",
    "task_modules",
]
