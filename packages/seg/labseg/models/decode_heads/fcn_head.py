"""FCN (Long et al., 2015) head: a stack of 3x3 convs, optionally concatenated with its input."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labcore.models.layers import ConvNormAct
from labseg.models.decode_heads.decode_head import BaseDecodeHead
from labseg.registry import MODELS


@MODELS.register_module()
class FCNHead(BaseDecodeHead):
    """``num_convs`` conv-norm-act blocks, then (``concat_input``) one more over their
    output concatenated with the input.

    torchvision's ``FCNHead`` (and the auxiliary heads of its FCN and DeepLabV3) is
    ``num_convs=1, concat_input=False, channels=in_channels // 4`` with BN.

    Args:
        num_convs: conv blocks (0 passes the input to the classifier; ``channels`` must
            then equal ``in_channels``).
        kernel_size, dilation: of the convs.
        concat_input: add the ``conv_cat`` block over [input, convs' output].
        **kwargs: :class:`BaseDecodeHead` arguments.

    Input: the backbone outputs; reads Tensor[B, in_channels, h, w]. Output: logits
    Tensor[B, num_classes, h, w].
    """

    def __init__(
        self,
        *,
        num_convs: int = 2,
        kernel_size: int = 3,
        dilation: int = 1,
        concat_input: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        block = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg, dilation=dilation)
        convs = [
            ConvNormAct(
                self.in_channels if i == 0 else self.channels, self.channels, kernel_size, **block
            )
            for i in range(num_convs)
        ]
        self.convs = nn.Sequential(*convs)
        self.concat_input = concat_input
        if concat_input:
            self.conv_cat = ConvNormAct(
                self.in_channels + self.channels, self.channels, kernel_size, **block
            )

    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        x = self.select_inputs(inputs)
        out = self.convs(x)
        if self.concat_input:
            out = self.conv_cat(torch.cat([x, out], dim=1))
        return out
