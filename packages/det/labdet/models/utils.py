"""Small helpers shared by labdet's models: building parts from configs, box clean-up."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def build(cfg_or_obj: Any, registry) -> Any:
    """Build ``cfg_or_obj`` from ``registry`` when it is a config dict; pass a built object through.

    Lets a constructor take either ``dict(type='L1Loss')`` or an ``L1Loss()`` instance, so a
    test can inject a real object.
    """
    if isinstance(cfg_or_obj, dict):
        return registry.build(cfg_or_obj)
    return cfg_or_obj


def clip_boxes(boxes: Tensor, img_shape: tuple[int, int]) -> Tensor:
    """Clip ``boxes`` (Tensor[..., 4], x1 y1 x2 y2) to an image of ``img_shape`` (h, w)."""
    height, width = img_shape
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((x, y), dim=-1).reshape(boxes.shape)


def nonsmall_box_indices(boxes: Tensor, min_size: float) -> Tensor:
    """Indices of the ``boxes`` (Tensor[N, 4]) whose width and height are both >= ``min_size``."""
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    return torch.where((widths >= min_size) & (heights >= min_size))[0]


def permute_to_N_HWA_K(x: Tensor, k: int) -> Tensor:  # noqa: N802 (named after its shape)
    """One level's head output Tensor[B, A*K, H, W] as Tensor[B, H*W*A, K].

    Locations row-major, then anchor: the order in which :class:`AnchorGenerator` lists
    the level's anchors.
    """
    batch, ak, height, width = x.shape
    x = x.view(batch, ak // k, k, height, width)
    return x.permute(0, 3, 4, 1, 2).reshape(batch, -1, k)


def concat_levels(per_level: list[Tensor], channels_last: int) -> Tensor:
    """Turn per-level head outputs into one Tensor[B, sum(H*W*A), K].

    Each element of ``per_level`` is Tensor[B, A*K, H, W] with ``K = channels_last``; the
    result is ordered level by level, then as :func:`permute_to_N_HWA_K`.
    """
    return torch.cat([permute_to_N_HWA_K(x, channels_last) for x in per_level], dim=1)
