"""``convert_openmmlab_segmentor`` on the key layout of MMSegmentation's checkpoints.

MMSegmentation is not installed here, so each test writes out the state dict of the
anchor's model from its published structure: the ResNetV1c backbone (a deep stem of three
conv/BN pairs in one flat Sequential, then torchvision's ``layer1..4`` names and shapes,
taken live from torchvision's ResNet-50) and the heads' ConvModules (``.conv`` and ``.bn``)
with the channel counts of the ``*_r50-d8`` / ``upernet_r50`` / ``segformer_mit-b0``
configs. Converted, its keys and shapes must be exactly those of the labseg model the
config of the same name builds (on the meta device).
"""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope
from torchvision.models import resnet50

from labcore.engine.config import load_config
from labcore.errors import CheckpointError
from labseg.models.convert import convert_openmmlab_segmentor
from labseg.registry import MODELS

ADE20K = 150


def _conv(name: str, out_ch: int, in_ch: int, k: int, *, bias: bool = False) -> dict:
    shapes = {f"{name}.weight": (out_ch, in_ch, k, k)}
    if bias:
        shapes[f"{name}.bias"] = (out_ch,)
    return shapes


def _bn(name: str, channels: int) -> dict:
    stats = ("weight", "bias", "running_mean", "running_var")
    return {**{f"{name}.{s}": (channels,) for s in stats}, f"{name}.num_batches_tracked": ()}


