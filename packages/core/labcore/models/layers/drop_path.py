"""Stochastic depth: drop whole residual branches per sample during training."""

from __future__ import annotations

from torch import Tensor, nn


def drop_path(x: Tensor, drop_prob: float, training: bool) -> Tensor:
    """Zero the branch ``x`` for a random subset of samples, rescaling the others.

    Each sample of the batch (dim 0) is kept with probability ``1 - drop_prob`` and then
    divided by it, so the expectation is unchanged. Identity when not training or when
    ``drop_prob`` is 0. ``x``: Tensor[B, ...]; returns the same shape.
    """
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = x.new_empty(shape).bernoulli_(keep_prob)
    return x * mask / keep_prob


class DropPath(nn.Module):
    """Module form of :func:`drop_path` (the "row" mode of torchvision's StochasticDepth)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


def drop_path_rates(drop_path_rate: float, num_blocks: int) -> list[float]:
    """Rates rising linearly from 0 for the first block to ``drop_path_rate`` for the last."""
    if num_blocks == 1:
        return [0.0]
    return [drop_path_rate * i / (num_blocks - 1) for i in range(num_blocks)]
