"""Two-stage RoI heads: box and mask branches."""

from labdet.models.roi_heads.box_heads import ConvFCBoxHead, FastRCNNPredictor, TwoMLPHead
from labdet.models.roi_heads.cascade_roi_head import CascadeRoIHead
from labdet.models.roi_heads.mask_heads import MaskRCNNHead, MaskRCNNPredictor, paste_masks
from labdet.models.roi_heads.roi_head import StandardRoIHead

__all__ = [
    "CascadeRoIHead",
    "ConvFCBoxHead",
    "FastRCNNPredictor",
    "MaskRCNNHead",
    "MaskRCNNPredictor",
    "StandardRoIHead",
    "TwoMLPHead",
    "paste_masks",
]
