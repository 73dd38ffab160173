"""Convert torchvision segmentation state dicts (FCN and DeepLabV3 on ResNet) to labseg's.

    from torchvision.models.segmentation import deeplabv3_resnet50
    state = convert_torchvision_segmentor(deeplabv3_resnet50(weights="DEFAULT").state_dict())
    model.load_state_dict(state)   # built from deeplabv3_r50-d8_tv_voc12aug.py

The backbone keeps its names (labcore's ResNet uses torchvision's); the heads map as

=====================================  =============================================
torchvision                            labseg
=====================================  =============================================
``classifier.{0,1}`` (FCN)             ``decode_head.convs.0.{0,1}`` (conv, BN)
``classifier.4``                       ``decode_head.conv_seg``
``classifier.0.convs.0..3.{0,1}``      ``decode_head.aspp_modules.0..3.{0,1}``
``classifier.0.convs.4.{1,2}``         ``decode_head.image_pool.1.{0,1}``
``classifier.0.project.{0,1}``         ``decode_head.project.0.{0,1}``
``classifier.{1,2}`` (DeepLabV3)       ``decode_head.bottleneck.{0,1}``
``aux_classifier.{0,1,4}``             ``auxiliary_head.{convs.0.0, convs.0.1, conv_seg}``
=====================================  =============================================

torchvision concatenates the ASPP branches before the image pooling; labseg (as
MMSegmentation) puts the pooling first, so the input channels of ``project.0.weight``
are rotated to match. Every key must match a rule; anything else raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from labcore.errors import CheckpointError

_LEAF = r"(weight|bias|running_mean|running_var|num_batches_tracked)"


def _rules(deeplab: bool) -> list[tuple[str, str]]:
    aux = [
        (rf"aux_classifier\.([01])\.{_LEAF}", r"auxiliary_head.convs.0.\1.\2"),
        (rf"aux_classifier\.4\.{_LEAF}", r"auxiliary_head.conv_seg.\1"),
    ]
    backbone = [(rf"backbone\.(.+)\.{_LEAF}", r"backbone.\1.\2")]
    if not deeplab:
        head = [
            (rf"classifier\.([01])\.{_LEAF}", r"decode_head.convs.0.\1.\2"),
            (rf"classifier\.4\.{_LEAF}", r"decode_head.conv_seg.\1"),
        ]
    else:
        head = [
            (rf"classifier\.0\.convs\.([0-3])\.([01])\.{_LEAF}", r"decode_head.aspp_modules.\1.\2.\3"),
            (rf"classifier\.0\.convs\.4\.1\.{_LEAF}", r"decode_head.image_pool.1.0.\1"),
            (rf"classifier\.0\.convs\.4\.2\.{_LEAF}", r"decode_head.image_pool.1.1.\1"),
            (rf"classifier\.0\.project\.([01])\.{_LEAF}", r"decode_head.project.0.\1.\2"),
            (rf"classifier\.([12])\.{_LEAF}", lambda m: f"decode_head.bottleneck.{int(m[1]) - 1}.{m[2]}"),
            (rf"classifier\.4\.{_LEAF}", r"decode_head.conv_seg.\1"),
        ]  # fmt: skip
    return backbone + head + aux


def _rename(key: str, rules) -> str:
    for pattern, replacement in rules:
        match = re.fullmatch(pattern, key)
        if match is not None:
            return replacement(match) if callable(replacement) else match.expand(replacement)
    return ""


def convert_torchvision_segmentor(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A torchvision ``fcn_resnet*`` or ``deeplabv3_resnet*`` state dict (with or without
    the auxiliary classifier) with labseg's keys (see the module docstring).

    Raises:
        CheckpointError: a key has no labseg name (another architecture, e.g. a
            MobileNet backbone or LR-ASPP).
    """
    deeplab = "classifier.0.project.0.weight" in state_dict
    rules = _rules(deeplab)
    converted, unknown = {}, []
    for key, value in state_dict.items():
        new_key = _rename(key, rules)
        if not new_key:
            unknown.append(key)
            continue
        converted[new_key] = value
    if unknown:
        shown = ", ".join(unknown[:8]) + (
            f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        )
        raise CheckpointError(
            f"{len(unknown)} keys of the torchvision segmentation state dict have no labseg "
            f"name: {shown}. Only fcn_resnet* and deeplabv3_resnet* convert."
        )
    if deeplab:  # branches..., pooling -> pooling, branches...
        weight = converted["decode_head.project.0.0.weight"]
        branch = weight.shape[1] // 5
        converted["decode_head.project.0.0.weight"] = torch.cat(
            [weight[:, 4 * branch :], weight[:, : 4 * branch]], dim=1
        )
    return converted
