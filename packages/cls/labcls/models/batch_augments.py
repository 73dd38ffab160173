"""Batch augments that mix images and their targets: Mixup and CutMix.

Both come from ``torchvision.transforms.v2`` and are registered in labcls MODELS under
the names users know (``Mixup``, ``CutMix``). Called as ``augment(inputs, targets)``
with ``inputs`` Tensor[B, C, H, W] (float) and ``targets`` Tensor[B, K] one-hot or soft
scores, they return the mixed batch and soft targets Tensor[B, K]. Each image is mixed
with its neighbour in the batch (index i - 1), with one ratio lambda ~ Beta(alpha, alpha)
per batch; CutMix corrects lambda to the pasted box's true area.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchvision.transforms.v2 import CutMix, MixUp

from labcls.registry import MODELS

MODELS.register_module(name="Mixup", module=MixUp)
MODELS.register_module(name="CutMix", module=CutMix)


@MODELS.register_module()
class RandomBatchAugment:
    """Apply one batch augment per batch, chosen at random (or none at all).

    Args:
        augments: the augments or their configs, e.g.
            ``[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]``.
        probs: probability of each augment; their sum may be below 1, the rest being the
            probability of leaving the batch unchanged. Default: equal, summing to 1.
    """

    def __init__(
        self, *, augments: Sequence[dict | nn.Module], probs: Sequence[float] | None = None
    ):
        if not augments:
            raise ValueError("RandomBatchAugment needs at least one augment")
        self.augments = [a if callable(a) else MODELS.build(a) for a in augments]
        if probs is None:
            probs = [1.0 / len(self.augments)] * len(self.augments)
        if len(probs) != len(self.augments) or min(probs) < 0 or sum(probs) > 1 + 1e-6:
            raise ValueError(
                f"RandomBatchAugment.probs must give one probability >= 0 per augment "
                f"({len(self.augments)}) and sum to at most 1, got {list(probs)}"
            )
        self.probs = [float(p) for p in probs]

    def __call__(
        self, inputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs Tensor[B, C, H, W], targets Tensor[B, K] -> the same shapes, mixed."""
        draw = torch.rand(1).item()
        for augment, prob in zip(self.augments, self.probs):
            if draw < prob:
                return augment(inputs, targets)
            draw -= prob
        return inputs, targets

    def __repr__(self) -> str:
        return f"{type(self).__name__}(augments={self.augments}, probs={self.probs})"
