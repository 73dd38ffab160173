"""SegFormer (Xie et al., 2021) all-MLP head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labcore.models.layers import ConvNormAct
from labseg.models.decode_heads.decode_head import BaseDecodeHead
from labseg.models.utils import resize
from labseg.registry import MODELS


@MODELS.register_module()
class SegformerHead(BaseDecodeHead):
    """Each level through a 1x1 conv-norm-act to ``channels``, upsampled to level 0,
    concatenated, and fused by a 1x1 conv-norm-act.

    Args:
        **kwargs: :class:`BaseDecodeHead` arguments with ``input_transform='multiple_select'``
            (the default here), ``in_channels`` and ``in_index`` lists, e.g. MiT-B0's
            [32, 64, 160, 256] and [0, 1, 2, 3].

    Input: the backbone outputs. Output: logits Tensor[B, num_classes, h0, w0] at the
    resolution of the first selected level (1/4 of the image for MiT).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("input_transform", "multiple_select")
        super().__init__(**kwargs)
        block = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.convs = nn.ModuleList(
            ConvNormAct(c, self.channels, 1, **block) for c in self.in_channels
        )
        self.fusion_conv = ConvNormAct(
            len(self.in_channels) * self.channels, self.channels, 1, **block
        )

    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        levels = self.select_inputs(inputs)
        size = levels[0].shape[-2:]
        outs = [
            resize(conv(x), size, align_corners=self.align_corners)
            for conv, x in zip(self.convs, levels)
        ]
        return self.fusion_conv(torch.cat(outs, dim=1))
