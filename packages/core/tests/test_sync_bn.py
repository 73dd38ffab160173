"""SyncBN falls back to plain batch norm, with one warning, in a single-process run."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from labcore.models.layers import SyncBatchNorm, build_norm_layer, sync_bn


@pytest.fixture
def fresh_warning(monkeypatch):
    monkeypatch.setattr(sync_bn, "_warned", False)


def test_sync_bn_trains_like_batch_norm_without_a_process_group(fresh_warning):
    torch.manual_seed(0)
    sync = build_norm_layer(dict(type="SyncBN"), 8)
    plain = nn.BatchNorm2d(8)
    plain.load_state_dict(sync.state_dict())
    x = torch.randn(4, 8, 5, 5)
    with pytest.warns(UserWarning, match="SyncBN.*plain BatchNorm"):
        out = sync.train()(x)
    torch.testing.assert_close(out, plain.train()(x), rtol=0, atol=0)
    torch.testing.assert_close(sync.running_mean, plain.running_mean)
    torch.testing.assert_close(sync.running_var, plain.running_var)


def test_sync_bn_warns_once_per_process(fresh_warning):
    layer = SyncBatchNorm(4)
    x = torch.randn(2, 4, 3, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer.train()(x)
        layer(x)
        SyncBatchNorm(4).train()(x)
    assert len([w for w in caught if "SyncBN" in str(w.message)]) == 1


def test_sync_bn_in_eval_mode_uses_running_statistics(fresh_warning):
    layer = SyncBatchNorm(3).eval()
    layer.running_mean.fill_(1.0)
    layer.running_var.fill_(4.0)
    x = torch.full((1, 3, 2, 2), 3.0)
    torch.testing.assert_close(layer(x), torch.full_like(x, 1.0), atol=1e-4, rtol=0)
