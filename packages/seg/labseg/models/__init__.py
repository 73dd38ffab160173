"""labseg's models: segmentors, decode heads, losses, pixel samplers, data preprocessor.

Backbones (ResNetV1c, MixVisionTransformer, ...) come from labcore.
"""

from labseg.models import data_preprocessor, decode_heads, losses, samplers, segmentors  # noqa: F401
from labseg.models.data_preprocessor import SegDataPreprocessor
from labseg.models.decode_heads import (
    ASPPHead,
    DepthwiseSeparableASPPHead,
    FCNHead,
    PSPHead,
    SegformerHead,
    UPerHead,
)
from labseg.models.losses import CrossEntropyLoss, DiceLoss
from labseg.models.samplers import OHEMPixelSampler
from labseg.models.segmentors import EncoderDecoder

__all__ = [
    "ASPPHead",
    "CrossEntropyLoss",
    "DepthwiseSeparableASPPHead",
    "DiceLoss",
    "EncoderDecoder",
    "FCNHead",
    "OHEMPixelSampler",
    "PSPHead",
    "SegDataPreprocessor",
    "SegformerHead",
    "UPerHead",
]
