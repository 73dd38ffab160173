"""Box coders: turn boxes into regression targets relative to anchors or points, and back."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from labdet.registry import TASK_UTILS


@TASK_UTILS.register_module()
class DeltaXYWHBoxCoder:
    """Offsets of centre and log-size: ``(dx, dy, dw, dh) * weights`` (R-CNN box coding).

    ``dx = (gx - ax) / aw``, ``dw = log(gw / aw)``; the same transform as torchvision's
    ``BoxCoder(weights, bbox_xform_clip)``. ``dw`` and ``dh`` are clamped at ``clip`` when
    decoding so that ``exp`` cannot overflow.

    Args:
        weights: (wx, wy, ww, wh) multipliers of the four offsets.
        clip: upper bound of the decoded log-size offsets.
    """

    def __init__(
        self,
        *,
        weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
        clip: float = math.log(1000.0 / 16),
    ):
        self.weights = tuple(float(w) for w in weights)
        self.clip = clip

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        """Targets Tensor[N, 4] that take ``anchors`` (Tensor[N, 4]) to ``boxes`` (Tensor[N, 4])."""
        wx, wy, ww, wh = self.weights
        anchor_w = anchors[:, 2] - anchors[:, 0]
        anchor_h = anchors[:, 3] - anchors[:, 1]
        anchor_x = anchors[:, 0] + 0.5 * anchor_w
        anchor_y = anchors[:, 1] + 0.5 * anchor_h
        box_w = boxes[:, 2] - boxes[:, 0]
        box_h = boxes[:, 3] - boxes[:, 1]
        box_x = boxes[:, 0] + 0.5 * box_w
        box_y = boxes[:, 1] + 0.5 * box_h
        dx = wx * (box_x - anchor_x) / anchor_w
        dy = wy * (box_y - anchor_y) / anchor_h
        dw = ww * torch.log(box_w / anchor_w)
        dh = wh * torch.log(box_h / anchor_h)
        return torch.stack((dx, dy, dw, dh), dim=1)

    def decode(self, deltas: Tensor, anchors: Tensor) -> Tensor:
        """Boxes from ``deltas`` (Tensor[N, 4 * C]) and ``anchors`` (Tensor[N, 4]).

        Returns Tensor[N, 4 * C]: one box per group of four deltas (per class for R-CNN).
        """
        anchors = anchors.to(deltas.dtype)
        widths = anchors[:, 2] - anchors[:, 0]
        heights = anchors[:, 3] - anchors[:, 1]
        ctr_x = anchors[:, 0] + 0.5 * widths
        ctr_y = anchors[:, 1] + 0.5 * heights
        wx, wy, ww, wh = self.weights
        dx = deltas[:, 0::4] / wx
        dy = deltas[:, 1::4] / wy
        dw = torch.clamp(deltas[:, 2::4] / ww, max=self.clip)
        dh = torch.clamp(deltas[:, 3::4] / wh, max=self.clip)
        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        half_w = 0.5 * (torch.exp(dw) * widths[:, None])
        half_h = 0.5 * (torch.exp(dh) * heights[:, None])
        boxes = torch.stack(
            (pred_ctr_x - half_w, pred_ctr_y - half_h, pred_ctr_x + half_w, pred_ctr_y + half_h),
            dim=2,
        )
        return boxes.flatten(1)


@TASK_UTILS.register_module()
class DistancePointBoxCoder:
    """Distances (left, top, right, bottom) from a point to the box edges (FCOS box coding).

    The point is the centre of each anchor box; with ``normalize_by_size`` the distances are
    divided by the anchor's width and height (torchvision's ``BoxLinearCoder``), so a
    regression output of 1 means one stride on that level.
    """

    def __init__(self, *, normalize_by_size: bool = True):
        self.normalize_by_size = normalize_by_size

    def _anchor_sizes(self, anchors: Tensor) -> Tensor:
        widths = anchors[..., 2] - anchors[..., 0]
        heights = anchors[..., 3] - anchors[..., 1]
        return torch.stack((widths, heights, widths, heights), dim=-1)

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        """Distances Tensor[N, 4] from the centres of ``anchors`` to the edges of ``boxes``."""
        ctr_x = 0.5 * (anchors[..., 0] + anchors[..., 2])
        ctr_y = 0.5 * (anchors[..., 1] + anchors[..., 3])
        distances = torch.stack(
            (
                ctr_x - boxes[..., 0],
                ctr_y - boxes[..., 1],
                boxes[..., 2] - ctr_x,
                boxes[..., 3] - ctr_y,
            ),
            dim=-1,
        )
        if self.normalize_by_size:
            distances = distances / self._anchor_sizes(anchors)
        return distances

    def decode(self, distances: Tensor, anchors: Tensor) -> Tensor:
        """Boxes Tensor[N, 4] at ``distances`` (Tensor[N, 4]) from the centres of ``anchors``."""
        anchors = anchors.to(distances.dtype)
        ctr_x = 0.5 * (anchors[..., 0] + anchors[..., 2])
        ctr_y = 0.5 * (anchors[..., 1] + anchors[..., 3])
        if self.normalize_by_size:
            distances = distances * self._anchor_sizes(anchors)
        return torch.stack(
            (
                ctr_x - distances[..., 0],
                ctr_y - distances[..., 1],
                ctr_x + distances[..., 2],
                ctr_y + distances[..., 3],
            ),
            dim=-1,
        )
