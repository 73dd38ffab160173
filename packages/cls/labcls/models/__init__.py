"""labcls models: the classifier, its heads, losses, data preprocessor and batch augments.

Importing this module registers them in labcls MODELS; labcore's backbones and necks are
registered by importing :mod:`labcore.models`.
"""

import labcore.models  # noqa: F401  (backbones and necks that labcls configs name)
from labcls.models.batch_augments import RandomBatchAugment
from labcls.models.classifier import ImageClassifier
from labcls.models.data_preprocessor import ClsDataPreprocessor
from labcls.models.heads import ClsHead, LinearClsHead, VisionTransformerClsHead
from labcls.models.losses import CrossEntropyLoss

__all__ = [
    "ClsDataPreprocessor",
    "ClsHead",
    "CrossEntropyLoss",
    "ImageClassifier",
    "LinearClsHead",
    "RandomBatchAugment",
    "VisionTransformerClsHead",
]
