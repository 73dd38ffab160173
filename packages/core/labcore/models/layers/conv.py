"""Convolution followed by a normalization and an activation."""

from __future__ import annotations

from torch import nn

from labcore.models.layers.norm import build_activation_layer, build_norm_layer


class ConvNormAct(nn.Sequential):
    """Conv2d -> norm -> activation, as an ``nn.Sequential`` indexed 0, 1, 2.

    The indices match torchvision's ``Conv2dNormActivation``, so its state dicts load
    directly (``<name>.0.weight`` is the conv, ``<name>.1.*`` the norm). ``norm_cfg=None``
    drops the norm and gives the conv a bias; ``act_cfg=None`` drops the activation.
    ``padding=None`` keeps the spatial size at stride 1: ``(kernel_size - 1) // 2 * dilation``.

    Input Tensor[B, in_channels, H, W]; output Tensor[B, out_channels, H', W'].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        groups: int = 1,
        bias: bool | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
    ):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_cfg is None
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=groups,
                bias=bias,
            )
        ]
        if norm_cfg is not None:
            layers.append(build_norm_layer(norm_cfg, out_channels))
        if act_cfg is not None:
            layers.append(build_activation_layer(act_cfg))
        super().__init__(*layers)
        self.out_channels = out_channels
