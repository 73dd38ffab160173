"""CSPNeXtPAFPN: RTMDet's path-aggregation neck of CSPNeXt blocks (MMDetection's
``CSPNeXtPAFPN``, same modules, names and parameter count)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from labcore.models.backbones.cspnext import (
    DEFAULT_ACT,
    DEFAULT_NORM,
    CSPLayer,
    reset_conv_parameters,
)
from labcore.models.layers import ConvNormAct
from labcore.registry import MODELS


@MODELS.register_module()
class CSPNeXtPAFPN(BaseModule):
    """Top-down then bottom-up path aggregation over the backbone's levels, CSP layers at
    every fusion, a 3x3 conv-norm-act to ``out_channels`` on every output.

    Top-down, from the coarsest level: ``reduce_layers`` (1x1) bring the running map to the
    next finer level's channels, it is upsampled x2 (nearest), concatenated with that level
    and fused by a ``top_down_blocks`` CSPLayer. Bottom-up, from the finest: the running map
    is downsampled by a 3x3 stride-2 conv (``downsamples``), concatenated with the
    top-down map of the next coarser level (the reduced one, for the coarsest) and fused by
    a ``bottom_up_blocks`` CSPLayer. CSP layers here have no identity and no attention.

    Args:
        in_channels: channels of each input level, finest first.
        out_channels: channels of every output level.
        num_csp_blocks: CSPNeXt blocks per CSP layer.
        expand_ratio: hidden width of the CSP layers relative to their output.
        norm_cfg, act_cfg: as :class:`CSPNeXt`.
        init_cfg: MMEngine initialisation config.

    Input: a sequence of Tensor[B, in_channels[i], H_i, W_i], finest first, each level half
    the size of the previous. Output: a tuple of Tensor[B, out_channels, H_i, W_i].
    """

    def __init__(
        self,
        *,
        in_channels: Sequence[int],
        out_channels: int,
        num_csp_blocks: int = 3,
        expand_ratio: float = 0.5,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        layer = dict(
            norm_cfg=dict(DEFAULT_NORM) if norm_cfg is None else dict(norm_cfg),
            act_cfg=dict(DEFAULT_ACT) if act_cfg is None else dict(act_cfg),
        )
        csp = dict(num_blocks=num_csp_blocks, add_identity=False, expand_ratio=expand_ratio)
        channels = self.in_channels
        coarse_to_fine = range(len(channels) - 1, 0, -1)
        self.reduce_layers = nn.ModuleList(
            ConvNormAct(channels[i], channels[i - 1], 1, **layer) for i in coarse_to_fine
        )
        self.top_down_blocks = nn.ModuleList(
            CSPLayer(channels[i - 1] * 2, channels[i - 1], **csp, **layer) for i in coarse_to_fine
        )
        fine_to_coarse = range(len(channels) - 1)
        self.downsamples = nn.ModuleList(
            ConvNormAct(channels[i], channels[i], 3, stride=2, **layer) for i in fine_to_coarse
        )
        self.bottom_up_blocks = nn.ModuleList(
            CSPLayer(channels[i] * 2, channels[i + 1], **csp, **layer) for i in fine_to_coarse
        )
        self.out_convs = nn.ModuleList(ConvNormAct(c, out_channels, 3, **layer) for c in channels)
        reset_conv_parameters(self)

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f"CSPNeXtPAFPN was built for {len(self.in_channels)} levels "
                f"(in_channels={self.in_channels}) but got {len(inputs)}; make the backbone's "
                f"out_indices and the neck's in_channels list the same levels"
            )
        # top-down: inner[i] is the fused map of level i, inner[-1] the reduced coarsest map
        inner = [inputs[-1]]
        for step, i in enumerate(range(len(inputs) - 1, 0, -1)):
            reduced = self.reduce_layers[step](inner[0])
            inner[0] = reduced
            upsampled = F.interpolate(reduced, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.top_down_blocks[step](torch.cat([upsampled, inputs[i - 1]], 1)))
        # bottom-up
        outs = [inner[0]]
        for i in range(len(inputs) - 1):
            down = self.downsamples[i](outs[-1])
            outs.append(self.bottom_up_blocks[i](torch.cat([down, inner[i + 1]], 1)))
        return tuple(conv(x) for conv, x in zip(self.out_convs, outs))
