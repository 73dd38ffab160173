"""CSPNeXt and CSPNeXtPAFPN: stage shapes and widths of the RTMDet sizes, the SPPF bottleneck
against MMDetection's parallel 5/9/13 pooling, channel attention against its formula,
frozen stages and the errors that name a wrong argument."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from labcore.errors import ConfigError
from labcore.models.backbones.cspnext import ChannelAttention, CSPLayer, SPPFBottleneck
from labcore.registry import MODELS

# (deepen, widen) of RTMDet tiny, s, m, l; blocks per stage; the out channels of stages 2-4
SIZES = {
    "tiny": (0.167, 0.375, (1, 1, 1, 1), (96, 192, 384)),
    "s": (0.33, 0.5, (1, 2, 2, 1), (128, 256, 512)),
    "m": (0.67, 0.75, (2, 4, 4, 2), (192, 384, 768)),
    "l": (1.0, 1.0, (3, 6, 6, 3), (256, 512, 1024)),
}


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("size", list(SIZES))
def test_stage_widths_depths_and_shapes(size):
    deepen, widen, blocks, channels = SIZES[size]
    with torch.device("meta"):
        backbone = MODELS.build(
            dict(type="CSPNeXt", deepen_factor=deepen, widen_factor=widen, out_indices=range(5))
        )
        outs = backbone(torch.empty(1, 3, 64, 96))
    assert [len(getattr(backbone, f"stage{i}")[-1].blocks) for i in range(1, 5)] == list(blocks)
    assert backbone.out_channels[2:] == channels
    assert [tuple(o.shape[1:]) for o in outs] == [
        (c, 64 // s, 96 // s) for c, s in zip(backbone.out_channels, (2, 4, 8, 16, 32), strict=True)
    ]
    assert isinstance(backbone.stage4[1], SPPFBottleneck)


def test_neck_levels_and_channels():
    with torch.device("meta"):
        neck = MODELS.build(
            dict(type="CSPNeXtPAFPN", in_channels=[96, 192, 384], out_channels=96, num_csp_blocks=1)
        )
        outs = neck(
            [torch.empty(2, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate((96, 192, 384))]
        )
    assert [tuple(o.shape) for o in outs] == [(2, 96, 32, 32), (2, 96, 16, 16), (2, 96, 8, 8)]
    with pytest.raises(ValueError, match="in_channels"):
        neck([torch.empty(2, 96, 32, 32, device="meta")])


def test_sppf_equals_parallel_pools():
    torch.manual_seed(0)
    layer = SPPFBottleneck(8, 6, norm_cfg=dict(type="BN"), act_cfg=dict(type="SiLU")).eval()
    x = torch.randn(2, 8, 13, 11)
    with torch.no_grad():
        mid = layer.conv1(x)
        pools = [F.max_pool2d(mid, k, stride=1, padding=k // 2) for k in (5, 9, 13)]
        expected = layer.conv2(torch.cat([mid, *pools], dim=1))
        torch.testing.assert_close(layer(x), expected, rtol=0, atol=0)


def test_channel_attention_is_a_hard_sigmoid_gate():
    torch.manual_seed(0)
    attention = ChannelAttention(4)
    x = torch.randn(2, 4, 5, 6)
    gate = attention.fc(x.mean(dim=(2, 3), keepdim=True))
    expected = x * torch.clamp(gate / 6 + 0.5, 0, 1)
    torch.testing.assert_close(attention(x), expected)


def test_csp_layer_parameters():
    layer = CSPLayer(
        16, 16, num_blocks=1, channel_attention=True, norm_cfg=dict(type="BN"), act_cfg=None
    )
    mid = 8
    convs = 2 * 16 * mid + 2 * mid * 16  # main, short (1x1 in -> mid), final (1x1 2 mid -> out)
    block = mid * mid * 9 + mid * 25 + mid * mid  # 3x3, 5x5 depthwise, 1x1 pointwise
    norms = 2 * (mid + mid + 16 + 3 * mid)  # weight and bias of the six convs' BN
    attention = (2 * mid) ** 2 + 2 * mid
    assert num_params(layer) == convs + block + norms + attention


def test_frozen_stages_and_norm_eval():
    backbone = MODELS.build(
        dict(
            type="CSPNeXt", deepen_factor=0.167, widen_factor=0.25, frozen_stages=1, norm_eval=True
        )
    )
    backbone.train()
    assert not any(p.requires_grad for p in backbone.stem.parameters())
    assert not any(p.requires_grad for p in backbone.stage1.parameters())
    assert all(p.requires_grad for p in backbone.stage2.parameters())
    assert not any(m.training for m in backbone.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(arch="P7"), "arch"),
        (dict(out_indices=(5,)), "out_indices"),
        (dict(frozen_stages=5), "frozen_stages"),
    ],
)
def test_wrong_arguments_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MODELS.build(dict(type="CSPNeXt", **kwargs))
