"""Dense heads for rotated boxes."""

from labrot.models.dense_heads.rotated_retina_head import RotatedRetinaHead

__all__ = ["RotatedRetinaHead"]
