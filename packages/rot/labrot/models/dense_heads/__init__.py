"""Dense heads for rotated boxes."""

from labrot.models.dense_heads.oriented_rpn_head import OrientedRPNHead
from labrot.models.dense_heads.rotated_retina_head import RotatedRetinaHead

__all__ = ["OrientedRPNHead", "RotatedRetinaHead"]
