"""MobileNetV2 against torchvision's mobilenet_v2 at widths 0.5, 0.75, 1.0 and 1.4."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from labcore.engine.checkpoint import strip_prefix
from labcore.errors import ConfigError
from labcore.models.backbones import MobileNetV2
from labcore.models.convert import (
    convert_torchvision_classifier,
    detect_torchvision_family,
)
from labcore.models.necks import GlobalAveragePooling
from labcore.registry import MODELS


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("widen_factor", [1.0, 0.5, 0.75, 1.4])
def test_logits_match_torchvision(widen_factor, calibrate_batch_norms):
    torch.manual_seed(0)
    reference = torchvision.models.mobilenet_v2(weights=None, width_mult=widen_factor)
    calibrate_batch_norms(reference, torch.randn(4, 3, 64, 64))
    state_dict = reference.state_dict()
    assert detect_torchvision_family(state_dict) == "mobilenet_v2"
    weights = convert_torchvision_classifier(state_dict, "mobilenet_v2")
    model = MODELS.build(dict(type="MobileNetV2", widen_factor=widen_factor)).eval()
    model.load_state_dict(strip_prefix(weights, "backbone."), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference(x)
        assert 0.1 < expected.std() < 10  # O(1) logits: atol=1e-5 is a tight check
        pooled = GlobalAveragePooling()(model(x))[0]
        logits = pooled @ weights["head.fc.weight"].T + weights["head.fc.bias"]
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("widen_factor", [1.0, 0.5, 1.4])
def test_parameter_count_matches_torchvision(widen_factor):
    with torch.device("meta"):
        model = MobileNetV2(widen_factor=widen_factor)
        reference = torchvision.models.mobilenet_v2(width_mult=widen_factor)
    head = model.out_channels[0] * 1000 + 1000
    assert num_params(model) + head == num_params(reference)
    if widen_factor == 1.0:
        assert num_params(model) + head == 3_504_872


def test_stage_outputs_shapes():
    with torch.device("meta"):
        model = MobileNetV2(out_indices=tuple(range(8)))
        outs = model(torch.randn(1, 3, 64, 64))
    channels = (16, 24, 32, 64, 96, 160, 320, 1280)
    strides = (2, 4, 8, 16, 16, 32, 32, 32)
    assert model.out_channels == channels
    assert [tuple(o.shape) for o in outs] == [
        (1, c, 64 // s, 64 // s) for c, s in zip(channels, strides)
    ]


def test_frozen_stages_and_norm_eval():
    model = MobileNetV2(frozen_stages=2, norm_eval=True).train()
    frozen = model.features[: model.stage_ends[1] + 1]  # stem, stage 0 and stage 1
    assert all(not p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in model.features[model.stage_ends[1] + 1].parameters())
    assert all(not m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_invalid_out_indices():
    with pytest.raises(ConfigError, match="0..7"):
        MobileNetV2(out_indices=(8,))


def test_strides_keep_larger_maps_with_the_same_weights():
    default = MobileNetV2(widen_factor=0.5, out_indices=(1, 7)).eval()
    small_images = MobileNetV2(
        widen_factor=0.5, out_indices=(1, 7), strides=(2, 1, 2, 2, 2, 1, 1, 1)
    )
    small_images.load_state_dict(default.state_dict())  # strides do not change the weights
    small_images.eval()
    x = torch.randn(1, 3, 32, 32)
    assert [f.shape[-1] for f in default(x)] == [8, 1]
    assert [f.shape[-1] for f in small_images(x)] == [8, 2]
    with pytest.raises(ConfigError, match="8 values of 1 or 2"):
        MobileNetV2(strides=(2, 1, 2))
