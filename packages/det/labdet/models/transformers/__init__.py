"""Transformer parts of DETR-style detectors: deformable attention, positional encodings,
Deformable DETR's encoder and decoder, DINO's decoder and denoising queries."""

from labdet.models.transformers.deformable_attention import MultiScaleDeformableAttention
from labdet.models.transformers.deformable_detr_layers import (
    DeformableDetrTransformerDecoder,
    DeformableDetrTransformerEncoder,
    inverse_sigmoid,
)
from labdet.models.transformers.dino_layers import CdnQueryGenerator, DinoTransformerDecoder
from labdet.models.transformers.positional_encoding import (
    SinePositionalEncoding,
    box_sine_embedding,
    coordinate_sine_embedding,
)

__all__ = [
    "CdnQueryGenerator",
    "DinoTransformerDecoder",
    "coordinate_sine_embedding",
    "DeformableDetrTransformerDecoder",
    "DeformableDetrTransformerEncoder",
    "MultiScaleDeformableAttention",
    "SinePositionalEncoding",
    "box_sine_embedding",
    "inverse_sigmoid",
]
