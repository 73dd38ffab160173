"""HRNet against the HRNet paper's COCO table (Sun et al. 2019): parameters and GFLOPs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labcore.models.analysis import flop_analyzer
from labcore.models.backbones import HRNet
from labcore.registry import MODELS


class HRNetPose(nn.Module):
    """The paper's pose network: HRNet and a 1x1 conv to 17 heatmaps."""

    def __init__(self, width: int):
        super().__init__()
        self.backbone = HRNet(width=width)
        self.final = nn.Conv2d(width, 17, 1)

    def forward(self, x):
        return self.final(self.backbone(x)[0])


def conv_multiply_adds(model: nn.Module, shape) -> int:
    """Multiply-adds of every Conv2d, counted by forward hooks (the reference); a model
    on the meta device runs without computing anything."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += module.weight.numel() * output.shape[-2] * output.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        device = next(model.parameters()).device
        model.eval()(torch.zeros(1, *shape, device=device))
    for handle in handles:
        handle.remove()
    return total


# The paper's GFLOPs are the official profiler's multiply-adds of convolutions divided
# by 2**30 (its get_model_summary); parameters are in millions.
@pytest.mark.parametrize("width, params, gflops", [(32, 28.5, 7.1), (48, 63.6, 14.6)])
def test_pose_hrnet_matches_the_paper(width, params, gflops):
    with torch.device("meta"):
        model = HRNetPose(width)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == params
    assert round(conv_multiply_adds(model, (3, 256, 192)) / 2**30, 1) == gflops


@pytest.mark.slow  # tracing HRNet takes tens of seconds
def test_flop_counter_counts_the_papers_convolutions():
    model = HRNetPose(32).eval()
    counted = flop_analyzer(model, (3, 256, 192)).by_operator()
    assert counted["conv"] == conv_multiply_adds(model, (3, 256, 192))
    assert round(counted["conv"] / 2**30, 1) == 7.1


@pytest.mark.parametrize("width", [18])
def test_output_shapes(width, one_thread):
    x = torch.randn(1, 3, 64, 96)
    single = HRNet(width=width).eval()(x)
    assert [tuple(t.shape) for t in single] == [(1, width, 16, 24)]
    multi = HRNet(width=width, multiscale_output=True).eval()
    shapes = [tuple(t.shape) for t in multi(x)]
    assert shapes == [(1, width * 2**i, 16 // 2**i, 24 // 2**i) for i in range(4)]
    assert multi.out_channels == tuple(width * 2**i for i in range(4))


def test_built_from_the_registry_and_trains(one_thread):
    model = MODELS.build(dict(type="HRNet", width=18, num_modules=(1, 1, 1, 1), num_blocks=1))
    out = model(torch.randn(2, 3, 32, 32))[0]
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_norm_eval_keeps_batch_norms_frozen():
    model = HRNet(width=18, num_modules=(1, 1, 1, 1), num_blocks=1, norm_eval=True).train()
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
