"""Classification heads."""

from labcls.models.heads.cls_head import ClsHead
from labcls.models.heads.linear_head import LinearClsHead
from labcls.models.heads.vision_transformer_head import VisionTransformerClsHead

__all__ = ["ClsHead", "LinearClsHead", "VisionTransformerClsHead"]
