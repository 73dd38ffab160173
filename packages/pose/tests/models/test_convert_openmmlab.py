"""``convert_openmmlab_pose`` on the key layout of MMPose's checkpoints.

MMPose is not installed here, so each test writes out the state dict of the anchor's
model from its published structure: MMPose's ResNet (torchvision's ``conv1``, ``bn1``,
``layer1..4`` names and shapes, taken live from torchvision's ResNet) or its HRNet (built
key by key below following MMPose's ``hrnet.py``: the stem, a Bottleneck ``layer1``,
``transition1..3``, and ``stage2..4`` of HRModules whose last one fuses into the
highest-resolution branch only), and its HeatmapHead (``deconv_layers`` of deconvolution,
BN, ReLU; ``final_layer``), plus the data preprocessor's mean and std that MMPose's
checkpoints may carry. Converted, its keys and shapes must be exactly those of the labpose
model the config of the same name builds (on the meta device).
"""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope
from torchvision.models import resnet50

from labcore.engine.config import load_config
from labcore.errors import CheckpointError
from labpose.models.convert import convert_openmmlab_pose
from labpose.registry import MODELS

COCO_KEYPOINTS = 17


def _conv(name: str, out_ch: int, in_ch: int, k: int, *, bias: bool = False) -> dict:
    shapes = {f"{name}.weight": (out_ch, in_ch, k, k)}
    if bias:
        shapes[f"{name}.bias"] = (out_ch,)
    return shapes


def _bn(name: str, channels: int) -> dict:
    stats = ("weight", "bias", "running_mean", "running_var")
    return {**{f"{name}.{s}": (channels,) for s in stats}, f"{name}.num_batches_tracked": ()}


def _preprocessor() -> dict:
    return {"data_preprocessor.mean": (3, 1, 1), "data_preprocessor.std": (3, 1, 1)}


def _heatmap_head(in_ch: int, deconvs: int) -> dict:
    """MMPose's HeatmapHead: ``deconv_layers`` = [ConvTranspose2d 4x4 (no bias), BN, ReLU]
    x ``deconvs`` of 256 channels, then ``final_layer``, a 1x1 conv with bias."""
    shapes = {}
    for i in range(deconvs):
        shapes[f"head.deconv_layers.{3 * i}.weight"] = (in_ch, 256, 4, 4)
        shapes |= _bn(f"head.deconv_layers.{3 * i + 1}", 256)
        in_ch = 256
    return shapes | _conv("head.final_layer", COCO_KEYPOINTS, in_ch, 1, bias=True)


def mmpose_simplebaseline_r50() -> dict:
    with torch.device("meta"):
        resnet = resnet50(weights=None).state_dict()
    backbone = {
        f"backbone.{k}": tuple(v.shape) for k, v in resnet.items() if not k.startswith("fc.")
    }
    return {**_preprocessor(), **backbone, **_heatmap_head(2048, 3)}


def _basic_block(name: str, channels: int) -> dict:
    return {
        **_conv(f"{name}.conv1", channels, channels, 3),
        **_bn(f"{name}.bn1", channels),
        **_conv(f"{name}.conv2", channels, channels, 3),
        **_bn(f"{name}.bn2", channels),
    }


def _bottleneck(name: str, in_ch: int, planes: int, *, downsample: bool) -> dict:
    shapes = {
        **_conv(f"{name}.conv1", planes, in_ch, 1),
        **_bn(f"{name}.bn1", planes),
        **_conv(f"{name}.conv2", planes, planes, 3),
        **_bn(f"{name}.bn2", planes),
        **_conv(f"{name}.conv3", 4 * planes, planes, 1),
        **_bn(f"{name}.bn3", 4 * planes),
    }
    if downsample:
        shapes |= _conv(f"{name}.downsample.0", 4 * planes, in_ch, 1)
        shapes |= _bn(f"{name}.downsample.1", 4 * planes)
    return shapes


def _transition(name: str, pre: list[int], cur: list[int]) -> dict:
    """MMPose's ``_make_transition_layer``: a 3x3 conv-BN-ReLU Sequential where a kept
    branch changes width (None where it does not), strided ones for a new branch."""
    shapes = {}
    for i, out in enumerate(cur):
        if i < len(pre):
            if out != pre[i]:
                shapes |= _conv(f"{name}.{i}.0", out, pre[i], 3) | _bn(f"{name}.{i}.1", out)
            continue
        for j in range(i + 1 - len(pre)):
            target = out if j == i - len(pre) else pre[-1]
            shapes |= _conv(f"{name}.{i}.{j}.0", target, pre[-1], 3)
            shapes |= _bn(f"{name}.{i}.{j}.1", target)
    return shapes


