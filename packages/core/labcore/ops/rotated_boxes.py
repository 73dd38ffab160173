"""Rotated boxes (cx, cy, w, h, angle): IoU and non-maximum suppression.

The angle is in radians; a box's corners are ``center + R(angle) @ (+-w/2, +-h/2)`` with
``R = [[cos, -sin], [sin, cos]]``, so any angle (also past +-pi) is valid. A box with
``w <= 0`` or ``h <= 0`` has IoU 0 with every box.
"""

from __future__ import annotations

import torch
from torch import Tensor

from labcore.errors import LabError


def box_iou_rotated(boxes1: Tensor, boxes2: Tensor, aligned: bool = False) -> Tensor:
    """IoU of rotated boxes.

    Args:
        boxes1 (Tensor[N, 5]), boxes2 (Tensor[M, 5]): (cx, cy, w, h, angle), same dtype.
        aligned: False gives Tensor[N, M]; True needs N == M and gives Tensor[N].

    The intersection is computed in float32 for float32 boxes (in float64 for float64);
    centers are shifted to their midpoint first so that far-away boxes keep precision.

    Not differentiable: a backward pass through the result raises a LabError (detach the
    boxes when the IoU only matches or ranks them). Under ``torch.compile`` the backward is
    traced with the forward, so boxes that require grad raise it at compile time.
    """
    return torch.ops.lab.box_iou_rotated(boxes1, boxes2, bool(aligned))


def nms_rotated(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression of rotated boxes.

    Args:
        boxes (Tensor[N, 5]): (cx, cy, w, h, angle).
        scores (Tensor[N]): same dtype as boxes.
        iou_threshold: a box is dropped when its IoU with a kept, higher-scored box is
            greater than this.

    Returns:
        Tensor[K] int64: indices of the kept boxes by decreasing score; equal scores keep
        the order of their indices.
    """
    return torch.ops.lab.nms_rotated(boxes, scores, float(iou_threshold))


@torch.library.register_fake("lab::box_iou_rotated")
def _(boxes1, boxes2, aligned):
    if aligned:
        return boxes1.new_empty((boxes1.shape[0],))
    return boxes1.new_empty((boxes1.shape[0], boxes2.shape[0]))


@torch.library.register_fake("lab::nms_rotated")
def _(boxes, scores, iou_threshold):
    kept = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty((kept,), dtype=torch.int64)


def _box_iou_rotated_backward(ctx, grad):
    raise LabError(
        "box_iou_rotated is not differentiable: no gradient reaches boxes1 or boxes2. Detach "
        "the boxes (boxes.detach()) where the IoU matches, ranks or weights boxes; for a "
        "rotated-box regression loss, write the loss in differentiable torch ops (e.g. a "
        "Gaussian-distance loss such as GWD or KLD), or use labcore.ops.bbox_overlaps on "
        "axis-aligned boxes, which is differentiable."
    )


torch.library.register_autograd("lab::box_iou_rotated", _box_iou_rotated_backward)
