"""Activation checkpointing: trade compute for memory in training."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint


def maybe_checkpoint(function: Callable[[Tensor], Tensor], x: Tensor, *, enabled: bool) -> Tensor:
    """``function(x)``; when ``enabled`` and gradients flow, its activations are not kept
    but recomputed during backward (same values and gradients, less memory)."""
    if enabled and torch.is_grad_enabled():
        return checkpoint(function, x, use_reentrant=False)
    return function(x)
