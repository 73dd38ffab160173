"""Small helpers of labseg's models: resizing logits and building sub-modules."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from labseg.registry import MODELS


def resize(x: Tensor, size: tuple[int, int], *, align_corners: bool = False) -> Tensor:
    """Bilinear resize of ``Tensor[B, C, H, W]`` to ``Tensor[B, C, *size]`` (a no-op at that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=align_corners)


def build_module(cfg: dict | nn.Module | None) -> nn.Module | None:
    """A module from a config dict (built in labseg's MODELS), a module passed through,
    or None for None."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return MODELS.build(cfg)
