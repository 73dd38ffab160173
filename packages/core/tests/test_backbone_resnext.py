"""ResNeXt against torchvision's ResNeXt-50 (32x4d) and -101 (32x8d, 64x4d) and published
parameter counts."""

from __future__ import annotations

import pytest
import torch
import torchvision

from labcore.engine.checkpoint import strip_prefix
from labcore.errors import ConfigError
from labcore.models.backbones import ResNeXt
from labcore.models.convert import (
    convert_torchvision_classifier,
    detect_torchvision_family,
)
from labcore.models.necks import GlobalAveragePooling
from labcore.registry import MODELS


@pytest.mark.parametrize(
    "name, cfg",
    [
        ("resnext50_32x4d", dict(depth=50, groups=32, width_per_group=4)),
        pytest.param(
            "resnext101_32x8d",
            dict(depth=101, groups=32, width_per_group=8),
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "resnext101_64x4d",
            dict(depth=101, groups=64, width_per_group=4),
            marks=pytest.mark.slow,
        ),
    ],
)
def test_logits_match_torchvision(name, cfg, calibrate_batch_norms):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None)
    calibrate_batch_norms(reference, torch.randn(4, 3, 64, 64))
    state_dict = reference.state_dict()
    assert detect_torchvision_family(state_dict) == "resnext"
    weights = convert_torchvision_classifier(state_dict, "resnext")
    model = MODELS.build(dict(type="ResNeXt", **cfg)).eval()
    model.load_state_dict(strip_prefix(weights, "backbone."), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference(x)
        assert 0.1 < expected.std() < 10  # O(1) logits: atol=1e-5 is a tight check
        pooled = GlobalAveragePooling()(model(x))[0]
        logits = pooled @ weights["head.fc.weight"].T + weights["head.fc.bias"]
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "cfg, published",
    [
        (dict(depth=50, groups=32, width_per_group=4), 25_028_904),
        (dict(depth=101, groups=32, width_per_group=8), 88_791_336),
        (dict(depth=101, groups=64, width_per_group=4), 83_455_272),
    ],
)
def test_parameter_count_with_1000_class_head_is_published(cfg, published):
    with torch.device("meta"):
        model = ResNeXt(**cfg)
    params = sum(p.numel() for p in model.parameters())
    assert params + 2048 * 1000 + 1000 == published


def test_grouped_bottleneck_width():
    model = ResNeXt(depth=50, groups=32, width_per_group=4)
    conv = model.layer1[0].conv2
    assert conv.groups == 32 and conv.in_channels == 128  # int(64 * 4 / 64) * 32


def test_basic_block_depths_are_refused():
    with pytest.raises(ConfigError, match="depth 18"):
        ResNeXt(depth=18)
