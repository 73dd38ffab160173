"""Assigners on rotated boxes: labdet's rules, with rotated IoU."""

from __future__ import annotations

from torch import Tensor

from labcore.ops import box_iou_rotated
from labdet.models.task_modules.assigners import MaxIoUAssigner
from labrot.registry import TASK_UTILS


@TASK_UTILS.register_module()
class RotatedMaxIoUAssigner(MaxIoUAssigner):
    """labdet's :class:`~labdet.models.task_modules.assigners.MaxIoUAssigner` (thresholds,
    ignore band, low-quality matches) on rotated boxes Tensor[N, 5] ``(cx, cy, w, h, a)``,
    with :func:`labcore.ops.box_iou_rotated` as the overlap."""

    def overlaps(self, gt_boxes: Tensor, anchors: Tensor) -> Tensor:
        return box_iou_rotated(gt_boxes.detach(), anchors.detach())
