"""Dense (one-stage and proposal) heads."""

from labdet.models.dense_heads.fcos_head import FCOSHead
from labdet.models.dense_heads.retina_head import RetinaHead
from labdet.models.dense_heads.rpn_head import RPNHead

__all__ = ["FCOSHead", "RPNHead", "RetinaHead"]
