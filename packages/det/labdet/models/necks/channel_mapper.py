"""ChannelMapper: bring backbone levels to one channel count, plus extra strided levels
(the neck of Deformable DETR and DINO)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from labdet.registry import MODELS


def _conv_gn(in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int):
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            bias=False,
        ),
        nn.GroupNorm(groups, out_channels),
    )


@MODELS.register_module()
class ChannelMapper(nn.Module):
    """A ``kernel_size`` conv + GroupNorm per input level to ``out_channels`` (no
    activation), then ``num_outs - len(in_channels)`` extra levels: 3x3 stride-2 conv +
    GroupNorm, the first on the last *input* (e.g. C5), the next ones on the previous extra.

    Convs have no bias (GroupNorm shifts) and start Xavier-uniform, as MMDetection's.

    forward(inputs: sequence of Tensor[B, in_channels[i], H_i, W_i]) -> tuple of
    ``num_outs`` Tensor[B, out_channels, H_j, W_j].
    """

    def __init__(
        self,
        *,
        in_channels: Sequence[int],
        out_channels: int,
        kernel_size: int = 1,
        num_outs: int | None = None,
        num_groups: int = 32,
    ):
        super().__init__()
        num_outs = len(in_channels) if num_outs is None else num_outs
        if num_outs < len(in_channels):
            raise ValueError(
                f"ChannelMapper: num_outs ({num_outs}) must be at least the number of input "
                f"levels ({len(in_channels)})"
            )
        self.convs = nn.ModuleList(
            [_conv_gn(c, out_channels, kernel_size, 1, num_groups) for c in in_channels]
        )
        num_extra = num_outs - len(in_channels)
        extra_in = ([in_channels[-1]] + [out_channels] * num_extra)[:num_extra]
        self.extra_convs = nn.ModuleList(
            [_conv_gn(c, out_channels, 3, 2, num_groups) for c in extra_in]
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        outs = [conv(x) for conv, x in zip(self.convs, inputs)]
        source = inputs[-1]
        for conv in self.extra_convs:
            source = conv(source)
            outs.append(source)
        return tuple(outs)
