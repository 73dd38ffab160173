"""Centerness (FCOS): how close a point lies to the centre of the box it learns from."""

from __future__ import annotations

import torch
from torch import Tensor


def edge_distances(points: Tensor, boxes: Tensor) -> Tensor:
    """Distances Tensor[N, 4] (left, top, right, bottom) from ``points`` (Tensor[N, 2], x y)
    to the edges of ``boxes`` (Tensor[N, 4], x1 y1 x2 y2)."""
    return torch.cat([points - boxes[:, :2], boxes[:, 2:] - points], dim=1)


def centerness_target(distances: Tensor) -> Tensor:
    """Centerness Tensor[N] of points at ``distances`` (Tensor[N, 4], l t r b) from box edges:
    ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``."""
    left_right = distances[:, [0, 2]]
    top_bottom = distances[:, [1, 3]]
    ratio = (left_right.min(dim=1).values / left_right.max(dim=1).values) * (
        top_bottom.min(dim=1).values / top_bottom.max(dim=1).values
    )
    return torch.sqrt(ratio)
