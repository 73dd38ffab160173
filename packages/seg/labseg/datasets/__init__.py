"""Segmentation datasets on PNG label maps and the transforms that move image and label
map together."""

from labseg.datasets.public import ADE20KDataset, CityscapesDataset, PascalVOCDataset
from labseg.datasets.seg_dataset import SegDataError, SegDataset, make_palette, read_class_names
from labseg.datasets.transforms import (
    LoadSegAnnotations,
    PackSegInputs,
    PhotoMetricDistortion,
    SegRandomCrop,
    SegRandomFlip,
    SegRandomResize,
    SegResize,
)

__all__ = [
    "ADE20KDataset",
    "CityscapesDataset",
    "LoadSegAnnotations",
    "PackSegInputs",
    "PascalVOCDataset",
    "PhotoMetricDistortion",
    "SegDataError",
    "SegDataset",
    "SegRandomCrop",
    "SegRandomFlip",
    "SegRandomResize",
    "SegResize",
    "make_palette",
    "read_class_names",
]
