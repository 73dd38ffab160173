"""Path Aggregation FPN (Liu et al., "Path Aggregation Network for Instance
Segmentation", CVPR 2018): an FPN followed by a bottom-up path.

FPN's top-down path carries semantics from coarse to fine levels; PANet adds the
opposite path, so that the precise localisation of fine levels reaches the coarse ones
in a few layers instead of through the whole backbone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from labcore.models.layers import ConvNormAct
from labcore.models.necks import FPN
from labdet.registry import MODELS


@MODELS.register_module()
class PAFPN(nn.Module):
    """FPN, then a bottom-up path with lateral additions, then optional extra levels.

    With ``N_i`` the outputs and ``P_i`` labcore's FPN outputs (finest first)::

        M_0 = P_0,  M_{i+1} = P_{i+1} + down_i(M_i)     (down_i: conv3x3, stride 2)
        N_0 = M_0,  N_i = smooth_i(M_i) for i >= 1       (smooth_i: conv3x3)

    The same computation as MMDetection's ``PAFPN``. Extra levels after the last, as in
    labcore's FPN: ``'maxpool'`` (Faster R-CNN's P6) or ``'p6p7'`` (two stride-2 convs on
    the last output, as RetinaNet).

    Args:
        in_channels: channels of each input level, finest first.
        out_channels: channels of every output level.
        extra_levels: ``'none'``, ``'maxpool'`` or ``'p6p7'``.
        norm_cfg: a norm after every conv (e.g. ``dict(type='GN', num_groups=32)``); None:
            plain convs with bias.

    Input: a sequence of Tensor[B, in_channels[i], H_i, W_i], finest first, each level
    half the size of the one before.
    Output: a tuple of Tensor[B, out_channels, H_j, W_j], finest first, one per input
    level plus the extra levels.
    """

    def __init__(
        self,
        *,
        in_channels: Sequence[int],
        out_channels: int,
        extra_levels: str = "none",
        norm_cfg: dict | None = None,
    ):
        super().__init__()
        if extra_levels not in ("none", "maxpool", "p6p7"):
            raise ValueError(
                f"PAFPN: extra_levels={extra_levels!r}; choose 'none', 'maxpool' or 'p6p7'"
            )
        self.fpn = FPN(in_channels=in_channels, out_channels=out_channels, norm_cfg=norm_cfg)
        self.extra_levels = extra_levels

        def conv3x3(stride: int) -> nn.Module:
            if norm_cfg is None:
                return nn.Conv2d(out_channels, out_channels, 3, stride=stride, padding=1)
            return ConvNormAct(out_channels, out_channels, 3, stride=stride, norm_cfg=norm_cfg)

        levels = len(in_channels)
        self.downsample_convs = nn.ModuleList(conv3x3(2) for _ in range(levels - 1))
        self.pafpn_convs = nn.ModuleList(conv3x3(1) for _ in range(levels - 1))
        if extra_levels == "p6p7":
            self.p6 = nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1)
            self.p7 = nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1)
        for name, module in self.named_modules():
            if isinstance(module, nn.Conv2d) and not name.startswith("fpn."):
                nn.init.kaiming_uniform_(module.weight, a=1)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)

    @property
    def num_outs(self) -> int:
        return len(self.fpn.in_channels) + {"none": 0, "maxpool": 1, "p6p7": 2}[self.extra_levels]

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        merged = list(self.fpn(inputs))  # top-down, finest first
        for level, down in enumerate(self.downsample_convs):
            merged[level + 1] = merged[level + 1] + down(merged[level])
        outs = [merged[0]] + [smooth(m) for smooth, m in zip(self.pafpn_convs, merged[1:])]
        if self.extra_levels == "maxpool":
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        elif self.extra_levels == "p6p7":
            p6 = self.p6(outs[-1])
            outs.extend([p6, self.p7(F.relu(p6))])
        return tuple(outs)
