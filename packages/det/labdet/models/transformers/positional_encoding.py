"""Sine positional encodings of DETR-style detectors: of feature-map positions (with a
padding mask) and of box coordinates (the two-stage queries of Deformable DETR)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from labdet.registry import MODELS


def _frequencies(num_feats: int, temperature: float, device: torch.device) -> Tensor:
    """Tensor[num_feats]: ``temperature ** (2 * (i // 2) / num_feats)``; sine at even i,
    cosine at odd i share a frequency."""
    index = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * torch.div(index, 2, rounding_mode="floor") / num_feats)


def _interleave_sin_cos(angles: Tensor) -> Tensor:
    """Tensor[..., F] of angles -> Tensor[..., F]: sin of the even, cos of the odd entries,
    interleaved (sin0, cos1, sin2, cos3, ...)."""
    return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(-2)


@MODELS.register_module()
class SinePositionalEncoding(nn.Module):
    """The 2-D sine encoding of DETR: ``num_feats`` channels encode y, ``num_feats`` encode x.

    Positions count the valid (unpadded) pixels from the top-left corner (1, 2, ...). With
    ``normalize`` they become ``(count + offset) / (valid extent + eps) * scale``, so the
    encoding does not depend on the image size.

    forward(mask BoolTensor[B, H, W], True at padding) -> Tensor[B, 2 * num_feats, H, W].
    """

    def __init__(
        self,
        *,
        num_feats: int = 128,
        temperature: float = 10000.0,
        normalize: bool = True,
        scale: float = 2 * math.pi,
        eps: float = 1e-6,
        offset: float = -0.5,
    ):
        super().__init__()
        self.num_feats = num_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = scale
        self.eps = eps
        self.offset = offset

    def forward(self, mask: Tensor) -> Tensor:
        valid = (~mask).to(torch.float32)
        y = valid.cumsum(dim=1)
        x = valid.cumsum(dim=2)
        if self.normalize:
            y = (y + self.offset) / (y[:, -1:, :] + self.eps) * self.scale
            x = (x + self.offset) / (x[:, :, -1:] + self.eps) * self.scale
        freqs = _frequencies(self.num_feats, self.temperature, mask.device)
        pos_y = _interleave_sin_cos(y[..., None] / freqs)
        pos_x = _interleave_sin_cos(x[..., None] / freqs)
        return torch.cat((pos_y, pos_x), dim=-1).permute(0, 3, 1, 2)


def box_sine_embedding(
    boxes_unact: Tensor, num_feats: int = 128, temperature: float = 10000.0
) -> Tensor:
    """Sine embedding of boxes given before the sigmoid (Deformable DETR's two-stage queries).

    Args:
        boxes_unact (Tensor[B, N, 4]): cx, cy, w, h as logits (``sigmoid`` gives [0, 1]).

    Returns:
        Tensor[B, N, 4 * num_feats]: each coordinate ``sigmoid(v) * 2 * pi`` encoded with
        ``num_feats`` interleaved sines and cosines, coordinates in order.
    """
    freqs = _frequencies(num_feats, temperature, boxes_unact.device)
    angles = boxes_unact.sigmoid()[..., None] * (2 * math.pi) / freqs
    return _interleave_sin_cos(angles).flatten(-2)


def coordinate_sine_embedding(
    coords: Tensor, num_feats: int = 128, temperature: float = 10000.0
) -> Tensor:
    """Sine embedding of normalised boxes (DINO's positional queries from reference boxes).

    Args:
        coords (Tensor[..., 4]): cx, cy, w, h in [0, 1].

    Returns:
        Tensor[..., 4 * num_feats]: each coordinate ``v * 2 * pi`` encoded with
        ``num_feats`` interleaved sines and cosines, in the order y, x, w, h (DINO's).
    """
    freqs = _frequencies(num_feats, temperature, coords.device)
    angles = coords[..., None] * (2 * math.pi) / freqs
    embeds = _interleave_sin_cos(angles)  # [..., 4, num_feats]
    x, y, w, h = embeds.unbind(-2)
    return torch.cat([y, x, w, h], dim=-1)
