"""Projection necks: a backbone's last feature map -> an embedding for the loss."""

from __future__ import annotations

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from labssl.registry import MODELS


def last_pooled(feats: Tensor | tuple[Tensor, ...]) -> Tensor:
    """The last of a backbone's outputs as Tensor[B, C]: a map Tensor[B, C, H, W] is
    averaged over H and W, Tensor[B, C, 1, 1] (a ViT class token) is flattened."""
    x = feats[-1] if isinstance(feats, tuple | list) else feats
    if x.dim() == 4:
        x = x.mean(dim=(2, 3))
    return x


@MODELS.register_module()
class MoCoV2Neck(BaseModule):
    """MoCo v2's projection: global average pooling, Linear, ReLU, Linear (with biases,
    no normalisation). Tuple of Tensor[B, C, H, W] -> Tensor[B, out_channels]."""

    def __init__(
        self,
        *,
        in_channels: int,
        hid_channels: int,
        out_channels: int,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hid_channels),
            nn.ReLU(inplace=True),
            nn.Linear(hid_channels, out_channels),
        )

    def forward(self, feats: Tensor | tuple[Tensor, ...]) -> Tensor:
        return self.mlp(last_pooled(feats))


@MODELS.register_module()
class NonLinearNeck(BaseModule):
    """An MLP of ``num_layers`` linear layers with BatchNorm and ReLU between them: the
    projection of SimCLR and BYOL, and BYOL's predictor (``with_avg_pool=False``).

    Args:
        in_channels, hid_channels, out_channels: widths of the input, hidden layers
            and output.
        num_layers: linear layers (>= 2).
        with_bias: biases in the linear layers (off where BatchNorm follows).
        with_last_bn: BatchNorm after the last linear layer (SimCLR: yes, BYOL: no).
        with_avg_pool: pool the last feature map of a tuple first; without, the input
            is Tensor[B, in_channels] or a tuple whose last item is.

    Tuple of Tensor[B, C, H, W] (or Tensor[B, C]) -> Tensor[B, out_channels].
    """

    def __init__(
        self,
        *,
        in_channels: int,
        hid_channels: int,
        out_channels: int,
        num_layers: int = 2,
        with_bias: bool = False,
        with_last_bn: bool = True,
        with_avg_pool: bool = True,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if num_layers < 2:
            raise ValueError(f"NonLinearNeck needs num_layers >= 2, got {num_layers}")
        self.with_avg_pool = with_avg_pool
        layers: list[nn.Module] = []
        widths = [in_channels] + [hid_channels] * (num_layers - 1) + [out_channels]
        for i, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            last = i == num_layers - 1
            layers.append(nn.Linear(width_in, width_out, bias=with_bias))
            if not last:
                layers += [nn.BatchNorm1d(width_out), nn.ReLU(inplace=True)]
            elif with_last_bn:
                layers.append(nn.BatchNorm1d(width_out))
        self.mlp = nn.Sequential(*layers)

    def forward(self, feats: Tensor | tuple[Tensor, ...]) -> Tensor:
        if self.with_avg_pool:
            x = last_pooled(feats)
        else:
            x = feats[-1] if isinstance(feats, tuple | list) else feats
            x = torch.flatten(x, 1)
        return self.mlp(x)
