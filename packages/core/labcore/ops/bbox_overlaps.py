"""Overlaps of axis-aligned boxes: IoU, IoF and GIoU, pairwise or aligned."""

from __future__ import annotations

import torch
from torch import Tensor

from labcore.errors import LabError

MODES = {"iou": 0, "iof": 1, "giou": 2}


def bbox_overlaps(
    boxes1: Tensor, boxes2: Tensor, mode: str = "iou", aligned: bool = False, eps: float = 1e-6
) -> Tensor:
    """Overlaps between two sets of boxes (x1, y1, x2, y2), for large sets.

    Args:
        boxes1 (Tensor[N, 4]), boxes2 (Tensor[M, 4]): same dtype and device.
        mode: ``'iou'`` intersection over union, ``'iof'`` intersection over the area of
            ``boxes1`` (foreground), ``'giou'`` generalised IoU, in [-1, 1].
        aligned: False gives Tensor[N, M] for every pair; True needs N == M and gives
            Tensor[N], the overlap of ``boxes1[i]`` with ``boxes2[i]``.
        eps: lower bound of the union (and of the enclosing area for giou), so degenerate
            boxes give 0 instead of nan.

    Not differentiable (use plain tensor ops for IoU losses).
    """
    if mode not in MODES:
        raise LabError(f"bbox_overlaps: mode must be one of {sorted(MODES)}, got {mode!r}")
    return torch.ops.lab.bbox_overlaps(boxes1, boxes2, MODES[mode], bool(aligned), float(eps))


@torch.library.register_fake("lab::bbox_overlaps")
def _(boxes1, boxes2, mode, aligned, eps):
    if aligned:
        return boxes1.new_empty((boxes1.shape[0],))
    return boxes1.new_empty((boxes1.shape[0], boxes2.shape[0]))
