"""Dense (one-stage and proposal) heads; their test-time decoding is shared
(:mod:`labdet.models.dense_heads.postprocess`)."""

from labdet.models.dense_heads.atss_head import ATSSHead
from labdet.models.dense_heads.deformable_detr_head import DeformableDETRHead
from labdet.models.dense_heads.dino_head import DINOHead
from labdet.models.dense_heads.fcos_head import FCOSHead
from labdet.models.dense_heads.gfl_head import GFLHead
from labdet.models.dense_heads.retina_head import RetinaHead
from labdet.models.dense_heads.rpn_head import RPNHead
from labdet.models.dense_heads.rtmdet_head import RTMDetSepBNHead

__all__ = [
    "ATSSHead",
    "DINOHead",
    "DeformableDETRHead",
    "FCOSHead",
    "GFLHead",
    "RPNHead",
    "RTMDetSepBNHead",
    "RetinaHead",
]
