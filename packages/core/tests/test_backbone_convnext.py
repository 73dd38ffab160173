"""ConvNeXt against torchvision's convnext_tiny, _small, _base and _large (through the
converter) and published parameter counts."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from labcore.engine.checkpoint import load_state_dict, strip_prefix
from labcore.errors import ConfigError
from labcore.models.backbones import ConvNeXt
from labcore.models.convert import (
    convert_torchvision_classifier,
    detect_torchvision_family,
)
from labcore.models.necks import GlobalAveragePooling
from labcore.registry import MODELS


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    "arch, channels",
    [
        ("tiny", 768),
        ("small", 768),
        pytest.param("base", 1024, marks=pytest.mark.slow),  # 2 to 9 s on a shared 2-core CPU
        pytest.param("large", 1536, marks=pytest.mark.slow),
    ],
)
def test_logits_match_torchvision(arch, channels):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, f"convnext_{arch}")(weights=None).eval()
    for name, param in reference.named_parameters():  # layer scale and norms away from init
        if "layer_scale" in name or "classifier.0" in name:
            param.data.uniform_(0.5, 1.5)
    state_dict = reference.state_dict()
    assert detect_torchvision_family(state_dict) == "convnext"
    weights = convert_torchvision_classifier(state_dict, "convnext")
    model = MODELS.build(dict(type="ConvNeXt", arch=arch)).eval()
    load_state_dict(model, strip_prefix(weights, "backbone."))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference(x)
        assert 0.1 < expected.std() < 10  # O(1) logits: atol=1e-5 is a tight check
        features = model(x)
        assert features[0].shape == (2, channels, 1, 1)  # pooled, then normalized
        pooled = GlobalAveragePooling()(features)[0]
        logits = pooled @ weights["head.fc.weight"].T + weights["head.fc.bias"]
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "arch, published",
    [("tiny", 28_589_128), ("small", 50_223_688), ("base", 88_591_464), ("large", 197_767_336)],
)
def test_parameter_count_with_1000_class_head_is_published(arch, published):
    with torch.device("meta"):
        model = ConvNeXt(arch=arch)
    channels = model.out_channels[0]
    assert num_params(model) + channels * 1000 + 1000 == published


def test_dense_outputs_for_detection():
    with torch.device("meta"):
        model = ConvNeXt(arch="tiny", out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
        outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [
        (1, 96, 16, 16),
        (1, 192, 8, 8),
        (1, 384, 4, 4),
        (1, 768, 2, 2),
    ]


def test_drop_path_rates_and_layer_scale():
    with torch.device("meta"):
        model = ConvNeXt(arch="tiny", drop_path_rate=0.4)
    rates = [block.drop_path.drop_prob for stage in model.stages for block in stage]
    torch.testing.assert_close(torch.tensor(rates), torch.linspace(0, 0.4, 18))
    tiny_arch = dict(depths=(1, 1), channels=(8, 16))
    scaled = ConvNeXt(arch=tiny_arch, out_indices=(1,), layer_scale_init_value=1e-3)
    assert torch.all(scaled.stages[1][0].gamma == 1e-3)
    assert (
        ConvNeXt(arch=tiny_arch, out_indices=(1,), layer_scale_init_value=0).stages[0][0].gamma
        is None
    )
    # stochastic depth is random in training and off in eval
    small = ConvNeXt(arch=tiny_arch, out_indices=(1,), drop_path_rate=0.9)
    for p in small.parameters():
        nn.init.normal_(p, std=0.5)
    x = torch.randn(4, 3, 32, 32)
    small.eval()
    torch.testing.assert_close(small(x)[0], small(x)[0])
    small.train()
    torch.manual_seed(0)
    a = small(x)[0]
    torch.manual_seed(1)
    assert not torch.allclose(a, small(x)[0])


def test_frozen_stages():
    with torch.device("meta"):
        model = ConvNeXt(arch="tiny", frozen_stages=2).train()
    assert all(not p.requires_grad for p in model.downsample_layers[1].parameters())
    assert all(not p.requires_grad for p in model.stages[1].parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    assert not model.stages[0].training and model.stages[2].training


def test_unknown_arch_lists_the_choices():
    with pytest.raises(ConfigError, match="tiny"):
        ConvNeXt(arch="huge")
