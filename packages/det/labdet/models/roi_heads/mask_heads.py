"""Mask branch of Mask R-CNN: RoI conv head, mask predictor, and pasting masks into images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labdet.registry import MODELS


@MODELS.register_module()
class MaskRCNNHead(nn.Module):
    """A stack of 3x3 conv + ReLU layers on RoI features (Tensor[R, C, S, S] -> Tensor[R, C', S, S])."""

    def __init__(
        self, *, in_channels: int, layers: Sequence[int] = (256, 256, 256, 256), dilation: int = 1
    ):
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for width in layers:
            blocks += [
                nn.Conv2d(channels, width, 3, padding=dilation, dilation=dilation),
                nn.ReLU(inplace=True),
            ]
            channels = width
        self.convs = nn.Sequential(*blocks)
        for m in self.convs.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.convs(x)


@MODELS.register_module()
class MaskRCNNPredictor(nn.Module):
    """2x upsampling (transposed conv + ReLU) then per-class mask logits (1x1 conv).

    Input Tensor[R, C, S, S]; output Tensor[R, K + 1, 2S, 2S], channel 0 for background.
    """

    def __init__(self, *, in_channels: int, dim_reduced: int, num_classes: int):
        super().__init__()
        self.conv5_mask = nn.ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)
        self.mask_fcn_logits = nn.Conv2d(dim_reduced, num_classes + 1, 1)
        for m in (self.conv5_mask, self.mask_fcn_logits):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.mask_fcn_logits(F.relu(self.conv5_mask(x)))


def paste_masks(
    mask_probs: Tensor, boxes: Tensor, img_shape: tuple[int, int], *, padding: int = 1
) -> Tensor:
    """Paste fixed-size mask probabilities into full images.

    Each mask (Tensor[N, M, M]) is padded by ``padding`` zero pixels on each side, its box
    (Tensor[N, 4], x1 y1 x2 y2) grown by the same proportion and rounded down to integers,
    the mask resized bilinearly to the box and written into a zero image of ``img_shape``
    (h, w). Returns Tensor[N, h, w] of probabilities.
    """
    height, width = img_shape
    out = mask_probs.new_zeros((len(mask_probs), height, width))
    if len(mask_probs) == 0:
        return out
    size = mask_probs.shape[-1]
    scale = (size + 2 * padding) / size
    padded = F.pad(mask_probs, (padding,) * 4)
    half_w = (boxes[:, 2] - boxes[:, 0]) * 0.5 * scale
    half_h = (boxes[:, 3] - boxes[:, 1]) * 0.5 * scale
    ctr_x = (boxes[:, 2] + boxes[:, 0]) * 0.5
    ctr_y = (boxes[:, 3] + boxes[:, 1]) * 0.5
    grown = torch.stack([ctr_x - half_w, ctr_y - half_h, ctr_x + half_w, ctr_y + half_h], dim=1)
    for i, (x0, y0, x1, y1) in enumerate(grown.to(torch.int64).tolist()):
        box_w, box_h = max(x1 - x0 + 1, 1), max(y1 - y0 + 1, 1)
        resized = F.interpolate(
            padded[i][None, None], size=(box_h, box_w), mode="bilinear", align_corners=False
        )[0, 0]
        left, right = max(x0, 0), min(x1 + 1, width)
        top, bottom = max(y0, 0), min(y1 + 1, height)
        if right > left and bottom > top:
            out[i, top:bottom, left:right] = resized[top - y0 : bottom - y0, left - x0 : right - x0]
    return out
