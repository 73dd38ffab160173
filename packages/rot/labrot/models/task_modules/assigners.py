"""Assigners on rotated boxes: labdet's rules, with rotated IoU or the IoU of outer boxes."""

from __future__ import annotations

from torch import Tensor

from labcore.ops import box_iou, box_iou_rotated
from labdet.models.task_modules.assigners import MaxIoUAssigner
from labrot.registry import TASK_UTILS
from labrot.structures import hbox_of


@TASK_UTILS.register_module()
class RotatedMaxIoUAssigner(MaxIoUAssigner):
    """labdet's :class:`~labdet.models.task_modules.assigners.MaxIoUAssigner` (thresholds,
    ignore band, low-quality matches) on rotated boxes Tensor[N, 5] ``(cx, cy, w, h, a)``,
    with :func:`labcore.ops.box_iou_rotated` as the overlap."""

    def overlaps(self, gt_boxes: Tensor, anchors: Tensor) -> Tensor:
        return box_iou_rotated(gt_boxes.detach(), anchors.detach())


@TASK_UTILS.register_module()
class OuterBoxMaxIoUAssigner(MaxIoUAssigner):
    """labdet's :class:`~labdet.models.task_modules.assigners.MaxIoUAssigner` between rotated
    ground truths Tensor[G, 5] and axis-aligned anchors, Tensor[N, 4] ``(x1, y1, x2, y2)``
    or rotated anchors Tensor[N, 5] (their outer boxes are used): the overlap is the plain
    IoU of each ground truth's outer axis-aligned box with the anchor (the oriented RPN's
    rule; MMRotate's ``RBbox2HBboxOverlaps2D``, and its "hbb" Rotated RetinaNet)."""

    def overlaps(self, gt_boxes: Tensor, anchors: Tensor) -> Tensor:
        anchors = anchors.detach()
        if anchors.shape[-1] == 5:
            anchors = hbox_of(anchors)
        return box_iou(hbox_of(gt_boxes.detach()), anchors)
