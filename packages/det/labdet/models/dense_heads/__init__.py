"""Dense (one-stage and proposal) heads; their test-time decoding is shared
(:mod:`labdet.models.dense_heads.postprocess`)."""

from labdet.models.dense_heads.atss_head import ATSSHead
from labdet.models.dense_heads.fcos_head import FCOSHead
from labdet.models.dense_heads.gfl_head import GFLHead
from labdet.models.dense_heads.retina_head import RetinaHead
from labdet.models.dense_heads.rpn_head import RPNHead

__all__ = ["ATSSHead", "FCOSHead", "GFLHead", "RPNHead", "RetinaHead"]
