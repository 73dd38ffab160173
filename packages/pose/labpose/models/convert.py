"""Convert MMPose top-down heatmap checkpoints (SimpleBaseline on ResNet, HRNet) to labpose's.

    from labcore.engine.checkpoint import read_checkpoint
    state = convert_openmmlab_pose(read_checkpoint(path).state_dict)
    model.load_state_dict(state)   # built from hrnet/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py

labpose's TopdownPoseEstimator keeps MMPose's module names: labcore's ResNet and HRNet
use MMPose's (``conv1``, ``bn1``, ``layer1..4``; ``conv2``, ``bn2``, ``transition1..3``,
``stage2..4`` with ``branches`` and ``fuse_layers``), and HeatmapHead MMPose's
``deconv_layers`` (deconvolution, BN, ReLU, ...) and ``final_layer``. So the keys keep
their names, except:

=============================================  ========================================
MMPose                                         labpose
=============================================  ========================================
``keypoint_head.*`` (MMPose 0.x checkpoints)   ``head.*``
``data_preprocessor.mean`` / ``.std``          dropped (labpose's preprocessor holds them)
=============================================  ========================================

Every other key must be one of those layers of a ResNet or HRNet backbone and a heatmap
head; anything else (another backbone, a head with extra conv layers, a neck) raises
:class:`~labcore.errors.CheckpointError` naming the keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from labcore.models.rename import Rule, rename_keys

_LEAF = r"(?:weight|bias|running_mean|running_var|num_batches_tracked)"
_BLOCK = rf"\d+\.(?:conv\d|bn\d|downsample\.[01])\.{_LEAF}"
_KEEP = r"\g<0>"
_RULES: list[Rule] = [
    # stems: ResNet's conv1/bn1, HRNet's conv1/bn1/conv2/bn2
    (rf"backbone\.(?:conv[12]|bn[12])\.{_LEAF}", _KEEP),
    # residual stages: ResNet's layer1..4, HRNet's layer1 (Bottlenecks)
    (rf"backbone\.layer\d\.{_BLOCK}", _KEEP),
    # HRNet transitions: a conv-BN(-ReLU) per kept branch, strided ones per new branch
    (rf"backbone\.transition\d\.\d+\.(?:\d+\.)?[01]\.{_LEAF}", _KEEP),
    # HRNet modules: residual branches, then fusion (1x1 conv-BN up, strided 3x3 down)
    (rf"backbone\.stage\d\.\d+\.branches\.\d+\.{_BLOCK}", _KEEP),
    (rf"backbone\.stage\d\.\d+\.fuse_layers\.\d+\.\d+\.(?:\d+\.)?[01]\.{_LEAF}", _KEEP),
    # HeatmapHead (``keypoint_head`` in MMPose 0.x checkpoints)
    (rf"(?:keypoint_)?head\.(deconv_layers\.\d+\.{_LEAF})", r"head.\1"),
    (r"(?:keypoint_)?head\.(final_layer\.(?:weight|bias))", r"head.\1"),
]


def convert_openmmlab_pose(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """An MMPose TopdownPoseEstimator state dict (SimpleBaseline ResNet, HRNet; heatmap
    head) with labpose's keys (see the module docstring); values are unchanged.

    Raises:
        CheckpointError: a key has no labpose name (an architecture labpose does not build).
    """
    return rename_keys(
        state_dict,
        _RULES,
        source="MMPose",
        into="labpose",
        drop=r"data_preprocessor\.(?:mean|std)",
        supported="Only top-down heatmap models on ResNet (SimpleBaseline) and HRNet convert.",
    )
