"""Dilated ResNet (output stride 8 and 16) against torchvision's replace_stride_with_dilation,
and the MiT encoders of SegFormer."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import resnet18, resnet50

from labcore.errors import ConfigError
from labcore.models.backbones import MixVisionTransformer, ResNet, ResNetV1c
from labcore.models.backbones.mit import MIT_ARCHS

DILATED = {  # output stride: (torchvision's replace_stride_with_dilation, strides, dilations)
    8: ([False, True, True], (1, 2, 1, 1), (1, 1, 2, 4)),
    16: ([False, False, True], (1, 2, 2, 1), (1, 1, 1, 2)),
}


@pytest.mark.parametrize("output_stride", [8, 16])
def test_dilated_resnet50_matches_torchvision(output_stride, calibrate_batch_norms, one_thread):
    replace, strides, dilations = DILATED[output_stride]
    torch.manual_seed(0)
    reference = resnet50(replace_stride_with_dilation=replace)
    ours = ResNet(depth=50, strides=strides, dilations=dilations, contract_dilation=True,
                  out_indices=(0, 1, 2, 3))  # fmt: skip
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    x = torch.randn(1, 3, 64, 64)
    calibrate_batch_norms(reference, x)
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    ours.load_state_dict(state)
    ours.eval()
    with torch.no_grad():
        outs = ours(x)
        r = reference
        y = r.maxpool(r.relu(r.bn1(r.conv1(x))))
        expected = []
        for layer in (r.layer1, r.layer2, r.layer3, r.layer4):
            y = layer(y)
            expected.append(y)
    assert outs[3].shape[-1] == 64 // output_stride
    for out, ref in zip(outs, expected):
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)


def test_contract_dilation_halves_the_first_block_of_a_dilated_stage():
    model = ResNetV1c(
        depth=18, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True
    )
    assert [b.conv1.dilation[0] for b in model.layer3] == [1, 2]
    assert [b.conv1.dilation[0] for b in model.layer4] == [2, 4]
    plain = ResNetV1c(depth=18, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
    assert [b.conv1.dilation[0] for b in plain.layer4] == [4, 4]
    x = torch.randn(1, 3, 64, 64)
    assert model.eval()(x)[0].shape == (1, 512, 8, 8)
    assert resnet18  # torchvision's BasicBlock refuses dilation; ours allows it


# SegFormer's Table 1: encoder parameters (millions) of MiT-B0 .. B5
PUBLISHED_MIT_PARAMS = {"b0": 3.4, "b1": 13.1, "b2": 24.2, "b3": 44.0, "b4": 60.8, "b5": 81.4}


@pytest.mark.parametrize("arch", list(PUBLISHED_MIT_PARAMS))
def test_mit_parameter_counts_are_published(arch):
    with torch.device("meta"):  # counted without allocating or initialising the weights
        model = MixVisionTransformer(arch=arch)
    millions = sum(p.numel() for p in model.parameters()) / 1e6
    assert millions == pytest.approx(PUBLISHED_MIT_PARAMS[arch], abs=0.1)  # B0: 3.32


def test_mit_shapes():
    model = MixVisionTransformer(arch="b1")
    widths = [MIT_ARCHS["b1"]["embed_dims"] * h for h in (1, 2, 5, 8)]
    outs = model.eval()(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [
        (1, w, 64 // s, 96 // s) for w, s in zip(widths, (4, 8, 16, 32))
    ]
    assert model.out_channels == tuple(widths)


def test_mit_trains_with_activation_checkpointing_and_names_bad_arguments():
    torch.manual_seed(0)
    tiny = dict(arch=None, embed_dims=8, num_layers=(1, 1, 1, 1), drop_path_rate=0.0)
    plain = MixVisionTransformer(**tiny)
    checkpointed = MixVisionTransformer(**tiny, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    plain(x)[-1].sum().backward()
    checkpointed(x)[-1].sum().backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), checkpointed.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4, msg=name)
    with pytest.raises(ConfigError, match="arch 'b9' is unknown"):
        MixVisionTransformer(arch="b9")
    with pytest.raises(ConfigError, match="one value per stage"):
        MixVisionTransformer(arch=None, num_layers=(1, 1), num_heads=(1, 2, 5, 8))