def _hr_module(name: str, channels: list[int], *, multiscale_output: bool) -> dict:
    """MMPose's HRModule: 4 BasicBlocks per branch; ``fuse_layers[i][j]`` = 1x1 conv-BN
    (then upsample) for j > i, strided 3x3 conv-BN(-ReLU) Sequentials for j < i."""
    shapes = {}
    for b, c in enumerate(channels):
        for k in range(4):
            shapes |= _basic_block(f"{name}.branches.{b}.{k}", c)
    for i in range(len(channels) if multiscale_output else 1):
        for j, c in enumerate(channels):
            if j > i:
                fuse = f"{name}.fuse_layers.{i}.{j}"
                shapes |= _conv(f"{fuse}.0", channels[i], c, 1) | _bn(f"{fuse}.1", channels[i])
            for k in range(i - j):
                out = channels[i] if k == i - j - 1 else c
                step = f"{name}.fuse_layers.{i}.{j}.{k}"
                shapes |= _conv(f"{step}.0", out, c, 3) | _bn(f"{step}.1", out)
    return shapes


def mmpose_hrnet(width: int) -> dict:
    """``td-hm_hrnet-w{width}``: stage1 one module of 4 Bottlenecks (64), stages 2-4 of
    1, 4 and 3 modules with 2, 3 and 4 branches of ``width * 2**i`` channels; the stage-4
    output is the highest-resolution branch only (``multiscale_output=False``)."""
    shapes = {
        **_conv("backbone.conv1", 64, 3, 3),
        **_bn("backbone.bn1", 64),
        **_conv("backbone.conv2", 64, 64, 3),
        **_bn("backbone.bn2", 64),
    }
    for k in range(4):
        shapes |= _bottleneck(f"backbone.layer1.{k}", 64 if k == 0 else 256, 64, downsample=k == 0)
    pre = [256]
    for stage, modules in ((2, 1), (3, 4), (4, 3)):
        cur = [width * 2**i for i in range(stage)]
        shapes |= _transition(f"backbone.transition{stage - 1}", pre, cur)
        for m in range(modules):
            last = stage == 4 and m == modules - 1
            shapes |= _hr_module(f"backbone.stage{stage}.{m}", cur, multiscale_output=not last)
        pre = cur
    return {**_preprocessor(), **shapes, **_heatmap_head(width, 0)}


CASES = {
    "simplebaseline/td-hm_res50_8xb64-210e_coco-256x192.py": mmpose_simplebaseline_r50,
    "hrnet/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py": lambda: mmpose_hrnet(32),
    "hrnet/td-hm_hrnet-w48_8xb32-210e_coco-384x288.py": lambda: mmpose_hrnet(48),
}


def _labpose_shapes(config: str) -> dict:
    cfg = load_config(f"labpose::{config}")
    with DefaultScope.overwrite_default_scope("labpose"), torch.device("meta"):
        model = MODELS.build(cfg.model)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("config", CASES, ids=lambda c: c.split("/")[1].split("_")[1])
def test_every_mmpose_key_maps_onto_the_labpose_model(config):
    upstream = {k: torch.empty(s, device="meta") for k, s in CASES[config]().items()}
    converted = convert_openmmlab_pose(upstream)
    assert len(converted) == len(upstream) - 2  # only the preprocessor's mean and std go
    assert {k: tuple(v.shape) for k, v in converted.items()} == _labpose_shapes(config)


def test_hrnet_w32_has_mmposes_published_size():
    """MMPose's HRNet-W32 at 256x192: 28.5M parameters (the HRNet paper's COCO table)."""
    parameters = sum(
        torch.Size(s).numel()
        for k, s in mmpose_hrnet(32).items()
        if k.endswith(("weight", "bias")) and not k.startswith("data_preprocessor")
    )
    assert round(parameters / 1e6, 1) == 28.5


def test_mmpose_0x_keypoint_head_keys_are_renamed_and_values_kept():
    upstream = {
        "backbone.layer1.0.conv1.weight": torch.randn(64, 64, 1, 1),
        "keypoint_head.deconv_layers.1.running_var": torch.rand(256),
        "keypoint_head.final_layer.bias": torch.randn(17),
    }
    converted = convert_openmmlab_pose(upstream)
    assert set(converted) == {
        "backbone.layer1.0.conv1.weight",
        "head.deconv_layers.1.running_var",
        "head.final_layer.bias",
    }
    assert torch.equal(
        converted["head.final_layer.bias"], upstream["keypoint_head.final_layer.bias"]
    )
    assert converted["backbone.layer1.0.conv1.weight"] is upstream["backbone.layer1.0.conv1.weight"]


def test_an_architecture_labpose_does_not_build_is_refused_with_its_keys():
    upstream = {
        "head.final_layer.weight": torch.zeros(1),
        "head.conv_layers.0.weight": torch.zeros(1),  # a head with extra conv layers
        "backbone.layers.0.attn.qkv.weight": torch.zeros(1),  # a transformer backbone
    }
    with pytest.raises(CheckpointError, match=r"2 keys .*head\.conv_layers\.0\.weight"):
        convert_openmmlab_pose(upstream)
