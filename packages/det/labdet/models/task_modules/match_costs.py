"""Pairwise costs of matching Q predictions with G ground truths (DETR's bipartite
matching). Every cost is called with keyword arguments

    pred_logits (Tensor[Q, K]), pred_boxes (Tensor[Q, 4]), gt_labels (Tensor[G] int64),
    gt_boxes (Tensor[G, 4]), img_shape ((h, w))

boxes as (cx, cy, w, h) normalised by the image size, and returns Tensor[Q, G] scaled by
its ``weight``; lower is a better match.
"""

from __future__ import annotations

from torch import Tensor
from torchvision.ops import box_convert, generalized_box_iou

from labdet.registry import TASK_UTILS


@TASK_UTILS.register_module()
class FocalLossCost:
    """Focal-loss classification cost at each ground truth's class: the focal loss of
    calling it positive minus that of calling it negative,
    ``alpha (1 - p)^gamma (-log p) - (1 - alpha) p^gamma (-log(1 - p))``, p the sigmoid
    probability (``eps`` inside the logs)."""

    def __init__(
        self, *, weight: float = 1.0, alpha: float = 0.25, gamma: float = 2.0, eps: float = 1e-12
    ):
        self.weight = weight
        self.alpha = alpha
        self.gamma = gamma
        self.eps = eps

    def __call__(self, *, pred_logits: Tensor, gt_labels: Tensor, **_) -> Tensor:
        prob = pred_logits.sigmoid()
        neg = -(1 - prob + self.eps).log() * (1 - self.alpha) * prob.pow(self.gamma)
        pos = -(prob + self.eps).log() * self.alpha * (1 - prob).pow(self.gamma)
        return (pos[:, gt_labels] - neg[:, gt_labels]) * self.weight


@TASK_UTILS.register_module()
class BBoxL1Cost:
    """L1 distance of the normalised (cx, cy, w, h) boxes."""

    def __init__(self, *, weight: float = 1.0):
        self.weight = weight

    def __call__(self, *, pred_boxes: Tensor, gt_boxes: Tensor, **_) -> Tensor:
        return (pred_boxes[:, None, :] - gt_boxes[None, :, :]).abs().sum(-1) * self.weight


@TASK_UTILS.register_module()
class GIoUCost:
    """``-GIoU`` of the boxes in pixels (x1, y1, x2, y2 scaled by the image size)."""

    def __init__(self, *, weight: float = 1.0):
        self.weight = weight

    def __call__(
        self, *, pred_boxes: Tensor, gt_boxes: Tensor, img_shape: tuple[int, int], **_
    ) -> Tensor:
        height, width = img_shape
        scale = pred_boxes.new_tensor([width, height, width, height])
        pred = box_convert(pred_boxes, "cxcywh", "xyxy") * scale
        gt = box_convert(gt_boxes, "cxcywh", "xyxy") * scale
        return -generalized_box_iou(pred, gt) * self.weight
