"""Convert torchvision detection state dicts (RetinaNet, FCOS, Faster / Mask R-CNN) to labdet's.

    from torchvision.models.detection import retinanet_resnet50_fpn
    state = convert_torchvision_detector(retinanet_resnet50_fpn(weights="DEFAULT").state_dict())
    model.load_state_dict(state)   # a labdet RetinaNet built from retinanet_r50_fpn_tv_coco.py

labdet's ResNet uses torchvision's names (conv1, bn1, layer1..4), so the backbone only
loses its ``body.`` prefix; FPN, heads and RoI heads are renamed rule by rule. Class order
is unchanged: torchvision's two-stage models keep background at index 0, as labdet's
R-CNN predictors do, and RetinaNet / FCOS logits map one to one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from torch import Tensor

from labcore.errors import CheckpointError

# (pattern, replacement) applied in order; the first that matches renames the key.
TORCHVISION_RULES: list[tuple[str, str | Callable[[re.Match], str]]] = [
    (r"^backbone\.body\.", "backbone."),
    (r"^backbone\.fpn\.inner_blocks\.(\d+)\.0\.", r"neck.lateral_convs.\1."),
    (r"^backbone\.fpn\.inner_blocks\.(\d+)\.", r"neck.lateral_convs.\1."),
    (r"^backbone\.fpn\.layer_blocks\.(\d+)\.0\.", r"neck.fpn_convs.\1."),
    (r"^backbone\.fpn\.layer_blocks\.(\d+)\.", r"neck.fpn_convs.\1."),
    (r"^backbone\.fpn\.extra_blocks\.(p6|p7)\.", r"neck.\1."),
    # RetinaNet: each tower block is Sequential(conv, relu) -> flat index 2i.
    (
        r"^head\.classification_head\.conv\.(\d+)\.0\.",
        lambda m: f"bbox_head.cls_convs.{2 * int(m[1])}.",
    ),
    (
        r"^head\.regression_head\.conv\.(\d+)\.0\.",
        lambda m: f"bbox_head.reg_convs.{2 * int(m[1])}.",
    ),
    # FCOS: towers are already flat (conv, GroupNorm, relu).
    (r"^head\.classification_head\.conv\.(\d+)\.", r"bbox_head.cls_convs.\1."),
    (r"^head\.regression_head\.conv\.(\d+)\.", r"bbox_head.reg_convs.\1."),
    (r"^head\.classification_head\.cls_logits\.", "bbox_head.cls_logits."),
    (r"^head\.regression_head\.bbox_reg\.", "bbox_head.bbox_reg."),
    (r"^head\.regression_head\.bbox_ctrness\.", "bbox_head.centerness."),
    # RPN (older checkpoints have a bare conv).
    (r"^rpn\.head\.conv\.0\.0\.", "rpn_head.conv.0."),
    (r"^rpn\.head\.conv\.", "rpn_head.conv.0."),
    (r"^rpn\.head\.(cls_logits|bbox_pred)\.", r"rpn_head.\1."),
    # RoI heads (older checkpoints name mask convs mask_fcn1..4).
    (r"^roi_heads\.box_head\.", "roi_head.box_head."),
    (r"^roi_heads\.box_predictor\.", "roi_head.box_predictor."),
    (r"^roi_heads\.mask_head\.(\d+)\.0\.", lambda m: f"roi_head.mask_head.convs.{2 * int(m[1])}."),
    (
        r"^roi_heads\.mask_head\.mask_fcn(\d+)\.",
        lambda m: f"roi_head.mask_head.convs.{2 * (int(m[1]) - 1)}.",
    ),
    (r"^roi_heads\.mask_predictor\.", "roi_head.mask_predictor."),
]


def convert_torchvision_detector(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """labdet names for a torchvision detection model's ``state_dict``.

    BatchNorm's ``num_batches_tracked`` counters are dropped (labdet's detection configs use
    FrozenBN). Raises :class:`CheckpointError` naming the keys that no rule maps, which
    means the checkpoint is not one of torchvision's RetinaNet, FCOS, Faster or Mask R-CNN.
    """
    converted, unknown = {}, []
    for key, value in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        for pattern, replacement in TORCHVISION_RULES:
            new_key, count = re.subn(pattern, replacement, key, count=1)
            if count:
                converted[new_key] = value
                break
        else:
            unknown.append(key)
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise CheckpointError(
            f"{len(unknown)} keys of the state dict are not from a torchvision RetinaNet, FCOS, "
            f"Faster R-CNN or Mask R-CNN: {shown}. Pass the state_dict() of one of those models."
        )
    return converted
