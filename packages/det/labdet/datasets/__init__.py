"""COCO-format data sets and detection transforms (registered in labdet's DATASETS, TRANSFORMS).

labcore's shared transforms (LoadImageFromFile, ...) are imported so that labdet pipelines
can name them: MMEngine does not import a parent registry's locations on look-up.
"""

import labcore.datasets  # noqa: F401
from labdet.datasets.coco import AnnotationError, CocoDataset
from labdet.datasets.transforms import (
    DetPad,
    DetRandomFlip,
    DetResize,
    LoadDetAnnotations,
    PackDetInputs,
    decode_segmentation,
)
from labdet.datasets.transforms_color import YOLOXHSVRandomAug
from labdet.datasets.transforms_mix import CachedMixUp, CachedMosaic
from labdet.datasets.transforms_multiscale import (
    DetRandomChoiceResize,
    DetRandomCrop,
    DetRandomResize,
    RandomChoice,
)

__all__ = [
    "AnnotationError",
    "CachedMixUp",
    "CachedMosaic",
    "CocoDataset",
    "DetPad",
    "DetRandomChoiceResize",
    "DetRandomCrop",
    "DetRandomFlip",
    "DetRandomResize",
    "DetResize",
    "LoadDetAnnotations",
    "PackDetInputs",
    "RandomChoice",
    "YOLOXHSVRandomAug",
    "decode_segmentation",
]
