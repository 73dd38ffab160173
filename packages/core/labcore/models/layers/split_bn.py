"""Batch norm over parts of the batch: one process with the statistics of several devices.

A network trained on ``G`` devices with per-device BatchNorm normalises each device's
share of the batch by that share's own mean and variance. Some methods depend on it: MoCo
shuffles the key encoder's batch across devices so that a query and its positive key are
never normalised by the same statistics, which would otherwise let the encoders match
views by the statistics alone rather than learn features. ``norm_cfg=dict(type='SplitBN',
num_splits=G)`` gives one process the same behaviour: in training, sample ``i`` of the
batch is normalised with the samples ``j`` where ``j % G == i % G``; the running
statistics are the mean of the ``G`` parts' updates. In eval mode it is a plain
``BatchNorm2d``, and its state dict is a ``BatchNorm2d``'s, so weights load into a network
built with ``type='BN'``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from labcore.errors import ConfigError


class SplitBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics come from ``num_splits`` interleaved
    parts of the batch (see the module docstring).

    Args:
        num_features: C.
        num_splits: G, the devices emulated; the batch size must be a multiple of it.
        **kwargs: ``eps``, ``momentum``, ``affine`` as for ``BatchNorm2d``.

    Input and output: Tensor[B, C, H, W].
    """

    def __init__(self, num_features: int, num_splits: int, **kwargs):
        super().__init__(num_features, **kwargs)
        if num_splits < 1:
            raise ConfigError(f"SplitBN num_splits must be at least 1, got {num_splits}.")
        self.num_splits = int(num_splits)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.num_splits == 1:
            return super().forward(x)
        batch, channels, height, width = x.shape
        splits = self.num_splits
        if batch % splits:
            raise ValueError(
                f"SplitBN: a batch of {batch} does not split into {splits} equal parts; use a "
                f"batch size that is a multiple of num_splits={splits}."
            )
        if self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        momentum = self.momentum
        if momentum is None:  # cumulative average, as BatchNorm2d computes it
            momentum = 1.0 / float(self.num_batches_tracked)
        # [B, C, H, W] -> [B / G, G * C, H, W]: channel block g holds the samples i % G == g.
        mean = self.running_mean.repeat(splits) if self.running_mean is not None else None
        var = self.running_var.repeat(splits) if self.running_var is not None else None
        weight = self.weight.repeat(splits) if self.weight is not None else None
        bias = self.bias.repeat(splits) if self.bias is not None else None
        out = F.batch_norm(
            x.reshape(batch // splits, splits * channels, height, width),
            mean,
            var,
            weight,
            bias,
            training=True,
            momentum=momentum,
            eps=self.eps,
        )
        if mean is not None:
            self.running_mean.copy_(mean.view(splits, channels).mean(dim=0))
            self.running_var.copy_(var.view(splits, channels).mean(dim=0))
        return out.view(batch, channels, height, width)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_splits={self.num_splits}"
