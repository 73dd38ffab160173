"""Every registered backbone builds from a config, runs forward and backward, and
returns one Tensor[B, C, H, W] per out_index with the channels it announces."""

from __future__ import annotations

import pytest
import torch

from labcore.models import backbones
from labcore.registry import MODELS

SMALL_CONFIGS = {
    "ResNet": dict(depth=18, out_indices=(0, 1, 2, 3), base_channels=16, stem_channels=16),
    "ResNetV1c": dict(depth=18, out_indices=(1, 3), base_channels=16, stem_channels=16),
    "ResNetV1d": dict(depth=34, out_indices=(2,), base_channels=16, stem_channels=16),
    "ResNeXt": dict(depth=50, groups=8, width_per_group=4, base_channels=16, stem_channels=16),
    "MobileNetV2": dict(widen_factor=0.35, out_indices=(2, 4, 7)),
    "CSPNeXt": dict(deepen_factor=0.167, widen_factor=0.125, out_indices=(1, 2, 3, 4)),
    "ConvNeXt": dict(arch=dict(depths=(1, 1, 2, 1), channels=(8, 16, 32, 64)),
                     out_indices=(0, 3), gap_before_final_norm=False, drop_path_rate=0.1),
    "VisionTransformer": dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2, mlp_dims=64),
                              img_size=32, patch_size=8, out_type="featmap", drop_path_rate=0.1),
    "HRNet": dict(width=8, num_modules=(1, 1, 1, 1), num_blocks=1, multiscale_output=True),
    "MixVisionTransformer": dict(arch=None, embed_dims=8, num_layers=(1, 1, 1, 1),
                                 num_heads=(1, 1, 2, 2)),
}  # fmt: skip
# backbones that offer activation checkpointing (with_cp=True)
CHECKPOINTING = sorted(set(SMALL_CONFIGS) - {"HRNet"})


def test_every_backbone_has_a_config_here():
    assert set(SMALL_CONFIGS) == set(backbones.__all__)
    for name in backbones.__all__:
        assert MODELS.get(name) is getattr(backbones, name)


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_build_forward_backward(name):
    torch.manual_seed(0)
    model = MODELS.build(dict(type=name, **SMALL_CONFIGS[name])).train()
    x = torch.randn(2, 3, 64, 64)
    outs = model(x)
    assert isinstance(outs, tuple) and len(outs) == len(model.out_channels)
    for out, channels in zip(outs, model.out_channels):
        assert out.ndim == 4 and out.shape[:2] == (2, channels)
        assert torch.isfinite(out).all()
    sum(o.mean() for o in outs).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads[:1]) and any(
        g.abs().sum() > 0 for g in grads if g is not None
    )


@pytest.mark.parametrize("name", CHECKPOINTING)
def test_activation_checkpointing_gives_the_same_gradients(name):
    torch.manual_seed(0)
    plain = MODELS.build(dict(type=name, **SMALL_CONFIGS[name])).eval()
    checkpointed = MODELS.build(dict(type=name, with_cp=True, **SMALL_CONFIGS[name])).eval()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 32, 32)
    for model in (plain, checkpointed):
        sum(o.square().mean() for o in model(x)).backward()
    for (key, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=key)
