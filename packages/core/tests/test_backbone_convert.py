"""State-dict converters (torchvision, OpenMMLab) and the ``lab convert`` command."""

from __future__ import annotations

import argparse

import pytest
import torch
import torchvision
from safetensors.torch import load_file

from labcore.cli import convert as convert_cli
from labcore.engine.checkpoint import load_state_dict, read_checkpoint, strip_prefix
from labcore.errors import CheckpointError, ConfigError
from labcore.models.backbones import ConvNeXt, MobileNetV2, ResNet, ResNetV1d, VisionTransformer
from labcore.models.convert import (
    convert_classifier,
    convert_openmmlab_classifier,
    convert_torchvision_classifier,
    detect_torchvision_family,
)

# OpenMMLab MobileNetV2: (expand ratio, output channels, blocks) of layer1 .. layer7
MMPRETRAIN_MOBILENET_V2 = [(1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3),
                           (6, 160, 3), (6, 320, 1)]  # fmt: skip


def bn_entries(prefix: str, channels: int) -> dict[str, torch.Tensor]:
    return {
        f"{prefix}.weight": torch.rand(channels),
        f"{prefix}.bias": torch.rand(channels),
        f"{prefix}.running_mean": torch.rand(channels),
        f"{prefix}.running_var": torch.rand(channels),
        f"{prefix}.num_batches_tracked": torch.tensor(3),
    }


def mmpretrain_mobilenet_v2_state_dict() -> dict[str, torch.Tensor]:
    """A state dict in OpenMMLab's MobileNetV2 layout (ConvModule: ``conv``, ``bn``)."""
    sd = {
        "backbone.conv1.conv.weight": torch.rand(32, 3, 3, 3),
        **bn_entries("backbone.conv1.bn", 32),
    }
    channels = 32
    for stage, (ratio, out, blocks) in enumerate(MMPRETRAIN_MOBILENET_V2, start=1):
        for block in range(blocks):
            hidden = channels * ratio
            convs = [] if ratio == 1 else [(channels, hidden, 1, 1)]
            convs += [(hidden, hidden, 3, hidden), (hidden, out, 1, 1)]
            for k, (cin, cout, size, groups) in enumerate(convs):
                prefix = f"backbone.layer{stage}.{block}.conv.{k}"
                sd[f"{prefix}.conv.weight"] = torch.rand(cout, cin // groups, size, size)
                sd.update(bn_entries(f"{prefix}.bn", cout))
            channels = out
    sd["backbone.conv2.conv.weight"] = torch.rand(1280, 320, 1, 1)
    sd.update(bn_entries("backbone.conv2.bn", 1280))
    sd.update({"head.fc.weight": torch.rand(1000, 1280), "head.fc.bias": torch.rand(1000)})
    return sd


def test_openmmlab_mobilenet_v2_loads_into_torchvision_layout():
    sd = mmpretrain_mobilenet_v2_state_dict()
    converted = convert_openmmlab_classifier(sd, "mobilenet_v2")
    load_state_dict(MobileNetV2(), strip_prefix(converted, "backbone."))  # names and shapes
    pairs = {
        "backbone.layer1.0.conv.0.conv.weight": "backbone.features.1.conv.0.0.weight",  # depthwise
        "backbone.layer1.0.conv.1.bn.bias": "backbone.features.1.conv.2.bias",  # projection norm
        "backbone.layer2.1.conv.0.conv.weight": "backbone.features.3.conv.0.0.weight",  # expand
        "backbone.layer7.0.conv.2.conv.weight": "backbone.features.17.conv.2.weight",
        "backbone.conv2.bn.running_var": "backbone.features.18.1.running_var",
    }
    for source, target in pairs.items():
        assert converted[target] is sd[source]
    assert converted["head.fc.weight"] is sd["head.fc.weight"]


def test_openmmlab_deep_stem_resnet_round_trip():
    torch.manual_seed(0)
    model = ResNetV1d(depth=18).eval()
    for bn in model.modules():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.running_var.uniform_(0.5, 1.5)
    mm = {}
    for key, value in model.state_dict().items():  # OpenMMLab names its stem ConvModules
        parts = key.split(".")
        if parts[0] == "stem":
            parts[2] = {"0": "conv", "1": "bn"}[parts[2]]
        mm["backbone." + ".".join(parts)] = value
    assert "backbone.stem.2.bn.running_var" in mm and "backbone.layer2.0.downsample.1.weight" in mm
    mm.update({"head.fc.weight": torch.rand(10, 512), "head.fc.bias": torch.rand(10)})
    converted = convert_openmmlab_classifier(mm, "resnet")
    loaded = ResNetV1d(depth=18).eval()
    load_state_dict(loaded, strip_prefix(converted, "backbone."))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], model(x)[0])


