"""Convert torchvision segmentation state dicts (FCN and DeepLabV3 on ResNet) and
MMSegmentation checkpoints (:func:`convert_openmmlab_segmentor`) to labseg's.

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

from labcore.models.rename import Rule, rename_keys

_LEAF = r"(weight|bias|running_mean|running_var|num_batches_tracked)"


def _rules(deeplab: bool) -> list[Rule]:
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


def convert_torchvision_segmentor(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A torchvision ``fcn_resnet*`` or ``deeplabv3_resnet*`` state dict (with or without
    the auxiliary classifier) with labseg's keys (see the module docstring).

    Raises:
        CheckpointError: a key has no labseg name (another architecture, e.g. a
            MobileNet backbone or LR-ASPP).
    """
    deeplab = "classifier.0.project.0.weight" in state_dict
    converted = rename_keys(
        state_dict,
        _rules(deeplab),
        source="torchvision segmentation",
        into="labseg",
        supported="Only fcn_resnet* and deeplabv3_resnet* convert.",
    )
    if deeplab:  # branches..., pooling -> pooling, branches...
        weight = converted["decode_head.project.0.0.weight"]
        branch = weight.shape[1] // 5
        converted["decode_head.project.0.0.weight"] = torch.cat(
            [weight[:, 4 * branch :], weight[:, : 4 * branch]], dim=1
        )
    return converted


def _deep_stem(match: re.Match) -> str:
    """MMSegmentation's ResNetV1c stem ``stem.{0,1,3,4,6,7}`` (conv, BN, ReLU x 3, flat) ->
    labcore's ``stem.{0,1,2}.{0,1}`` (three conv-norm blocks)."""
    index = int(match[1])
    return f"backbone.stem.{index // 3}.{index % 3}.{match[2]}"


_MIT_FFN = {"0": "fc1", "1": "pe_conv", "4": "fc2"}
_MMSEG_RULES: list[Rule] = [
    (rf"backbone\.stem\.([013467])\.{_LEAF}", _deep_stem),
    (rf"backbone\.((?:conv1|bn1|layer\d\.\d+\.(?:conv\d|bn\d|downsample\.[01]))\.{_LEAF})", r"backbone.\1"),
    # MixVisionTransformer (SegFormer's MiT): only the MixFFN's Sequential is renamed.
    (r"backbone\.layers\.(\d)\.1\.(\d+)\.ffn\.layers\.([014])\.(weight|bias)", lambda m: f"backbone.layers.{m[1]}.1.{m[2]}.ffn.{_MIT_FFN[m[3]]}.{m[4]}"),
    (r"(backbone\.layers\.\d\.0\.(?:projection|norm)\.(?:weight|bias))", r"\1"),
    (r"(backbone\.layers\.\d\.1\.\d+\.(?:norm1|norm2|attn\.sr|attn\.norm|attn\.attn\.out_proj)\.(?:weight|bias))", r"\1"),
    (r"(backbone\.layers\.\d\.1\.\d+\.attn\.attn\.in_proj_(?:weight|bias))", r"\1"),
    (r"(backbone\.layers\.\d\.2\.(?:weight|bias))", r"\1"),
    # Heads: every ConvModule (conv, norm) -> ConvNormAct (0, 1); the classifier keeps its name.
    (r"((?:decode|auxiliary)_head\.[\w.]+?)\.conv\.(weight|bias)", r"\1.0.\2"),
    (rf"((?:decode|auxiliary)_head\.[\w.]+?)\.bn\.{_LEAF}", r"\1.1.\2"),
    (r"((?:decode|auxiliary)_head\.conv_seg\.(?:weight|bias))", r"\1"),
]  # fmt: skip


def convert_openmmlab_segmentor(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """An MMSegmentation EncoderDecoder state dict (FCN, PSPNet, DeepLabV3, DeepLabV3+,
    UPerNet on ResNetV1c; SegFormer on MiT) with labseg's keys.

    labseg's heads keep MMSegmentation's module names (``aspp_modules``, ``image_pool``,
    ``psp_modules``, ``bottleneck``, ``c1_bottleneck``, ``sep_bottleneck``, ``lateral_convs``,
    ``fpn_convs``, ``fpn_bottleneck``, ``fusion_conv``, ``conv_cat``, ``convs``) and branch
    order (image pooling first), so only the layers inside them are renamed:

    ================================================  ====================================
    MMSegmentation                                    labseg
    ================================================  ====================================
    ``backbone.stem.{0,1,3,4,6,7}`` (ResNetV1c)       ``backbone.stem.{0,1,2}.{0,1}``
    ``<head>.<module>.conv`` / ``.bn`` (ConvModule)    ``<head>.<module>.0`` / ``.1``
    ``backbone.layers.i.1.j.ffn.layers.{0,1,4}``      ``backbone.layers.i.1.j.ffn.{fc1,pe_conv,fc2}``
    ================================================  ====================================

    Everything else (``backbone.layer1..4``, the MiT's patch embeddings, attention and norms,
    ``conv_seg``) keeps its name. Raises :class:`CheckpointError` naming the keys that no rule
    maps (an architecture labseg does not build, e.g. a head with plain convs).
    """
    return rename_keys(
        state_dict,
        _MMSEG_RULES,
        source="MMSegmentation",
        into="labseg",
        supported="Only FCN, PSPNet, DeepLabV3(+), UPerNet (ResNetV1c) and SegFormer (MiT) "
        "convert.",
    )
