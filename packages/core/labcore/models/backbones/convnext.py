"""ConvNeXt (Liu et al., 2022): a ResNet modernised with 7x7 depthwise convs, LayerNorm,
inverted bottlenecks and layer scale.

Module names follow OpenMMLab's ConvNeXt (``downsample_layers``, ``stages``, ``norm3``),
so its checkpoints load directly; torchvision's ``features.*`` layout loads through
:func:`labcore.models.convert.convert_torchvision_classifier`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from labcore.errors import ConfigError
from labcore.models.layers import DropPath, LayerNorm2d, drop_path_rates, maybe_checkpoint
from labcore.registry import MODELS

ARCH_SETTINGS = {
    "tiny": dict(depths=(3, 3, 9, 3), channels=(96, 192, 384, 768)),
    "small": dict(depths=(3, 3, 27, 3), channels=(96, 192, 384, 768)),
    "base": dict(depths=(3, 3, 27, 3), channels=(128, 256, 512, 1024)),
    "large": dict(depths=(3, 3, 27, 3), channels=(192, 384, 768, 1536)),
}
"""Blocks and channels per stage, by architecture name."""


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv, LayerNorm, Linear(C, 4C), GELU, Linear(4C, C), layer scale,
    stochastic depth, residual.

    Input and output: Tensor[B, C, H, W].
    """

    def __init__(
        self,
        channels: int,
        *,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        mlp_ratio: int = 4,
    ):
        super().__init__()
        self.depthwise_conv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.pointwise_conv1 = nn.Linear(channels, mlp_ratio * channels)
        self.act = nn.GELU()
        self.pointwise_conv2 = nn.Linear(mlp_ratio * channels, channels)
        if layer_scale_init_value > 0:
            self.gamma = nn.Parameter(torch.full((channels,), float(layer_scale_init_value)))
        else:
            self.gamma = None
        self.drop_path = DropPath(drop_path_rate)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.depthwise_conv(x).permute(0, 2, 3, 1)  # [B, H, W, C]
        x = self.pointwise_conv2(self.act(self.pointwise_conv1(self.norm(x))))
        if self.gamma is not None:
            x = x * self.gamma
        return shortcut + self.drop_path(x.permute(0, 3, 1, 2))


@MODELS.register_module()
class ConvNeXt(BaseModule):
    """ConvNeXt backbone returning the (normalized) outputs of the stages in ``out_indices``.

    Args:
        arch: 'tiny', 'small', 'base', 'large', or a dict with ``depths`` and ``channels``
            (4 values each).
        in_channels: channels of the input image.
        out_indices: stages (0..3) whose outputs are returned, in increasing order; each
            gets its own LayerNorm ``norm{i}``.
        drop_path_rate: stochastic depth of the last block (rising linearly from 0).
        layer_scale_init_value: initial layer scale (0 disables layer scale).
        gap_before_final_norm: average-pool each output before its norm, as classification
            does; outputs are then Tensor[B, C_i, 1, 1]. False keeps the full maps
            (dense prediction).
        frozen_stages: 0 trains everything; k >= 1 freezes the stem and stages 1..k.
        with_cp: recompute the blocks' activations in backward (activation checkpointing).
        init_cfg: MMEngine initialisation config.

    Shapes: input Tensor[B, 3, H, W] with H, W multiples of 32; output i is
    Tensor[B, channels[i], H / 2**(i + 2), W / 2**(i + 2)] (or [B, channels[i], 1, 1]
    with ``gap_before_final_norm``). ``out_channels`` lists the returned channels.
    """

    def __init__(
        self,
        *,
        arch: str | dict = "tiny",
        in_channels: int = 3,
        out_indices: Sequence[int] = (3,),
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        gap_before_final_norm: bool = True,
        frozen_stages: int = 0,
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in ARCH_SETTINGS:
                raise ConfigError(
                    f"ConvNeXt arch '{arch}' is unknown; choose one of {sorted(ARCH_SETTINGS)} "
                    "or pass dict(depths=(...), channels=(...))."
                )
            arch = ARCH_SETTINGS[arch]
        if set(arch) != {"depths", "channels"} or len(arch["depths"]) != len(arch["channels"]):
            raise ConfigError(
                f"ConvNeXt arch dict needs 'depths' and 'channels' of equal length, got {arch}."
            )
        depths, channels = tuple(arch["depths"]), tuple(arch["channels"])
        num_stages = len(depths)
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(num_stages) for i in out_indices):
            raise ConfigError(
                f"ConvNeXt out_indices must be stages in 0..{num_stages - 1}, got {out_indices}."
            )
        if frozen_stages not in range(0, num_stages + 1):
            raise ConfigError(
                f"ConvNeXt frozen_stages must be in 0..{num_stages}, got {frozen_stages}."
            )
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.gap_before_final_norm = gap_before_final_norm
        self.with_cp = with_cp
        self.out_channels = tuple(channels[i] for i in out_indices)

        self.downsample_layers = nn.ModuleList(
            [
                nn.Sequential(
                    nn.Conv2d(in_channels, channels[0], 4, stride=4),
                    LayerNorm2d(channels[0], eps=1e-6),
                )
            ]
        )
        for i in range(1, num_stages):
            self.downsample_layers.append(
                nn.Sequential(
                    LayerNorm2d(channels[i - 1], eps=1e-6),
                    nn.Conv2d(channels[i - 1], channels[i], 2, stride=2),
                )
            )
        rates = iter(drop_path_rates(drop_path_rate, sum(depths)))
        self.stages = nn.ModuleList(
            nn.Sequential(
                *(
                    ConvNeXtBlock(
                        channels[i],
                        drop_path_rate=next(rates),
                        layer_scale_init_value=layer_scale_init_value,
                    )
                    for _ in range(depths[i])
                )
            )
            for i in range(num_stages)
        )
        for i in out_indices:
            self.add_module(f"norm{i}", LayerNorm2d(channels[i], eps=1e-6))

        for m in self.modules():  # truncated-normal init of convs and linears
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            for module in (self.downsample_layers[i], self.stages[i]):
                module.eval()
                for param in module.parameters():
                    param.requires_grad_(False)

    def train(self, mode: bool = True) -> ConvNeXt:
        """Switch to ``mode``, keeping frozen stages in eval."""
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """x: Tensor[B, 3, H, W] -> one Tensor[B, C_i, H_i, W_i] per out_index."""
        outs = []
        for i, (downsample, stage) in enumerate(zip(self.downsample_layers, self.stages)):
            x = downsample(x)
            for block in stage:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                norm = getattr(self, f"norm{i}")
                if self.gap_before_final_norm:
                    outs.append(norm(x.mean(dim=(2, 3), keepdim=True)))
                else:
                    outs.append(norm(x))
            if i == max(self.out_indices):
                break
        return tuple(outs)
