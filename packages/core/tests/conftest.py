"""Fixtures shared by labcore's tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def _calibrate_batch_norms(model: nn.Module, x: torch.Tensor) -> None:
    """Running statistics of every BatchNorm2d set to those of a forward pass over ``x``
    (Tensor[B, 3, H, W]), as after training: non-trivial means and variances that keep
    the activations of deep networks near unit scale, so logits stay O(1) and an absolute
    tolerance means the same for every depth."""
    for bn in model.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: the statistics of this one batch
    with torch.no_grad():
        model.train()(x)
    model.eval()


@pytest.fixture
def calibrate_batch_norms():
    """:func:`_calibrate_batch_norms`, for tests that compare logits with torchvision's."""
    return _calibrate_batch_norms
