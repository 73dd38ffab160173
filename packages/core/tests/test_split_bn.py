"""SplitBN against its definition: G plain BatchNorm2d layers, each on its part of the
batch (samples i % G == g), as G devices would compute it."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from labcore.models.layers import build_norm_layer
from labcore.models.layers.split_bn import SplitBatchNorm2d


def reference_step(bn: nn.BatchNorm2d, x: torch.Tensor, splits: int):
    """Output of G copies of ``bn``, one per part, and the mean of their running stats."""
    out = torch.empty_like(x)
    means, variances = [], []
    for g in range(splits):
        part = copy.deepcopy(bn).train()
        out[g::splits] = part(x[g::splits])
        means.append(part.running_mean)
        variances.append(part.running_var)
    return out, torch.stack(means).mean(0), torch.stack(variances).mean(0)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_each_part_is_normalised_by_its_own_statistics(momentum):
    torch.manual_seed(0)
    x = torch.randn(12, 5, 4, 3, dtype=torch.float64) * 3 + torch.arange(12.0)[:, None, None, None]
    split = build_norm_layer(dict(type="SplitBN", num_splits=4, momentum=momentum), 5).double()
    assert isinstance(split, SplitBatchNorm2d)
    with torch.no_grad():
        split.weight.uniform_(0.5, 2.0)
        split.bias.uniform_(-1.0, 1.0)
    plain = nn.BatchNorm2d(5, momentum=momentum).double()
    plain.load_state_dict(split.state_dict())  # the same state dict as plain BatchNorm2d
    for _ in range(2):  # the running statistics carry over from one step to the next
        expected, mean, var = reference_step(plain, x, 4)
        out = split.train()(x)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
        torch.testing.assert_close(split.running_mean, mean, rtol=0, atol=1e-12)
        torch.testing.assert_close(split.running_var, var, rtol=0, atol=1e-12)
        plain.load_state_dict(split.state_dict())
    full = nn.BatchNorm2d(5).double().train()(x)
    assert not torch.allclose(out, full)  # not the whole batch's statistics
    plain.eval()
    torch.testing.assert_close(split.eval()(x), plain(x), rtol=0, atol=1e-12)


def test_gradients_flow_and_a_batch_that_does_not_split_is_named():
    split = SplitBatchNorm2d(3, num_splits=2)
    x = torch.randn(4, 3, 2, 2, requires_grad=True)
    split(x).square().sum().backward()
    assert x.grad is not None and split.weight.grad is not None
    with pytest.raises(ValueError, match="batch of 5 does not split into 2"):
        split(torch.randn(5, 3, 2, 2))
