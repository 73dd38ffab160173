"""Synchronised batch norm that also runs where there is nothing to synchronise with.

Segmentation configs name ``norm_cfg=dict(type='SyncBN')`` as MMSegmentation's do, for
multi-GPU training. The same config run in one process (a laptop, a test, ``lab train``
without a launcher), or on CPU tensors (gloo has no SyncBN), would fail inside
``torch.nn.SyncBatchNorm`` ("Default process group has not been initialized", "SyncBatchNorm
expected input tensor to be on GPU"). :class:`SyncBatchNorm` computes plain per-process
batch norm there instead and warns once per process.
"""

from __future__ import annotations

import warnings

import torch.distributed as dist
from torch import Tensor, nn

_warned = False


def can_synchronise(x: Tensor) -> bool:
    """Whether batch statistics of ``x`` can be synchronised: a process group of more than
    one process is initialised and ``x`` lives on an accelerator (not the CPU)."""
    return (
        dist.is_available()
        and dist.is_initialized()
        and dist.get_world_size() > 1
        and x.device.type != "cpu"
    )


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            "norm_cfg type 'SyncBN' runs as plain BatchNorm here: no process group of "
            "several processes on an accelerator to synchronise with (a single-process "
            "or CPU run). Statistics are computed per process; set norm_cfg=dict(type='BN') "
            "in the config to silence this warning.",
            UserWarning,
            stacklevel=3,
        )


class SyncBatchNorm(nn.SyncBatchNorm):
    """``nn.SyncBatchNorm`` that falls back to per-process batch norm, with one warning,
    when :func:`can_synchronise` is false.

    Same parameters, buffers and state-dict keys as ``nn.BatchNorm2d``.
    Input and output: Tensor[B, C, ...].
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and not can_synchronise(x):
            _warn_once()
            return nn.modules.batchnorm._BatchNorm.forward(self, x)
        return super().forward(x)
