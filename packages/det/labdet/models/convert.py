"""Convert torchvision detection state dicts (RetinaNet, FCOS, Faster / Mask R-CNN, and the
v2 RetinaNet and Faster R-CNN) and MMDetection R-CNN checkpoints (Faster, Mask, Cascade and
Cascade Mask R-CNN; :func:`convert_openmmlab_detector`) to labdet's.

    from torchvision.models.detection import retinanet_resnet50_fpn
    state = convert_torchvision_detector(retinanet_resnet50_fpn(weights="DEFAULT").state_dict())
    model.load_state_dict(state)   # a labdet RetinaNet built from retinanet_r50_fpn_tv_coco.py

labdet's ResNet uses torchvision's names (conv1, bn1, layer1..4), so the backbone only
loses its ``body.`` prefix; FPN, heads and RoI heads are renamed rule by rule. Class order
is unchanged: torchvision's two-stage models keep background at index 0, as labdet's
R-CNN predictors do, and RetinaNet / FCOS logits map one to one.

Where torchvision nests a block (``conv.<block>.<layer>``) and labdet keeps the layers
flat, the flat index depends on whether the block has a norm layer; that is read from the
state dict itself (any ``....<block>.1.`` key), so the v1 and v2 layouts convert alike.
Every key must match a rule exactly, down to its parameter name: anything else raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from labcore.models.rename import Rule, rename_keys

# What a parameter or buffer of a conv, linear or norm layer may be called.
_LEAF = r"(weight|bias|running_mean|running_var)$"
_RETINA_TOWER = r"^head\.(classification|regression)_head\.conv\.(\d+)\.([01])\." + _LEAF


def _has(state_dict: Mapping[str, Tensor], pattern: str) -> bool:
    return any(re.match(pattern, key) for key in state_dict)


def _rules(state_dict: Mapping[str, Tensor]) -> list[Rule]:
    """The renaming rules for this state dict's layout (v1 or v2 blocks)."""
    fpn_norm = _has(state_dict, r"^backbone\.fpn\.(inner|layer)_blocks\.\d+\.1\.")
    fpn_block = r"\1.0." if fpn_norm else r"\1."
    retina_block = 3 if _has(state_dict, r"^head\.\w+_head\.conv\.\d+\.1\." + _LEAF) else 2
    tower = {"classification": "cls_convs", "regression": "reg_convs"}
    return [
        (r"^backbone\.body\.(.+)$", r"backbone.\1"),
        # FPN: Conv2dNormActivation blocks; with a norm, labdet's are ConvNormAct as well.
        (
            r"^backbone\.fpn\.inner_blocks\.(\d+)\.0\." + _LEAF,
            r"neck.lateral_convs." + fpn_block + r"\2",
        ),
        (r"^backbone\.fpn\.inner_blocks\.(\d+)\.1\." + _LEAF, r"neck.lateral_convs.\1.1.\2"),
        (r"^backbone\.fpn\.inner_blocks\.(\d+)\." + _LEAF, r"neck.lateral_convs.\1.\2"),
        (
            r"^backbone\.fpn\.layer_blocks\.(\d+)\.0\." + _LEAF,
            r"neck.fpn_convs." + fpn_block + r"\2",
        ),
        (r"^backbone\.fpn\.layer_blocks\.(\d+)\.1\." + _LEAF, r"neck.fpn_convs.\1.1.\2"),
        (r"^backbone\.fpn\.layer_blocks\.(\d+)\." + _LEAF, r"neck.fpn_convs.\1.\2"),
        (r"^backbone\.fpn\.extra_blocks\.(p6|p7)\." + _LEAF, r"neck.\1.\2"),
        # RetinaNet: tower blocks Sequential(conv[, norm], relu) -> flat index block * size + layer.
        (
            _RETINA_TOWER,
            lambda m: f"bbox_head.{tower[m[1]]}.{retina_block * int(m[2]) + int(m[3])}.{m[4]}",
        ),
        # FCOS: towers are already flat (conv, GroupNorm, relu).
        (
            r"^head\.(classification|regression)_head\.conv\.(\d+)\." + _LEAF,
            lambda m: f"bbox_head.{tower[m[1]]}.{m[2]}.{m[3]}",
        ),
        (r"^head\.classification_head\.cls_logits\." + _LEAF, r"bbox_head.cls_logits.\1"),
        (r"^head\.regression_head\.bbox_reg\." + _LEAF, r"bbox_head.bbox_reg.\1"),
        (r"^head\.regression_head\.bbox_ctrness\." + _LEAF, r"bbox_head.centerness.\1"),
        # RPN: Sequential(Conv2dNormActivation(conv, relu), ...) -> flat index 2 * block;
        # older checkpoints have a bare conv.
        (
            r"^rpn\.head\.conv\.(\d+)\.0\." + _LEAF,
            lambda m: f"rpn_head.conv.{2 * int(m[1])}.{m[2]}",
        ),
        (r"^rpn\.head\.conv\." + _LEAF, r"rpn_head.conv.0.\1"),
        (r"^rpn\.head\.(cls_logits|bbox_pred)\." + _LEAF, r"rpn_head.\1.\2"),
        # RoI box heads: TwoMLPHead (fc6, fc7) and ConvFCBoxHead keep torchvision's names.
        (r"^roi_heads\.box_head\.(fc6|fc7)\." + _LEAF, r"roi_head.box_head.\1.\2"),
        (r"^roi_heads\.box_head\.(\d+)\.([01])\." + _LEAF, r"roi_head.box_head.\1.\2.\3"),
        (r"^roi_heads\.box_head\.(\d+)\." + _LEAF, r"roi_head.box_head.\1.\2"),
        (
            r"^roi_heads\.box_predictor\.(cls_score|bbox_pred)\." + _LEAF,
            r"roi_head.box_predictor.\1.\2",
        ),
        # Mask heads (older checkpoints name the convs mask_fcn1..4).
        (
            r"^roi_heads\.mask_head\.(\d+)\.0\." + _LEAF,
            lambda m: f"roi_head.mask_head.convs.{2 * int(m[1])}.{m[2]}",
        ),
        (
            r"^roi_heads\.mask_head\.mask_fcn(\d+)\." + _LEAF,
            lambda m: f"roi_head.mask_head.convs.{2 * (int(m[1]) - 1)}.{m[2]}",
        ),
        (
            r"^roi_heads\.mask_predictor\.(conv5_mask|mask_fcn_logits)\." + _LEAF,
            r"roi_head.mask_predictor.\1.\2",
        ),
    ]


