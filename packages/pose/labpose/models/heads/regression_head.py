"""RegressionHead: features -> normalised keypoint coordinates (DeepPose)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labpose.models.heads.base import PoseHead
from labpose.registry import MODELS


@MODELS.register_module()
class RegressionHead(PoseHead):
    """Global average pooling then a linear layer to (x, y) in [0, 1] per keypoint.

    Args:
        in_channels: channels of the last feature map.
        num_joints: number of keypoints K.
        loss: e.g. ``dict(type='SmoothL1Loss', use_target_weight=True)``.
        decoder: ``dict(type='RegressionLabel', input_size=...)``.

    Output Tensor[B, K, 2], coordinates divided by the input's width and height.
    """

    def __init__(self, *, in_channels: int, num_joints: int, loss, decoder, init_cfg=None):
        super().__init__(loss=loss, decoder=decoder, init_cfg=init_cfg)
        self.num_joints = num_joints
        self.fc = nn.Linear(in_channels, num_joints * 2)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(feats[-1], 1), 1)
        return self.fc(pooled).reshape(-1, self.num_joints, 2)

    def loss(self, feats: Sequence[Tensor], samples) -> dict[str, Tensor]:
        coordinates = self(feats)
        targets = self.targets(samples, coordinates.device)
        loss = self.loss_module(
            coordinates, targets["keypoint_labels"], targets["keypoint_weights"]
        )
        return dict(loss_kpt=loss)

    def flip(self, coordinates: Tensor, flip_indices: Sequence[int], shift_heatmap: bool = False):
        """Coordinates of a flipped input, mirrored back: x -> 1 - x - 1 / W (pixel
        ``i`` of a W-wide crop flips to ``W - 1 - i``), keypoints swapped."""
        width = self.decoder.input_size[0]
        flipped = coordinates[:, list(flip_indices)].clone()
        flipped[..., 0] = 1.0 - flipped[..., 0] - 1.0 / width
        return flipped

    def decode_one(self, coordinates):
        return self.decoder.decode(coordinates[None])
