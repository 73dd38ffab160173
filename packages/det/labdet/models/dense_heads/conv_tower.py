"""The conv towers of dense heads and their initialisation."""

from __future__ import annotations

from torch import nn


def conv_tower(
    in_channels: int,
    channels: int,
    num_convs: int,
    num_groups: int = 0,
    *,
    conv_bias: bool = True,
) -> nn.Sequential:
    """``num_convs`` blocks of 3x3 conv (+ GroupNorm when ``num_groups``) + ReLU, flat in one
    Sequential: indices ``2 i`` (conv) without norm, ``3 i`` (conv) and ``3 i + 1`` (norm)
    with it. ``conv_bias=False`` drops the convs' bias (torchvision's v2 heads, where the
    norm's shift replaces it)."""
    layers: list[nn.Module] = []
    for i in range(num_convs):
        layers.append(
            nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1, bias=conv_bias)
        )
        if num_groups:
            layers.append(nn.GroupNorm(num_groups, channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def init_head_convs(module: nn.Module, *, std: float = 0.01) -> None:
    """Normal(0, std) weights and zero biases (where there are) for every conv in ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
