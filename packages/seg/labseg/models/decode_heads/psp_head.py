"""PSPNet (Zhao et al., 2017) head: pyramid pooling module over the last feature map."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labcore.models.layers import ConvNormAct
from labseg.models.decode_heads.decode_head import BaseDecodeHead
from labseg.models.utils import resize
from labseg.registry import MODELS


class PyramidPooling(nn.ModuleList):
    """Average-pool to each of ``pool_scales`` x ``pool_scales`` cells, 1x1 conv-norm-act,
    upsample back: Tensor[B, C_in, h, w] -> list of Tensor[B, channels, h, w]."""

    def __init__(
        self,
        pool_scales: Sequence[int],
        in_channels: int,
        channels: int,
        *,
        norm_cfg: dict | None,
        act_cfg: dict | None,
        align_corners: bool,
    ):
        super().__init__(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(scale),
                ConvNormAct(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
            )
            for scale in pool_scales
        )
        self.align_corners = align_corners

    def forward(self, x: Tensor) -> list[Tensor]:
        size = x.shape[-2:]
        return [resize(pool(x), size, align_corners=self.align_corners) for pool in self]


@MODELS.register_module()
class PSPHead(BaseDecodeHead):
    """Pyramid pooling (scales 1, 2, 3, 6 by default) concatenated with the input, then a
    3x3 conv-norm-act bottleneck.

    Input: the backbone outputs; reads Tensor[B, in_channels, h, w]. Output: logits
    Tensor[B, num_classes, h, w].
    """

    def __init__(self, *, pool_scales: Sequence[int] = (1, 2, 3, 6), **kwargs):
        super().__init__(**kwargs)
        block = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.psp_modules = PyramidPooling(
            pool_scales, self.in_channels, self.channels, align_corners=self.align_corners, **block
        )
        self.bottleneck = ConvNormAct(
            self.in_channels + len(pool_scales) * self.channels, self.channels, 3, **block
        )

    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        x = self.select_inputs(inputs)
        return self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))
