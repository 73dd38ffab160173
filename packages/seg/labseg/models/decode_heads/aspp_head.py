"""DeepLabV3 (Chen et al., 2017) and DeepLabV3+ (Chen et al., 2018) heads: atrous spatial
pyramid pooling, and its depthwise-separable form with a low-level decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labcore.models.layers import ConvNormAct
from labseg.models.decode_heads.decode_head import BaseDecodeHead
from labseg.models.utils import resize
from labseg.registry import MODELS


class DepthwiseSeparableConv(nn.Sequential):
    """Depthwise ``kernel_size`` conv-norm-act then pointwise 1x1 conv-norm-act
    (``depthwise_conv``, ``pointwise_conv``).

    Input Tensor[B, in_channels, H, W]; output Tensor[B, out_channels, H, W].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        dilation: int = 1,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ):
        super().__init__()
        self.depthwise_conv = ConvNormAct(
            in_channels, in_channels, kernel_size, dilation=dilation, groups=in_channels,
            norm_cfg=norm_cfg, act_cfg=act_cfg,
        )  # fmt: skip
        self.pointwise_conv = ConvNormAct(
            in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg
        )


@MODELS.register_module()
class ASPPHead(BaseDecodeHead):
    """Image pooling plus one branch per dilation (1 is a 1x1 conv, others dilated 3x3
    convs), concatenated in that order, then a 3x3 conv-norm-act bottleneck.

    Args:
        dilations: of the branches; DeepLabV3 at output stride 8 uses (1, 12, 24, 36).
        with_project: torchvision's layout: a 1x1 conv-norm-act projection of the
            concatenation (``project``, then Dropout 0.5) before the 3x3 bottleneck.
        **kwargs: :class:`BaseDecodeHead` arguments.

    Input: the backbone outputs; reads Tensor[B, in_channels, h, w]. Output: logits
    Tensor[B, num_classes, h, w].
    """

    separable = False

    def __init__(
        self, *, dilations: Sequence[int] = (1, 6, 12, 18), with_project: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        block = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), ConvNormAct(self.in_channels, self.channels, 1, **block)
        )
        branches = []
        for dilation in dilations:
            if dilation == 1:
                branches.append(ConvNormAct(self.in_channels, self.channels, 1, **block))
            elif self.separable:
                branches.append(
                    DepthwiseSeparableConv(
                        self.in_channels, self.channels, dilation=dilation, **block
                    )
                )
            else:
                branches.append(
                    ConvNormAct(self.in_channels, self.channels, 3, dilation=dilation, **block)
                )
        self.aspp_modules = nn.ModuleList(branches)
        concat_channels = (len(dilations) + 1) * self.channels
        self.with_project = with_project
        if with_project:
            self.project = nn.Sequential(
                ConvNormAct(concat_channels, self.channels, 1, **block), nn.Dropout(0.5)
            )
            concat_channels = self.channels
        self.bottleneck = ConvNormAct(concat_channels, self.channels, 3, **block)

    def aspp(self, x: Tensor) -> Tensor:
        """Tensor[B, in_channels, h, w] -> Tensor[B, channels, h, w]."""
        pooled = resize(self.image_pool(x), x.shape[-2:], align_corners=self.align_corners)
        out = torch.cat([pooled, *(branch(x) for branch in self.aspp_modules)], dim=1)
        if self.with_project:
            out = self.project(out)
        return self.bottleneck(out)

    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        return self.aspp(self.select_inputs(inputs))


@MODELS.register_module()
class DepthwiseSeparableASPPHead(ASPPHead):
    """DeepLabV3+: ASPP with depthwise-separable dilated branches on the deep features,
    upsampled to the low-level features ``inputs[0]``, concatenated with their 1x1
    projection to ``c1_channels``, then two depthwise-separable 3x3 convs.

    Args:
        c1_in_channels: channels of ``inputs[0]`` (ResNet stage 1: 256 for R-50).
        c1_channels: channels of its projection (48); 0 skips the low-level path.
        **kwargs: :class:`ASPPHead` arguments (``in_index`` selects the deep features).

    Input: the backbone outputs. Output: logits Tensor[B, num_classes, h1, w1] at the
    resolution of ``inputs[0]``.
    """

    separable = True

    def __init__(self, *, c1_in_channels: int, c1_channels: int, **kwargs):
        super().__init__(**kwargs)
        block = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.c1_bottleneck = (
            ConvNormAct(c1_in_channels, c1_channels, 1, **block) if c1_channels > 0 else None
        )
        self.sep_bottleneck = nn.Sequential(
            DepthwiseSeparableConv(self.channels + c1_channels, self.channels, **block),
            DepthwiseSeparableConv(self.channels, self.channels, **block),
        )

    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        out = self.aspp(self.select_inputs(inputs))
        if self.c1_bottleneck is not None:
            low = self.c1_bottleneck(inputs[0])
            out = resize(out, low.shape[-2:], align_corners=self.align_corners)
            out = torch.cat([out, low], dim=1)
        return self.sep_bottleneck(out)
