"""Samplers: pick a fixed-size, balanced subset of assigned anchors or proposals for the loss."""

from __future__ import annotations

import torch
from torch import Tensor

from labdet.registry import TASK_UTILS


@TASK_UTILS.register_module()
class RandomSampler:
    """Sample up to ``num`` indices, at most ``pos_fraction`` of them positive, at random.

    Negatives fill what positives leave. Same rule as torchvision's
    ``BalancedPositiveNegativeSampler``.
    """

    def __init__(self, *, num: int, pos_fraction: float):
        self.num = num
        self.pos_fraction = pos_fraction

    def sample(self, matched: Tensor) -> tuple[Tensor, Tensor]:
        """Indices (positive, negative) into ``matched`` (Tensor[N], >= 0 positive, -1 negative)."""
        positive = torch.where(matched >= 0)[0]
        negative = torch.where(matched == -1)[0]
        num_pos = min(positive.numel(), int(self.num * self.pos_fraction))
        num_neg = min(negative.numel(), self.num - num_pos)
        pos_pick = torch.randperm(positive.numel(), device=positive.device)[:num_pos]
        neg_pick = torch.randperm(negative.numel(), device=negative.device)[:num_neg]
        return positive[pos_pick], negative[neg_pick]