def _module(name: str, out_ch: int, in_ch: int, k: int, *, groups: int = 1) -> dict:
    """An MMCV ConvModule with BN: ``<name>.conv`` (no bias) and ``<name>.bn``."""
    return {**_conv(f"{name}.conv", out_ch, in_ch // groups, k), **_bn(f"{name}.bn", out_ch)}


def _separable(name: str, out_ch: int, in_ch: int) -> dict:
    """MMCV's DepthwiseSeparableConvModule: depthwise 3x3 then pointwise 1x1, both with BN."""
    return {
        **_module(f"{name}.depthwise_conv", in_ch, in_ch, 3, groups=in_ch),
        **_module(f"{name}.pointwise_conv", out_ch, in_ch, 1),
    }


def _resnet_v1c_50() -> dict:
    shapes = {}
    for index, (out_ch, in_ch) in zip((0, 3, 6), ((32, 3), (32, 32), (64, 32)), strict=True):
        shapes |= _conv(f"backbone.stem.{index}", out_ch, in_ch, 3)
        shapes |= _bn(f"backbone.stem.{index + 1}", out_ch)
    with torch.device("meta"):
        layers = resnet50(weights=None).state_dict()
    shapes |= {f"backbone.{k}": tuple(v.shape) for k, v in layers.items() if k.startswith("layer")}
    return shapes


def _auxiliary(num_classes: int) -> dict:
    return {
        **_module("auxiliary_head.convs.0", 256, 1024, 3),
        **_conv("auxiliary_head.conv_seg", num_classes, 256, 1, bias=True),
    }


def _psp(head: str) -> dict:
    shapes = {}
    for i in range(4):
        shapes |= _module(f"{head}.psp_modules.{i}.1", 512, 2048, 1)
    return shapes | _module(f"{head}.bottleneck", 512, 2048 + 4 * 512, 3)


def _aspp_pool_and_first() -> dict:
    return {
        **_module("decode_head.image_pool.1", 512, 2048, 1),
        **_module("decode_head.aspp_modules.0", 512, 2048, 1),
    }


def mmseg_fcn(num_classes: int) -> dict:
    return {
        **_resnet_v1c_50(),
        **_module("decode_head.convs.0", 512, 2048, 3),
        **_module("decode_head.convs.1", 512, 512, 3),
        **_module("decode_head.conv_cat", 512, 2048 + 512, 3),
        **_conv("decode_head.conv_seg", num_classes, 512, 1, bias=True),
        **_auxiliary(num_classes),
    }


def mmseg_pspnet(num_classes: int) -> dict:
    return {
        **_resnet_v1c_50(),
        **_psp("decode_head"),
        **_conv("decode_head.conv_seg", num_classes, 512, 1, bias=True),
        **_auxiliary(num_classes),
    }


def mmseg_deeplabv3(num_classes: int) -> dict:
    shapes = {**_resnet_v1c_50(), **_aspp_pool_and_first()}
    for i in (1, 2, 3):
        shapes |= _module(f"decode_head.aspp_modules.{i}", 512, 2048, 3)
    return {
        **shapes,
        **_module("decode_head.bottleneck", 512, 5 * 512, 3),
        **_conv("decode_head.conv_seg", num_classes, 512, 1, bias=True),
        **_auxiliary(num_classes),
    }


def mmseg_deeplabv3plus(num_classes: int) -> dict:
    shapes = {**_resnet_v1c_50(), **_aspp_pool_and_first()}
    for i in (1, 2, 3):
        shapes |= _separable(f"decode_head.aspp_modules.{i}", 512, 2048)
    return {
        **shapes,
        **_module("decode_head.bottleneck", 512, 5 * 512, 3),
        **_module("decode_head.c1_bottleneck", 48, 256, 1),
        **_separable("decode_head.sep_bottleneck.0", 512, 512 + 48),
        **_separable("decode_head.sep_bottleneck.1", 512, 512),
        **_conv("decode_head.conv_seg", num_classes, 512, 1, bias=True),
        **_auxiliary(num_classes),
    }


def mmseg_upernet(num_classes: int) -> dict:
    shapes = {**_resnet_v1c_50(), **_psp("decode_head")}
    for i, in_ch in enumerate((256, 512, 1024)):
        shapes |= _module(f"decode_head.lateral_convs.{i}", 512, in_ch, 1)
        shapes |= _module(f"decode_head.fpn_convs.{i}", 512, 512, 3)
    return {
        **shapes,
        **_module("decode_head.fpn_bottleneck", 512, 4 * 512, 3),
        **_conv("decode_head.conv_seg", num_classes, 512, 1, bias=True),
        **_auxiliary(num_classes),
    }


def _layer_norm(name: str, channels: int) -> dict:
    return {f"{name}.weight": (channels,), f"{name}.bias": (channels,)}


def mmseg_segformer_b0(num_classes: int) -> dict:
    """MixVisionTransformer-B0 (embed 32, 2 blocks per stage, sr 8/4/2/1, mlp ratio 4) and
    SegformerHead (256 channels)."""
    dims, patches, srs = (32, 64, 160, 256), (7, 3, 3, 3), (8, 4, 2, 1)
    shapes, in_ch = {}, 3
    for i, (d, k, sr) in enumerate(zip(dims, patches, srs, strict=True)):
        stage = f"backbone.layers.{i}"
        shapes |= _conv(f"{stage}.0.projection", d, in_ch, k, bias=True)
        shapes |= _layer_norm(f"{stage}.0.norm", d)
        for j in range(2):
            block = f"{stage}.1.{j}"
            shapes |= _layer_norm(f"{block}.norm1", d) | _layer_norm(f"{block}.norm2", d)
            shapes[f"{block}.attn.attn.in_proj_weight"] = (3 * d, d)
            shapes[f"{block}.attn.attn.in_proj_bias"] = (3 * d,)
            shapes[f"{block}.attn.attn.out_proj.weight"] = (d, d)
            shapes[f"{block}.attn.attn.out_proj.bias"] = (d,)
            if sr > 1:
                shapes |= _conv(f"{block}.attn.sr", d, d, sr, bias=True)
                shapes |= _layer_norm(f"{block}.attn.norm", d)
            shapes |= _conv(f"{block}.ffn.layers.0", 4 * d, d, 1, bias=True)
            shapes |= _conv(f"{block}.ffn.layers.1", 4 * d, 1, 3, bias=True)
            shapes |= _conv(f"{block}.ffn.layers.4", d, 4 * d, 1, bias=True)
        shapes |= _layer_norm(f"{stage}.2", d)
        in_ch = d
    for i, d in enumerate(dims):
        shapes |= _module(f"decode_head.convs.{i}", 256, d, 1)
    return {
        **shapes,
        **_module("decode_head.fusion_conv", 256, 4 * 256, 1),
        **_conv("decode_head.conv_seg", num_classes, 256, 1, bias=True),
    }


CASES = {
    "fcn/fcn_r50-d8_4xb4-160k_ade20k-512x512.py": mmseg_fcn,
    "pspnet/pspnet_r50-d8_4xb4-160k_ade20k-512x512.py": mmseg_pspnet,
    "deeplabv3/deeplabv3_r50-d8_4xb4-160k_ade20k-512x512.py": mmseg_deeplabv3,
    "deeplabv3plus/deeplabv3plus_r50-d8_4xb4-160k_ade20k-512x512.py": mmseg_deeplabv3plus,
    "upernet/upernet_r50_4xb4-160k_ade20k-512x512.py": mmseg_upernet,
    "segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py": mmseg_segformer_b0,
}


def _labseg_shapes(config: str) -> dict:
    cfg = load_config(f"labseg::{config}")
    with DefaultScope.overwrite_default_scope("labseg"), torch.device("meta"):
        model = MODELS.build(cfg.model)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("config", CASES, ids=lambda c: c.split("/")[0])
def test_every_mmsegmentation_key_maps_onto_the_labseg_model(config):
    upstream = {k: torch.empty(s, device="meta") for k, s in CASES[config](ADE20K).items()}
    converted = convert_openmmlab_segmentor(upstream)
    assert len(converted) == len(upstream)  # no two upstream keys land on one name
    assert {k: tuple(v.shape) for k, v in converted.items()} == _labseg_shapes(config)


def test_values_are_moved_not_changed():
    upstream = {
        "backbone.stem.4.running_var": torch.rand(32),
        "decode_head.aspp_modules.2.depthwise_conv.conv.weight": torch.randn(8, 1, 3, 3),
        "backbone.layers.0.1.1.ffn.layers.4.weight": torch.randn(32, 128, 1, 1),
    }
    converted = convert_openmmlab_segmentor(upstream)
    assert torch.equal(
        converted["backbone.stem.1.1.running_var"], upstream["backbone.stem.4.running_var"]
    )
    assert torch.equal(
        converted["decode_head.aspp_modules.2.depthwise_conv.0.weight"],
        upstream["decode_head.aspp_modules.2.depthwise_conv.conv.weight"],
    )
    assert torch.equal(
        converted["backbone.layers.0.1.1.ffn.fc2.weight"],
        upstream["backbone.layers.0.1.1.ffn.layers.4.weight"],
    )


def test_an_architecture_labseg_does_not_build_is_refused_with_its_keys():
    upstream = {
        "decode_head.conv_seg.weight": torch.zeros(1),
        "decode_head.gau.0.weight": torch.zeros(1),
    }
    with pytest.raises(CheckpointError, match=r"decode_head\.gau\.0\.weight"):
        convert_openmmlab_segmentor(upstream)
