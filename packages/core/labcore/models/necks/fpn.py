"""Feature Pyramid Network (Lin et al., CVPR 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from labcore.models.layers import ConvNormAct
from labcore.registry import MODELS

EXTRA_LEVELS = ("none", "maxpool", "p6p7")


@MODELS.register_module()
class FPN(nn.Module):
    """Top-down feature pyramid with lateral connections, plus optional extra coarse levels.

    Each input level ``C_i`` goes through a 1x1 lateral conv; from the coarsest level down,
    the running map is upsampled (nearest, to the finer map's size) and added to the next
    lateral; a 3x3 conv smooths each sum into ``P_i``. Extra levels after the last:

    - ``'maxpool'``: one level, max-pool of the last ``P`` with stride 2 (Faster R-CNN's P6).
    - ``'p6p7'``: two levels, ``P6 = conv3x3/2(src)``, ``P7 = conv3x3/2(relu(P6))`` where
      ``src`` is the last ``P`` (``extra_source='output'``) or the last input ``C``
      (``extra_source='input'``), as in RetinaNet and FCOS.

    Same computation and initialisation (kaiming-uniform, a=1, zero bias) as torchvision's
    ``FeaturePyramidNetwork``.

    Args:
        in_channels: channels of each input level, finest first.
        out_channels: channels of every output level.
        extra_levels: one of ``'none'``, ``'maxpool'``, ``'p6p7'``.
        extra_source: ``'output'`` or ``'input'``: what P6 is computed from.
        norm_cfg: a norm after every lateral and output conv (e.g. ``dict(type='BN')``, as
            torchvision's v2 Faster R-CNN); each is then a ConvNormAct (``.0`` the conv,
            without bias, ``.1`` the norm). None (default): plain convs with bias.

    Input: a sequence of Tensor[B, in_channels[i], H_i, W_i], finest first.
    Output: a tuple of Tensor[B, out_channels, H_j, W_j], finest first, one per input level
    plus the extra levels.
    """

    def __init__(
        self,
        *,
        in_channels: Sequence[int],
        out_channels: int,
        extra_levels: str = "none",
        extra_source: str = "output",
        norm_cfg: dict | None = None,
    ):
        super().__init__()
        if extra_levels not in EXTRA_LEVELS:
            raise ValueError(f"FPN: extra_levels={extra_levels!r}; choose one of {EXTRA_LEVELS}")
        if extra_source not in ("output", "input"):
            raise ValueError(f"FPN: extra_source={extra_source!r}; choose 'output' or 'input'")
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.extra_levels = extra_levels
        self.extra_source = extra_source

        def conv(in_ch: int, kernel_size: int) -> nn.Module:
            if norm_cfg is None:
                return nn.Conv2d(in_ch, out_channels, kernel_size, padding=kernel_size // 2)
            return ConvNormAct(in_ch, out_channels, kernel_size, norm_cfg=norm_cfg)

        self.lateral_convs = nn.ModuleList(conv(c, 1) for c in in_channels)
        self.fpn_convs = nn.ModuleList(conv(out_channels, 3) for _ in in_channels)
        if extra_levels == "p6p7":
            p6_in = out_channels if extra_source == "output" else self.in_channels[-1]
            self.p6 = nn.Conv2d(p6_in, out_channels, 3, stride=2, padding=1)
            self.p7 = nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight, a=1)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)

    @property
    def num_outs(self) -> int:
        extra = {"none": 0, "maxpool": 1, "p6p7": 2}[self.extra_levels]
        return len(self.in_channels) + extra

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f"FPN was built for {len(self.in_channels)} input levels (in_channels="
                f"{self.in_channels}) but got {len(inputs)}; match the backbone's out_indices"
            )
        running = self.lateral_convs[-1](inputs[-1])
        outs = [self.fpn_convs[-1](running)]
        for idx in range(len(inputs) - 2, -1, -1):
            lateral = self.lateral_convs[idx](inputs[idx])
            top_down = F.interpolate(running, size=lateral.shape[-2:], mode="nearest")
            running = lateral + top_down
            outs.insert(0, self.fpn_convs[idx](running))
        if self.extra_levels == "maxpool":
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2, padding=0))
        elif self.extra_levels == "p6p7":
            source = outs[-1] if self.extra_source == "output" else inputs[-1]
            p6 = self.p6(source)
            outs.extend([p6, self.p7(F.relu(p6))])
        return tuple(outs)
