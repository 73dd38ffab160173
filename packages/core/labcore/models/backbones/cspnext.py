"""CSPNeXt (Lyu et al., 2022, "RTMDet: An Empirical Study of Designing Real-Time Object
Detectors"): the backbone of RTMDet, built from cross-stage-partial layers of large-kernel
depthwise blocks with channel attention.

The architecture, channel and depth rounding follow MMDetection's ``CSPNeXt``, so the
parameter counts of RTMDet-tiny/s/m/l equal the published ones. Module names follow
MMDetection's too, with labcore's :class:`ConvNormAct` in place of MMCV's ConvModule
(``.0`` the conv, ``.1`` the norm where MMDetection has ``.conv`` and ``.bn``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from labcore.errors import ConfigError
from labcore.models.layers import ConvNormAct, maybe_checkpoint, set_batch_norms_eval
from labcore.registry import MODELS

# in_channels, out_channels, num_blocks, add_identity, use_spp of each stage at factor 1
ARCH_SETTINGS = {
    "P5": ((64, 128, 3, True, False), (128, 256, 6, True, False),
           (256, 512, 6, True, False), (512, 1024, 3, False, True)),
    "P6": ((64, 128, 3, True, False), (128, 256, 6, True, False),
           (256, 512, 6, True, False), (512, 768, 3, True, False),
           (768, 1024, 3, False, True)),
}  # fmt: skip

DEFAULT_NORM = dict(type="BN", momentum=0.03, eps=0.001)
DEFAULT_ACT = dict(type="SiLU", inplace=True)


def reset_conv_parameters(module: nn.Module) -> None:
    """MMDetection's CSPNeXt initialisation: every Conv2d in ``module`` kaiming-uniform
    (a = sqrt(5), fan-in: PyTorch's default weights) with zero bias. Norms keep PyTorch's
    weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ChannelAttention(nn.Module):
    """Scale each channel by ``hardsigmoid(fc(mean over H, W))``, fc a 1x1 conv with bias.

    Input and output Tensor[B, C, H, W].
    """

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        weight = F.hardsigmoid(self.fc(x.float().mean(dim=(2, 3), keepdim=True).to(x.dtype)))
        return x * weight


class DepthwiseSeparableConv(nn.Module):
    """``depthwise_conv`` (k x k, one group per channel) then ``pointwise_conv`` (1x1), each
    conv-norm-act. Input Tensor[B, in_channels, H, W]; output Tensor[B, out_channels, H, W]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, norm_cfg, act_cfg):
        super().__init__()
        self.depthwise_conv = ConvNormAct(
            in_channels,
            in_channels,
            kernel_size,
            groups=in_channels,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.pointwise_conv = ConvNormAct(
            in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class CSPNeXtBlock(nn.Module):
    """3x3 conv-norm-act, then a 5x5 depthwise-separable conv; plus the input when
    ``add_identity`` and the channels agree.

    Input Tensor[B, in_channels, H, W]; output Tensor[B, out_channels, H, W].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        expansion: float = 0.5,
        add_identity: bool = True,
        kernel_size: int = 5,
        norm_cfg: dict,
        act_cfg: dict,
    ):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = ConvNormAct(in_channels, hidden, 3, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = DepthwiseSeparableConv(
            hidden, out_channels, kernel_size, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross-stage-partial layer: a 1x1 ``main_conv`` branch through ``num_blocks``
    CSPNeXtBlocks, a 1x1 ``short_conv`` branch, both of ``int(out_channels *
    expand_ratio)`` channels; their concatenation (main first), optionally scaled by
    channel attention, fused by a 1x1 ``final_conv``.

    Input Tensor[B, in_channels, H, W]; output Tensor[B, out_channels, H, W].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        expand_ratio: float = 0.5,
        num_blocks: int = 1,
        add_identity: bool = True,
        channel_attention: bool = False,
        norm_cfg: dict,
        act_cfg: dict,
    ):
        super().__init__()
        mid = int(out_channels * expand_ratio)
        self.main_conv = ConvNormAct(in_channels, mid, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.short_conv = ConvNormAct(in_channels, mid, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.final_conv = ConvNormAct(2 * mid, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.blocks = nn.Sequential(
            *(
                CSPNeXtBlock(
                    mid,
                    mid,
                    expansion=1.0,
                    add_identity=add_identity,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                )
                for _ in range(num_blocks)
            )
        )
        self.attention = ChannelAttention(2 * mid) if channel_attention else None

    def forward(self, x: Tensor) -> Tensor:
        out = torch.cat((self.blocks(self.main_conv(x)), self.short_conv(x)), dim=1)
        if self.attention is not None:
            out = self.attention(out)
        return self.final_conv(out)


class SPPFBottleneck(nn.Module):
    """Spatial pyramid pooling, fast form: a 1x1 conv to half the channels, three chained
    5x5 stride-1 max-pools, the four maps concatenated and fused by a 1x1 conv.

    Chained 5x5 pools equal MMDetection's parallel 5, 9 and 13 pools (``SPPBottleneck``),
    at a third of the cost. Input Tensor[B, in_channels, H, W]; output
    Tensor[B, out_channels, H, W].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int = 5,
        num_pools: int = 3,
        norm_cfg: dict,
        act_cfg: dict,
    ):
        super().__init__()
        mid = in_channels // 2
        self.conv1 = ConvNormAct(in_channels, mid, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.pool = nn.MaxPool2d(kernel_size, stride=1, padding=kernel_size // 2)
        self.num_pools = num_pools
        self.conv2 = ConvNormAct(
            mid * (num_pools + 1), out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg
        )

    def forward(self, x: Tensor) -> Tensor:
        maps = [self.conv1(x)]
        for _ in range(self.num_pools):
            maps.append(self.pool(maps[-1]))
        return self.conv2(torch.cat(maps, dim=1))


@MODELS.register_module()
class CSPNeXt(BaseModule):
    """CSPNeXt backbone returning the feature maps of the stages in ``out_indices``.

    ``stem``: three 3x3 conv-norm-act (the first of stride 2) to ``int(64 w)`` channels;
    ``stage1`` .. ``stage4`` (``stage5`` for P6): a 3x3 stride-2 conv-norm-act, an SPPF
    bottleneck in the last stage, then a CSPLayer of ``max(round(n d), 1)`` blocks with
    channel attention; stage ``i`` has ``int(c_i w)`` channels for the arch's ``c_i``,
    ``w`` = ``widen_factor`` and ``d`` = ``deepen_factor``.

    Args:
        arch: ``'P5'`` (4 stages, strides up to 32) or ``'P6'`` (5 stages, up to 64).
        deepen_factor, widen_factor: depth and width multipliers (RTMDet-tiny 0.167 /
            0.375, s 0.33 / 0.5, m 0.67 / 0.75, l 1 / 1).
        out_indices: which outputs to return: 0 the stem, i the stage ``i``.
        frozen_stages: -1 trains everything; k >= 0 freezes the stem and stages 1..k.
        expand_ratio: hidden width of the CSP layers relative to their output.
        channel_attention: channel attention in every CSP layer.
        norm_cfg: norm of every conv (default MMDetection's BN, momentum 0.03, eps 0.001).
        act_cfg: activation (default ``dict(type='SiLU', inplace=True)``).
        norm_eval: keep every batch-norm layer in eval mode while training.
        with_cp: recompute each stage's activations in backward (activation checkpointing).
        init_cfg: MMEngine initialisation config (e.g. pretrained weights).

    Shapes: input Tensor[B, 3, H, W]; output ``i`` is Tensor[B, C_i, H / 2^(i+1), W / 2^(i+1)];
    ``out_channels`` lists the returned C_i.
    """

    def __init__(
        self,
        *,
        arch: str = "P5",
        deepen_factor: float = 1.0,
        widen_factor: float = 1.0,
        out_indices: Sequence[int] = (2, 3, 4),
        frozen_stages: int = -1,
        expand_ratio: float = 0.5,
        channel_attention: bool = True,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if arch not in ARCH_SETTINGS:
            raise ConfigError(f"CSPNeXt arch={arch!r}; choose one of {sorted(ARCH_SETTINGS)}.")
        setting = ARCH_SETTINGS[arch]
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(len(setting) + 1) for i in out_indices):
            raise ConfigError(
                f"CSPNeXt ({arch}) out_indices must be in 0..{len(setting)} (0 the stem), "
                f"got {out_indices}."
            )
        if frozen_stages not in range(-1, len(setting) + 1):
            raise ConfigError(
                f"CSPNeXt ({arch}) frozen_stages must be in -1..{len(setting)}, got {frozen_stages}."
            )
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        norm_cfg = dict(DEFAULT_NORM) if norm_cfg is None else dict(norm_cfg)
        act_cfg = dict(DEFAULT_ACT) if act_cfg is None else dict(act_cfg)
        layer = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)

        stem_channels = int(setting[0][0] * widen_factor)
        half = int(setting[0][0] * widen_factor // 2)
        self.stem = nn.Sequential(
            ConvNormAct(3, half, 3, stride=2, **layer),
            ConvNormAct(half, half, 3, **layer),
            ConvNormAct(half, stem_channels, 3, **layer),
        )
        self.layers = ["stem"]
        channels = [stem_channels]
        for i, (in_ch, out_ch, num_blocks, add_identity, use_spp) in enumerate(setting):
            in_ch, out_ch = int(in_ch * widen_factor), int(out_ch * widen_factor)
            stage: list[nn.Module] = [ConvNormAct(in_ch, out_ch, 3, stride=2, **layer)]
            if use_spp:
                stage.append(SPPFBottleneck(out_ch, out_ch, **layer))
            stage.append(
                CSPLayer(
                    out_ch,
                    out_ch,
                    num_blocks=max(round(num_blocks * deepen_factor), 1),
                    add_identity=add_identity,
                    expand_ratio=expand_ratio,
                    channel_attention=channel_attention,
                    **layer,
                )
            )
            self.add_module(f"stage{i + 1}", nn.Sequential(*stage))
            self.layers.append(f"stage{i + 1}")
            channels.append(out_ch)
        self.out_channels = tuple(channels[i] for i in out_indices)
        reset_conv_parameters(self)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        for name in self.layers[: self.frozen_stages + 1]:
            module = getattr(self, name)
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)

    def train(self, mode: bool = True) -> CSPNeXt:
        """Switch to ``mode``, keeping frozen stages (and all BN with ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_batch_norms_eval(self)
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """x: Tensor[B, 3, H, W] -> one Tensor[B, C_i, H_i, W_i] per out_index."""
        outs = []
        for i, name in enumerate(self.layers):
            x = maybe_checkpoint(getattr(self, name), x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
