"""Decode heads: backbone features -> per-pixel class logits."""

from labseg.models.decode_heads.aspp_head import ASPPHead, DepthwiseSeparableASPPHead
from labseg.models.decode_heads.decode_head import BaseDecodeHead
from labseg.models.decode_heads.fcn_head import FCNHead
from labseg.models.decode_heads.psp_head import PSPHead
from labseg.models.decode_heads.segformer_head import SegformerHead
from labseg.models.decode_heads.uper_head import UPerHead

__all__ = [
    "ASPPHead",
    "BaseDecodeHead",
    "DepthwiseSeparableASPPHead",
    "FCNHead",
    "PSPHead",
    "SegformerHead",
    "UPerHead",
]
