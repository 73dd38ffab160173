"""Rotated anchors: labdet's anchor grid, each anchor as a rotated box of angle 0."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from labdet.models.task_modules.anchor_generator import AnchorGenerator
from labrot.registry import TASK_UTILS


@TASK_UTILS.register_module()
class RotatedAnchorGenerator(AnchorGenerator):
    """labdet's :class:`~labdet.models.task_modules.anchor_generator.AnchorGenerator`
    (sizes, aspect ratios h / w, strides, order) whose anchors are rotated boxes
    ``(cx, cy, w, h, 0)``: the horizontal anchors of Rotated RetinaNet, which regress the
    angle."""

    def grid_anchors(
        self, feature_sizes: Sequence[tuple[int, int]], device: torch.device | str = "cpu"
    ) -> list[Tensor]:
        """Anchors of each level: a list of Tensor[H_i * W_i * A_i, 5] (cx, cy, w, h, a)."""
        rotated = []
        for boxes in super().grid_anchors(feature_sizes, device):
            boxes = boxes.to(torch.float32)
            center = (boxes[:, :2] + boxes[:, 2:]) / 2
            size = boxes[:, 2:] - boxes[:, :2]
            rotated.append(torch.cat((center, size, torch.zeros_like(size[:, :1])), dim=1))
        return rotated
