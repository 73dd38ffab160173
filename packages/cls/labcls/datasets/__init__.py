"""labcls datasets and the transform that packs a sample for the classifier.

The shared image transforms (LoadImageFromFile, RandomResizedCrop, ...) live in
:mod:`labcore.datasets.transforms` and resolve from labcls configs through labcore.
"""

import labcore.datasets  # noqa: F401  (shared transforms that labcls configs name)
from labcls.datasets.cifar import CIFAR10, CIFAR100
from labcls.datasets.errors import DatasetError
from labcls.datasets.image_folder import CustomDataset
from labcls.datasets.packing import PackClsInputs
from labcls.datasets.shapes import ShapesDataset

__all__ = ["CIFAR10", "CIFAR100", "CustomDataset", "DatasetError", "PackClsInputs", "ShapesDataset"]
