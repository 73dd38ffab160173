"""Test-time suppression of rotated detections, and merging detections of image patches."""

from __future__ import annotations

import torch
from torch import Tensor

from labcore.ops import nms_rotated


def batched_nms_rotated(boxes: Tensor, scores: Tensor, labels: Tensor, iou_thr: float) -> Tensor:
    """Class-wise rotated NMS: indices (Tensor[K] int64, best first) of the kept ``boxes``.

    Args:
        boxes: Tensor[N, 5] (cx, cy, w, h, angle).
        scores: Tensor[N].
        labels: Tensor[N] int64; boxes of different labels never suppress each other.
        iou_thr: a box whose rotated IoU with a kept, higher-scored box of its label
            exceeds this is dropped.

    Boxes of each label are moved apart by an offset larger than every box's reach (the
    trick of torchvision's ``batched_nms``), so one call of
    :func:`labcore.ops.nms_rotated` suppresses all labels at once.
    """
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    boxes = boxes.detach()
    reach = boxes[:, :2].abs().max() + boxes[:, 2:4].max() + 1
    shifted = boxes.clone()
    shifted[:, :2] += (labels.to(boxes.dtype) * 2 * reach)[:, None]
    return nms_rotated(shifted, scores.detach().to(boxes.dtype), iou_thr)
