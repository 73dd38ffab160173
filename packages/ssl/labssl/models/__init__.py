"""labssl models: the self-supervised methods, their necks, heads and losses, the
multi-view data preprocessor, and the linear-probe classifier.

Importing this module registers them in labssl MODELS; labcore's backbones and labcls's
classifier pieces resolve through the parent registries.
"""

import labcls.models  # noqa: F401  (ImageClassifier, LinearClsHead, ... that probe configs name)
import labcore.models  # noqa: F401  (backbones)
from labssl.models.base import SelfSupervisedModel
from labssl.models.byol import BYOL
from labssl.models.data_preprocessor import MultiViewDataPreprocessor
from labssl.models.heads import ContrastiveHead, LatentPredictHead
from labssl.models.mae import MAE, MAEPretrainDecoder, MAEViT
from labssl.models.mocov2 import MoCoV2
from labssl.models.momentum import MomentumEncoder
from labssl.models.necks import MoCoV2Neck, NonLinearNeck
from labssl.models.probe import LinearProbeClassifier
from labssl.models.simclr import SimCLR

__all__ = [
    "BYOL",
    "MAE",
    "ContrastiveHead",
    "LatentPredictHead",
    "LinearProbeClassifier",
    "MAEPretrainDecoder",
    "MAEViT",
    "MoCoV2",
    "MoCoV2Neck",
    "MomentumEncoder",
    "MultiViewDataPreprocessor",
    "NonLinearNeck",
    "SelfSupervisedModel",
    "SimCLR",
]
