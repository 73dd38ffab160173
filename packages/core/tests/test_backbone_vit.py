"""VisionTransformer against torchvision's VisionTransformer (through the converter): a
small custom size and the ViT-B/16, B/32, L/16 and L/32 builders."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.vision_transformer import VisionTransformer as TorchvisionViT

from labcore.engine.checkpoint import load_state_dict, strip_prefix
from labcore.errors import ConfigError
from labcore.models.backbones import VisionTransformer
from labcore.models.backbones.vision_transformer import resize_pos_embed
from labcore.models.convert import (
    convert_torchvision_classifier,
    detect_torchvision_family,
)
from labcore.models.necks import GlobalAveragePooling

SMALL = dict(embed_dims=96, num_layers=2, num_heads=3, mlp_dims=192)


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def small_reference() -> TorchvisionViT:
    torch.manual_seed(0)
    reference = TorchvisionViT(
        image_size=32, patch_size=8, num_layers=2, num_heads=3, hidden_dim=96, mlp_dim=192
    ).eval()
    for param in reference.parameters():  # torchvision zero-initialises several tensors
        nn.init.normal_(param, std=0.1)
    return reference


def test_logits_match_torchvision():
    reference = small_reference()
    state_dict = reference.state_dict()
    assert detect_torchvision_family(state_dict) == "vit"
    weights = convert_torchvision_classifier(state_dict, "vit")
    model = VisionTransformer(arch=SMALL, img_size=32, patch_size=8).eval()
    load_state_dict(model, strip_prefix(weights, "backbone."))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        features = model(x)
        assert features[0].shape == (2, 96, 1, 1)  # the class token
        pooled = GlobalAveragePooling()(features)[0]
        head = strip_prefix(weights, "head.layers.head.")  # labcls' VisionTransformerClsHead
        logits = pooled @ head["weight"].T + head["bias"]
        torch.testing.assert_close(logits, reference(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "name, arch, patch_size, image_size",
    [
        ("vit_b_16", "base", 16, 32),
        ("vit_b_32", "base", 32, 64),
        pytest.param("vit_l_16", "large", 16, 32, marks=pytest.mark.slow),
        pytest.param("vit_l_32", "large", 32, 64, marks=pytest.mark.slow),
    ],
)
def test_logits_match_torchvision_sizes(name, arch, patch_size, image_size):
    """torchvision's ViT-B and ViT-L builders with their real widths, depths and heads, on
    a 2x2 grid of patches (small images keep the test fast; only the position embedding
    depends on the image size)."""
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None, image_size=image_size).eval()
    for param in reference.parameters():  # torchvision zero-initialises several tensors
        nn.init.normal_(param, std=0.02)
    weights = convert_torchvision_classifier(reference.state_dict(), "vit")
    model = VisionTransformer(arch=arch, img_size=image_size, patch_size=patch_size).eval()
    load_state_dict(model, strip_prefix(weights, "backbone."))
    x = torch.randn(2, 3, image_size, image_size)
    with torch.no_grad():
        expected = reference(x)
        assert expected.std() > 0.01  # logits well above the tolerance
        head = strip_prefix(weights, "head.layers.head.")
        logits = model(x)[0].flatten(1) @ head["weight"].T + head["bias"]
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


def test_published_file_layout_of_mlp_converts_the_same():
    state_dict = small_reference().state_dict()
    old_names = {  # torchvision's weight files name the MLP layers linear_1 / linear_2
        k.replace("mlp.0.", "mlp.linear_1.").replace("mlp.3.", "mlp.linear_2."): v
        for k, v in state_dict.items()
    }
    assert "encoder.layers.encoder_layer_1.mlp.linear_2.bias" in old_names
    assert convert_torchvision_classifier(old_names, "vit").keys() == (
        convert_torchvision_classifier(state_dict, "vit").keys()
    )


def test_patch_token_feature_map():
    reference = small_reference()
    weights = convert_torchvision_classifier(reference.state_dict(), "vit")
    model = VisionTransformer(arch=SMALL, img_size=32, patch_size=8, out_type="featmap").eval()
    model.load_state_dict(strip_prefix(weights, "backbone."))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        featmap = model(x)[0]
        patches = reference._process_input(x)  # [1, 16, 96]
        tokens = reference.encoder(torch.cat([reference.class_token, patches], dim=1))
    assert featmap.shape == (1, 96, 4, 4)
    expected = tokens[:, 1:].transpose(1, 2).reshape(1, 96, 4, 4)
    torch.testing.assert_close(featmap, expected, atol=1e-5, rtol=0)


def test_other_input_size_resamples_position_embedding():
    pos_embed = torch.randn(1, 1 + 4 * 4, 96)
    assert resize_pos_embed(pos_embed, (4, 4), (4, 4), 1) is pos_embed
    resized = resize_pos_embed(pos_embed, (4, 4), (6, 8), 1)
    assert resized.shape == (1, 1 + 6 * 8, 96)
    torch.testing.assert_close(resized[:, 0], pos_embed[:, 0])  # class token kept
    grid = pos_embed[:, 1:].reshape(1, 4, 4, 96).permute(0, 3, 1, 2)
    expected = nn.functional.interpolate(grid, size=(6, 8), mode="bicubic", align_corners=False)
    torch.testing.assert_close(resized[:, 1:], expected.flatten(2).transpose(1, 2))
    model = VisionTransformer(arch=SMALL, img_size=32, patch_size=8, out_type="featmap").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 48, 64))[0].shape == (1, 96, 6, 8)


def test_checkpoint_of_another_image_size_loads_with_resampled_position_embedding():
    small = VisionTransformer(arch=SMALL, img_size=32, patch_size=8)
    large = VisionTransformer(arch=SMALL, img_size=48, patch_size=8)
    large.load_state_dict(small.state_dict())
    expected = resize_pos_embed(small.pos_embed.detach(), (4, 4), (6, 6), 1)
    torch.testing.assert_close(large.pos_embed.detach(), expected)


@pytest.mark.parametrize(
    "arch, published", [("tiny", 5_717_416), ("small", 22_050_664), ("base", 86_567_656)]
)
def test_parameter_count_with_1000_class_head_is_published(arch, published):
    with torch.device("meta"):
        model = VisionTransformer(arch=arch, patch_size=16, img_size=224)
    assert num_params(model) + model.embed_dims * 1000 + 1000 == published


def test_intermediate_layers_and_drop_path():
    model = VisionTransformer(arch=SMALL, img_size=32, patch_size=8, out_indices=(0, -1),
                              out_type="avg_featmap", drop_path_rate=0.2)  # fmt: skip
    assert model.out_indices == (0, 1)
    assert [layer.drop_path.drop_prob for layer in model.layers] == [0.0, 0.2]
    outs = model.eval()(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 96, 1, 1), (2, 96, 1, 1)]


def test_invalid_configuration():
    with pytest.raises(ConfigError, match="out_type"):
        VisionTransformer(arch="tiny", out_type="tokens")
    with pytest.raises(ConfigError, match="with_cls_token"):
        VisionTransformer(arch="tiny", with_cls_token=False)


def test_frozen_stages():
    model = VisionTransformer(arch=SMALL, img_size=32, patch_size=8, frozen_stages=1).train()
    assert not model.pos_embed.requires_grad and not model.cls_token.requires_grad
    assert all(not p.requires_grad for p in model.patch_embed.parameters())
    assert all(not p.requires_grad for p in model.layers[0].parameters())
    assert all(p.requires_grad for p in model.layers[1].parameters())
    assert not model.layers[0].training and model.layers[1].training
    assert model.ln1.weight.requires_grad
    with pytest.raises(ConfigError, match="frozen_stages"):
        VisionTransformer(arch=SMALL, img_size=32, patch_size=8, frozen_stages=3)