def test_openmmlab_vit_and_convnext_names():
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, mlp_dims=64)
    vit = VisionTransformer(arch=arch, img_size=32, patch_size=8)
    renames = {"patch_embed.": "patch_embed.projection.", "ffn.fc1.": "ffn.layers.0.0.",
               "ffn.fc2.": "ffn.layers.1."}  # fmt: skip
    mm = {}
    for key, value in vit.state_dict().items():
        for ours, theirs in renames.items():
            key = key.replace(ours, theirs)
        mm[f"backbone.{key}"] = value
    mm.update(
        {"head.layers.head.weight": torch.rand(5, 32), "head.layers.head.bias": torch.rand(5)}
    )
    assert "backbone.layers.1.ffn.layers.0.0.weight" in mm
    converted = convert_openmmlab_classifier(mm, "vit")
    load_state_dict(vit, strip_prefix(converted, "backbone."))
    assert set(strip_prefix(converted, "head.")) == {"layers.head.weight", "layers.head.bias"}

    convnext = ConvNeXt(arch=dict(depths=(1, 1), channels=(8, 16)), out_indices=(1,))
    mm = {f"backbone.{k}": v for k, v in convnext.state_dict().items()}
    assert "backbone.stages.1.0.pointwise_conv1.weight" in mm and "backbone.norm1.weight" in mm
    assert convert_openmmlab_classifier(mm, "convnext") == mm


def test_wrong_family_names_the_unconvertible_keys():
    sd = torchvision.models.resnet18().state_dict()
    with pytest.raises(
        CheckpointError, match=r"122 keys .*conv1\.weight.* and 112 more\. .*--family"
    ):
        convert_torchvision_classifier(sd, "mobilenet_v2")
    with pytest.raises(CheckpointError, match="pass --family"):
        detect_torchvision_family({"weird.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match="resnet, resnext"):
        convert_classifier(sd, source="torchvision", family="resnet9")
    with pytest.raises(ConfigError, match="openmmlab"):
        convert_classifier(sd, source="timm")


def test_mismatched_state_dict_reports_keys_by_name():
    model = ResNet(depth=18)
    sd = torchvision.models.resnet18().state_dict()
    del sd["layer1.0.bn1.bias"]
    with pytest.raises(CheckpointError) as err:
        load_state_dict(model, sd)
    message = str(err.value)
    assert "missing keys (1): layer1.0.bn1.bias" in message
    assert "unexpected keys (2): fc.weight, fc.bias" in message
    assert "convert_classifier" in message
    missing, unexpected = load_state_dict(model, sd, strict=False)
    assert missing == ["layer1.0.bn1.bias"] and unexpected == ["fc.weight", "fc.bias"]


def run_convert(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    convert_cli.add_arguments(parser)
    return convert_cli.run(parser.parse_args(list(argv)))


def test_lab_convert_writes_safetensors(tmp_path, capsys):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18()
    src = tmp_path / "resnet18.pth"
    torch.save({"state_dict": reference.state_dict()}, src)
    assert run_convert("--from", "torchvision", str(src), str(tmp_path / "full.safetensors")) == 0
    assert "wrote 122 tensors" in capsys.readouterr().out
    full = load_file(str(tmp_path / "full.safetensors"))
    torch.testing.assert_close(full["head.fc.weight"], reference.fc.weight)
    assert all(k.startswith(("backbone.", "head.fc.")) for k in full)

    out = tmp_path / "backbone.safetensors"
    run_convert(
        "--from", "torchvision", "--family", "resnet", "--backbone-only", str(src), str(out)
    )
    model = ResNet(depth=18)
    load_state_dict(model, read_checkpoint(out).state_dict)
    torch.testing.assert_close(model.conv1.weight, reference.conv1.weight)


def test_lab_convert_refuses_missing_and_non_tensor_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        run_convert("--from", "torchvision", str(tmp_path / "nope.pth"), str(tmp_path / "o.st"))
    bad = tmp_path / "bad.pth"
    torch.save({"state_dict": {"a": object()}}, bad)
    with pytest.raises(CheckpointError, match=r"bad\.pth.*re-save the weights as a plain state"):
        read_checkpoint(bad)
