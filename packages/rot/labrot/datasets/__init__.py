"""DOTA-format data sets and rotated detection transforms (labrot's DATASETS, TRANSFORMS).

labdet's data sets and transforms (and through them labcore's) are imported so that
labrot pipelines can name them (``LoadImageFromFile``, ``PackDetInputs``): MMEngine does
not import a parent registry's locations on look-up.
"""

import labdet.datasets  # noqa: F401
from labrot.datasets.dota import DOTA_V1_CLASSES, DOTADataset, DOTAFormatError, parse_dota_line
from labrot.datasets.transforms import LoadRotatedAnnotations, RandomRotate90, RotatedRandomFlip

__all__ = [
    "DOTA_V1_CLASSES",
    "DOTADataset",
    "DOTAFormatError",
    "LoadRotatedAnnotations",
    "RandomRotate90",
    "RotatedRandomFlip",
    "parse_dota_line",
]
