"""The momentum (exponential moving average) copy of an encoder: MoCo's key encoder and
BYOL's target network."""

from __future__ import annotations

import copy

import torch
from torch import nn


class MomentumEncoder(nn.Module):
    """A copy of ``online`` that follows it by ``target = m * target + (1 - m) * online``.

    The copy takes no gradient. :meth:`update` is called after each optimizer step by
    :class:`labssl.engine.MomentumUpdateHook`, which also sets ``m`` from its schedule.
    Buffers (BatchNorm statistics) are copied from ``online``, not averaged.

    Args:
        online: the encoder to follow (e.g. ``nn.Sequential(backbone, neck)``).
    """

    def __init__(self, online: nn.Module):
        super().__init__()
        self.module = copy.deepcopy(online)
        for param in self.module.parameters():
            param.requires_grad_(False)

    @torch.no_grad()
    def update(self, online: nn.Module, momentum: float) -> None:
        """One step of the moving average towards ``online``'s current weights."""
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
        for target, source in zip(self.module.parameters(), online.parameters(), strict=True):
            target.mul_(momentum).add_(source.detach(), alpha=1.0 - momentum)
        for target, source in zip(self.module.buffers(), online.buffers(), strict=True):
            target.copy_(source)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
