"""Shared building blocks: norm/activation builders, ConvNormAct, drop path, LayerNorm2d."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.convnext import LayerNorm2d as TorchvisionLayerNorm2d
from torchvision.ops import Conv2dNormActivation, FrozenBatchNorm2d

from labcore.errors import ConfigError
from labcore.models.layers import (
    ConvNormAct,
    DropPath,
    LayerNorm2d,
    SyncBatchNorm,
    build_activation_layer,
    build_norm_layer,
    drop_path_rates,
)


@pytest.mark.parametrize(
    "cfg, cls",
    [
        (dict(type="BN"), nn.BatchNorm2d),
        (dict(type="SyncBN"), SyncBatchNorm),
        (dict(type="FrozenBN"), FrozenBatchNorm2d),
        (dict(type="GN", num_groups=4), nn.GroupNorm),
        (dict(type="LN2d", eps=1e-6), LayerNorm2d),
    ],
)
def test_build_norm_layer(cfg, cls):
    layer = build_norm_layer(cfg, 16)
    assert type(layer) is cls


def test_norm_options_are_passed_and_frozen_bn_has_no_parameters():
    bn = build_norm_layer(dict(type="BN", eps=1e-3, momentum=0.01, requires_grad=False), 8)
    assert bn.eps == 1e-3 and bn.momentum == 0.01 and not bn.weight.requires_grad
    assert build_norm_layer(dict(type="GN", num_groups=4), 8).num_groups == 4
    frozen = build_norm_layer(dict(type="FrozenBN"), 8)
    assert list(frozen.parameters()) == [] and "weight" in dict(frozen.named_buffers())


def test_unknown_types_suggest_close_matches():
    with pytest.raises(ConfigError, match="Did you mean: BN"):
        build_norm_layer(dict(type="bn"), 8)
    with pytest.raises(ConfigError, match="ReLU6"):
        build_activation_layer(dict(type="Relu6"))
    with pytest.raises(ConfigError, match="'type'"):
        build_norm_layer(dict(eps=1e-5), 8)


def test_conv_norm_act_loads_torchvision_weights_and_matches():
    torch.manual_seed(0)
    reference = Conv2dNormActivation(4, 8, 3, stride=2, activation_layer=nn.ReLU6).eval()
    ours = ConvNormAct(
        4, 8, 3, stride=2, norm_cfg=dict(type="BN"), act_cfg=dict(type="ReLU6")
    ).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 4, 9, 9)
    torch.testing.assert_close(ours(x), reference(x))
    plain = ConvNormAct(4, 8, 1)
    assert len(plain) == 1 and plain[0].bias is not None  # no norm: conv has a bias


def test_layer_norm_2d_matches_torchvision():
    torch.manual_seed(0)
    ours, reference = LayerNorm2d(6, eps=1e-6), TorchvisionLayerNorm2d(6, eps=1e-6)
    nn.init.normal_(reference.weight)
    nn.init.normal_(reference.bias)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 6, 5, 7)
    torch.testing.assert_close(ours(x), reference(x))


def test_drop_path_drops_whole_samples_and_keeps_expectation():
    torch.manual_seed(0)
    layer = DropPath(0.25)
    x = torch.ones(20000, 3, 2)
    out = layer(x)
    per_sample = out.flatten(1)
    assert torch.all(per_sample.amin(1) == per_sample.amax(1))  # one decision per sample
    torch.testing.assert_close(per_sample[:, 0].unique(), torch.tensor([0.0, 1 / 0.75]))
    assert abs(out.mean().item() - 1.0) < 0.02
    assert abs((per_sample[:, 0] == 0).float().mean().item() - 0.25) < 0.02
    layer.eval()
    assert torch.equal(layer(x), x)
    with pytest.raises(ValueError):
        DropPath(1.0)


def test_drop_path_rates_rise_linearly():
    assert drop_path_rates(0.3, 4) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert drop_path_rates(0.3, 1) == [0.0]