def convert_torchvision_detector(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """labdet names for a torchvision detection model's ``state_dict``.

    BatchNorm's ``num_batches_tracked`` counters are dropped (labdet's detection configs use
    FrozenBN, or BN in eval mode). Raises :class:`CheckpointError` naming the keys that no
    rule maps, which means the checkpoint is not one of torchvision's RetinaNet, FCOS,
    Faster or Mask R-CNN (v1 or v2).
    """
    return rename_keys(
        state_dict,
        _rules(state_dict),
        source="torchvision detection",
        into="labdet",
        drop=r".*num_batches_tracked",
        supported="Pass the state_dict() of a torchvision RetinaNet, FCOS, Faster R-CNN or "
        "Mask R-CNN.",
    )


# MMDetection (OpenMMLab) checkpoints of Faster, Mask and Cascade (Mask) R-CNN R50/R101/X101-FPN.
_MMDET_RULES: list[Rule] = [
    # MMDetection's ResNet / ResNeXt use torchvision's names (conv1, bn1, layer1..4).
    (r"^backbone\.((?:conv1|bn1|layer\d\.\d+\.(?:conv\d|bn\d|downsample\.[01]))\.(?:weight|bias|running_mean|running_var))$", r"backbone.\1"),
    (r"^neck\.(lateral_convs|fpn_convs)\.(\d+)\.conv\.(weight|bias)$", r"neck.\1.\2.\3"),
    (r"^rpn_head\.rpn_conv\.(weight|bias)$", r"rpn_head.conv.0.\1"),
    (r"^rpn_head\.rpn_cls\.(weight|bias)$", r"rpn_head.cls_logits.\1"),
    (r"^rpn_head\.rpn_reg\.(weight|bias)$", r"rpn_head.bbox_pred.\1"),
    # Shared2FCBBoxHead -> TwoMLPHead + FastRCNNPredictor (Cascade: one per stage).
    (r"^roi_head\.bbox_head\.shared_fcs\.([01])\.(weight|bias)$", lambda m: f"roi_head.box_head.fc{6 + int(m[1])}.{m[2]}"),
    (r"^roi_head\.bbox_head\.fc_cls\.(weight|bias)$", r"roi_head.box_predictor.cls_score.\1"),
    (r"^roi_head\.bbox_head\.fc_reg\.(weight|bias)$", r"roi_head.box_predictor.bbox_pred.\1"),
    (r"^roi_head\.bbox_head\.(\d)\.shared_fcs\.([01])\.(weight|bias)$", lambda m: f"roi_head.box_heads.{m[1]}.fc{6 + int(m[2])}.{m[3]}"),
    (r"^roi_head\.bbox_head\.(\d)\.fc_cls\.(weight|bias)$", r"roi_head.box_predictors.\1.cls_score.\2"),
    (r"^roi_head\.bbox_head\.(\d)\.fc_reg\.(weight|bias)$", r"roi_head.box_predictors.\1.bbox_pred.\2"),
    # FCNMaskHead -> mask head convs (conv, relu flat) + MaskRCNNPredictor.
    (r"^roi_head\.mask_head\.convs\.(\d)\.conv\.(weight|bias)$", lambda m: f"roi_head.mask_head.convs.{2 * int(m[1])}.{m[2]}"),
    (r"^roi_head\.mask_head\.upsample\.(weight|bias)$", r"roi_head.mask_predictor.conv5_mask.\1"),
    (r"^roi_head\.mask_head\.conv_logits\.(weight|bias)$", r"roi_head.mask_predictor.mask_fcn_logits.\1"),
    (r"^roi_head\.mask_head\.(\d)\.convs\.(\d)\.conv\.(weight|bias)$", lambda m: f"roi_head.mask_heads.{m[1]}.convs.{2 * int(m[2])}.{m[3]}"),
    (r"^roi_head\.mask_head\.(\d)\.upsample\.(weight|bias)$", r"roi_head.mask_predictors.\1.conv5_mask.\2"),
    (r"^roi_head\.mask_head\.(\d)\.conv_logits\.(weight|bias)$", r"roi_head.mask_predictors.\1.mask_fcn_logits.\2"),
]  # fmt: skip


def _background_first(key: str, value: Tensor) -> Tensor:
    """MMDetection's R-CNN outputs in labdet's class order (background first).

    ``fc_cls`` [K + 1, ...] puts background last: it is rolled to index 0. A class-specific
    ``fc_reg`` [4K, ...] and ``conv_logits`` [K, ...] have no background row: a zero one is
    put first, which labdet never reads (it drops the background's boxes and picks masks by
    ``label + 1``). A class-agnostic ``fc_reg`` [4, ...] stays as it is.
    """
    if not key.startswith("roi_head."):  # the RPN's outputs are class-free
        return value
    if key.endswith(("cls_score.weight", "cls_score.bias")):
        return torch.cat([value[-1:], value[:-1]])
    if key.endswith(("bbox_pred.weight", "bbox_pred.bias")) and value.shape[0] > 4:
        return torch.cat([value.new_zeros((4, *value.shape[1:])), value])
    if key.endswith(("mask_fcn_logits.weight", "mask_fcn_logits.bias")):
        return torch.cat([value.new_zeros((1, *value.shape[1:])), value])
    return value


def convert_openmmlab_detector(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """labdet names for an MMDetection (3.x, or a 2.x checkpoint it loads) Faster R-CNN,
    Mask R-CNN, Cascade R-CNN or Cascade Mask R-CNN with a ResNet / ResNeXt FPN.

    =======================================  ================================================
    MMDetection                              labdet
    =======================================  ================================================
    ``backbone.*``                           ``backbone.*`` (the same ResNet names)
    ``neck.{lateral,fpn}_convs.i.conv.*``    ``neck.{lateral,fpn}_convs.i.*``
    ``rpn_head.{rpn_conv,rpn_cls,rpn_reg}``  ``rpn_head.{conv.0,cls_logits,bbox_pred}``
    ``roi_head.bbox_head.shared_fcs.{0,1}``  ``roi_head.box_head.{fc6,fc7}``
    ``roi_head.bbox_head.{fc_cls,fc_reg}``   ``roi_head.box_predictor.{cls_score,bbox_pred}``
    ``roi_head.mask_head.convs.i.conv``      ``roi_head.mask_head.convs.{2i}``
    ``roi_head.mask_head.upsample``          ``roi_head.mask_predictor.conv5_mask``
    ``roi_head.mask_head.conv_logits``       ``roi_head.mask_predictor.mask_fcn_logits``
    ``roi_head.{bbox,mask}_head.<s>.*``      ``roi_head.{box,mask}_{heads,predictors}.<s>.*``
    =======================================  ================================================

    Class outputs move to labdet's order, background first (see :func:`_background_first`);
    BatchNorm's ``num_batches_tracked`` counters are dropped (labdet's backbones use
    FrozenBN). RoIAlign differs: MMDetection's is aligned (half-pixel offset) with adaptive
    sampling, labdet's is torchvision's (not aligned, 2 samples per bin), so the converted
    model's AP can differ a little from the published one: ``lab test`` shows both.

    Raises :class:`CheckpointError` naming the keys no rule maps (another architecture:
    e.g. a RetinaNet, ATSS or GFL head, a caffe-style or deformable backbone).
    """
    renamed = rename_keys(
        state_dict,
        _MMDET_RULES,
        source="MMDetection",
        into="labdet",
        drop=r".*num_batches_tracked",
        supported="Only MMDetection's Faster, Mask and Cascade R-CNN with a ResNet FPN convert.",
    )
    return {key: _background_first(key, value) for key, value in renamed.items()}
