"""labpose's data: COCO-format keypoint data sets, keypoint metainfo, top-down transforms."""

import labcore.datasets  # noqa: F401  (registers LoadImageFromFile and the shared transforms)
from labpose.datasets import transforms  # noqa: F401  (registers the transforms)
from labpose.datasets.coco_keypoint import AnnotationError, CocoKeypointDataset
from labpose.datasets.metainfo import load_metainfo

__all__ = ["AnnotationError", "CocoKeypointDataset", "load_metainfo"]
