"""Two-stage RoI heads: box and mask branches."""

from labdet.models.roi_heads.box_heads import FastRCNNPredictor, TwoMLPHead
from labdet.models.roi_heads.mask_heads import MaskRCNNHead, MaskRCNNPredictor, paste_masks
from labdet.models.roi_heads.roi_head import StandardRoIHead

__all__ = [
    "FastRCNNPredictor",
    "MaskRCNNHead",
    "MaskRCNNPredictor",
    "StandardRoIHead",
    "TwoMLPHead",
    "paste_masks",
]
