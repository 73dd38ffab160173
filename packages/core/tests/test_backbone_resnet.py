"""ResNet, ResNetV1c and ResNetV1d against torchvision and published parameter counts."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from labcore.engine.checkpoint import strip_prefix
from labcore.errors import ConfigError
from labcore.models.backbones import ResNet, ResNetV1c, ResNetV1d
from labcore.models.convert import (
    convert_torchvision_classifier,
    detect_torchvision_family,
)
from labcore.models.necks import GlobalAveragePooling
from labcore.registry import MODELS
from labcore.zoo.weights import save_safetensors


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_on_meta(cfg: dict) -> nn.Module:
    with torch.device("meta"):
        return MODELS.build(cfg)


def classifier_logits(backbone: nn.Module, head: dict, x: torch.Tensor) -> torch.Tensor:
    """Backbone -> GlobalAveragePooling -> linear head with torchvision's fc weights."""
    pooled = GlobalAveragePooling()(backbone(x))[-1]
    return pooled @ head["head.fc.weight"].T + head["head.fc.bias"]


# every torchvision ResNet our ResNet builds: (torchvision name, our config); each takes
# about a second, the 127 M-parameter wide_resnet101_2 more (slow)
TORCHVISION_RESNETS = [
    ("resnet18", dict(depth=18)),
    ("resnet34", dict(depth=34)),
    ("resnet50", dict(depth=50)),
    ("resnet101", dict(depth=101)),
    ("resnet152", dict(depth=152)),
    ("wide_resnet50_2", dict(depth=50, width_per_group=128)),
    pytest.param("wide_resnet101_2", dict(depth=101, width_per_group=128), marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name, cfg", TORCHVISION_RESNETS)
def test_logits_match_torchvision(name, cfg, calibrate_batch_norms):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None)
    calibrate_batch_norms(reference, torch.randn(4, 3, 64, 64))
    state_dict = reference.state_dict()
    assert detect_torchvision_family(state_dict) == "resnet"
    model = MODELS.build(dict(type="ResNet", **cfg)).eval()
    weights = convert_torchvision_classifier(state_dict, "resnet")
    model.load_state_dict(strip_prefix(weights, "backbone."), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference(x)
        assert 0.1 < expected.std() < 10  # O(1) logits: atol=1e-5 is a tight check
        torch.testing.assert_close(
            classifier_logits(model, weights, x), expected, atol=1e-5, rtol=0
        )


@pytest.mark.parametrize(
    "cfg, published",
    [
        (dict(type="ResNet", depth=18), 11_689_512),
        (dict(type="ResNet", depth=34), 21_797_672),
        (dict(type="ResNet", depth=50), 25_557_032),
        (dict(type="ResNet", depth=101), 44_549_160),
        (dict(type="ResNet", depth=152), 60_192_808),
        (dict(type="ResNet", depth=50, width_per_group=128), 68_883_240),  # wide_resnet50_2
        (dict(type="ResNet", depth=101, width_per_group=128), 126_886_696),  # wide_resnet101_2
        (dict(type="ResNetV1c", depth=50), 25_576_264),  # deep stem: 32, 32, 64 channels
        (dict(type="ResNetV1d", depth=50), 25_576_264),  # avg_down adds no parameters
    ],
)
def test_parameter_count_with_1000_class_head_is_published(cfg, published):
    model = build_on_meta(cfg)
    assert num_params(model) + model.out_channels[-1] * 1000 + 1000 == published


def test_frozen_bn_parameter_count_matches_torchvision_detection_backbone():
    model = build_on_meta(dict(type="ResNet", depth=50, norm_cfg=dict(type="FrozenBN")))
    with torch.device("meta"):
        reference = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    assert num_params(model) == num_params(reference) - num_params(reference.fc)
    assert num_params(model) == 23_454_912  # the BN affine values are buffers


def test_frozen_bn_loads_torchvision_weights_and_matches_eval_bn():
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    for bn in reference.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.weight.data.uniform_(0.5, 1.5)
            bn.running_var.uniform_(0.5, 1.5)
    frozen = ResNet(depth=18, norm_cfg=dict(type="FrozenBN"), out_indices=(0, 1, 2, 3))
    plain = ResNet(depth=18, out_indices=(0, 1, 2, 3)).eval()
    backbone = strip_prefix(
        convert_torchvision_classifier(reference.state_dict(), "resnet"), "backbone."
    )
    frozen.load_state_dict(backbone)
    plain.load_state_dict(backbone)
    frozen.train()  # FrozenBN ignores the mode
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(frozen(x), plain(x)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("model_type", ["ResNet", "ResNetV1c", "ResNetV1d"])
def test_outputs_shapes_and_channels(model_type):
    model = build_on_meta(dict(type=model_type, depth=50, out_indices=(0, 1, 2, 3))).eval()
    outs = model(torch.randn(2, 3, 64, 64, device="meta"))
    assert [tuple(o.shape) for o in outs] == [
        (2, 256, 16, 16),
        (2, 512, 8, 8),
        (2, 1024, 4, 4),
        (2, 2048, 2, 2),
    ]
    assert model.out_channels == (256, 512, 1024, 2048)


def test_deep_stem_and_avg_down_layout():
    v1c = ResNetV1c(depth=50)
    v1d = ResNetV1d(depth=50)
    assert not hasattr(v1c, "conv1")
    assert [v1c.stem[i][0].out_channels for i in range(3)] == [32, 32, 64]
    assert v1c.stem[0][0].stride == (2, 2)
    assert isinstance(v1c.layer2[0].downsample[0], nn.Conv2d)
    assert v1c.layer2[0].downsample[0].stride == (2, 2)
    pool, conv = v1d.layer2[0].downsample[0], v1d.layer2[0].downsample[1]
    assert isinstance(pool, nn.AvgPool2d) and pool.stride == 2
    assert conv.stride == (1, 1)
    # stride-1 shortcut of layer1: no pooling, conv at index 0 (as in OpenMMLab)
    assert isinstance(v1d.layer1[0].downsample[0], nn.Conv2d)


def test_avg_down_shortcut_is_pool_then_conv():
    torch.manual_seed(0)
    model = ResNetV1d(depth=50).eval()
    downsample = model.layer3[0].downsample
    x = torch.randn(1, 512, 9, 9)  # odd size: ceil_mode keeps the last row and column
    expected = downsample[2](
        downsample[1](nn.functional.avg_pool2d(x, 2, 2, ceil_mode=True, count_include_pad=False))
    )
    torch.testing.assert_close(downsample(x), expected)
    assert downsample(x).shape[-2:] == (5, 5)


def test_frozen_stages_stop_gradients_and_keep_bn_in_eval():
    model = ResNet(depth=18, frozen_stages=1)
    model.train()
    frozen = [model.conv1, model.bn1, model.layer1]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for m in frozen[1:] for m in m.modules())
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert model.layer2[0].bn1.training
    model(torch.randn(2, 3, 32, 32))[0].sum().backward()
    assert model.conv1.weight.grad is None and model.layer2[0].conv1.weight.grad is not None


def test_frozen_stage_zero_freezes_only_the_stem():
    model = ResNetV1c(depth=18, frozen_stages=0).train()
    assert all(not p.requires_grad for p in model.stem.parameters())
    assert all(p.requires_grad for p in model.layer1.parameters())


def test_norm_eval_keeps_running_statistics():
    model = ResNet(depth=18, norm_eval=True)
    model.train()
    assert all(not m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert model.conv1.weight.requires_grad  # norm_eval freezes statistics, not weights
    before = model.layer3[0].bn1.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(model.layer3[0].bn1.running_mean, before)
    model.eval()
    model.train(False)
    assert not model.training


def test_zero_init_residual_matches_torchvision():
    for depth, last_bn in [(18, "bn2"), (50, "bn3")]:
        model = ResNet(depth=depth, zero_init_residual=True)
        reference = getattr(torchvision.models, f"resnet{depth}")(zero_init_residual=True)
        for stage in ("layer1", "layer4"):
            ours = getattr(getattr(model, stage)[0], last_bn).weight
            theirs = getattr(getattr(reference, stage)[0], last_bn).weight
            torch.testing.assert_close(ours, theirs)
            assert ours.abs().sum() == 0


def test_dilation_keeps_resolution():
    cfg = dict(type="ResNet", depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
    model = build_on_meta(cfg)
    assert model.layer4[1].conv2.dilation == (4, 4)
    assert model(torch.randn(1, 3, 64, 64, device="meta"))[0].shape == (1, 2048, 8, 8)


def test_pretrained_init_cfg_loads_backbone_weights(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18()
    path = tmp_path / "resnet18_openlab.safetensors"  # what `lab convert` writes
    save_safetensors(convert_torchvision_classifier(reference.state_dict(), "resnet"), path, None)
    model = MODELS.build(
        dict(
            type="ResNet",
            depth=18,
            init_cfg=dict(type="Pretrained", checkpoint=str(path), prefix="backbone."),
        )
    )
    model.init_weights()
    torch.testing.assert_close(model.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(depth=42), ["depth 42", "18, 34, 50, 101, 152"]),
        (dict(depth=50, out_indices=(4,)), ["out_indices", "0..3"]),
        (dict(depth=50, frozen_stages=7), ["frozen_stages"]),
        (dict(depth=18, norm_cfg=dict(type="BatchNorm")), ["BatchNorm", "BN"]),
    ],
)
def test_invalid_arguments_name_the_problem(kwargs, words):
    with pytest.raises(ConfigError) as err:
        ResNet(**kwargs)
    assert all(w in str(err.value) for w in words)
