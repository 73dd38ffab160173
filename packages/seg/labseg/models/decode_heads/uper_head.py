"""UPerNet (Xiao et al., 2018) head: pyramid pooling on the last level, FPN over all
levels, the levels fused at the finest resolution."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labcore.models.layers import ConvNormAct
from labseg.models.decode_heads.decode_head import BaseDecodeHead
from labseg.models.decode_heads.psp_head import PyramidPooling
from labseg.models.utils import resize
from labseg.registry import MODELS


@MODELS.register_module()
class UPerHead(BaseDecodeHead):
    """PPM + FPN: the last level gets pyramid pooling and a 3x3 bottleneck; the others a
    1x1 lateral conv; top-down addition; a 3x3 conv per level except the last; all
    upsampled to level 0, concatenated, and fused by a 3x3 conv-norm-act.

    Args:
        pool_scales: of the pyramid pooling.
        **kwargs: :class:`BaseDecodeHead` arguments with ``input_transform='multiple_select'``,
            ``in_channels`` and ``in_index`` lists (e.g. [256, 512, 1024, 2048], [0, 1, 2, 3]).

    Input: the backbone outputs. Output: logits Tensor[B, num_classes, h0, w0] at the
    resolution of the first selected level.
    """

    def __init__(self, *, pool_scales: Sequence[int] = (1, 2, 3, 6), **kwargs):
        kwargs.setdefault("input_transform", "multiple_select")
        super().__init__(**kwargs)
        block = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        *low_channels, top_channels = self.in_channels
        self.psp_modules = PyramidPooling(
            pool_scales, top_channels, self.channels, align_corners=self.align_corners, **block
        )
        self.bottleneck = ConvNormAct(
            top_channels + len(pool_scales) * self.channels, self.channels, 3, **block
        )
        self.lateral_convs = nn.ModuleList(
            ConvNormAct(c, self.channels, 1, **block) for c in low_channels
        )
        self.fpn_convs = nn.ModuleList(
            ConvNormAct(self.channels, self.channels, 3, **block) for _ in low_channels
        )
        self.fpn_bottleneck = ConvNormAct(
            len(self.in_channels) * self.channels, self.channels, 3, **block
        )

    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        *low, top = self.select_inputs(inputs)
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, low)]
        laterals.append(self.bottleneck(torch.cat([top, *self.psp_modules(top)], dim=1)))
        for i in range(len(laterals) - 1, 0, -1):  # top-down
            laterals[i - 1] = laterals[i - 1] + resize(
                laterals[i], laterals[i - 1].shape[-2:], align_corners=self.align_corners
            )
        outs = [conv(x) for conv, x in zip(self.fpn_convs, laterals[:-1])] + [laterals[-1]]
        size = outs[0].shape[-2:]
        outs = [resize(x, size, align_corners=self.align_corners) for x in outs]
        return self.fpn_bottleneck(torch.cat(outs, dim=1))
