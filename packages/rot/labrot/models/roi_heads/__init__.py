"""RoI heads for rotated boxes."""

from labrot.models.roi_heads.rotated_roi_head import RotatedRoIHead, RotatedSingleRoIExtractor

__all__ = ["RotatedRoIHead", "RotatedSingleRoIExtractor"]
