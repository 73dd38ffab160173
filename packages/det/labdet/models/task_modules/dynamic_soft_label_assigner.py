"""RTMDet's dynamic soft-label assignment (Lyu et al., 2022): each ground truth takes the
``k`` cheapest points, ``k`` from the IoUs its best predictions reach, the cost mixing a
soft IoU-aware classification cost, an IoU cost and a soft centre prior."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from labcore.ops import bbox_overlaps
from labdet.models.task_modules.assigners import NEGATIVE
from labdet.registry import TASK_UTILS

EPS = 1e-7


def soft_label_class_cost(logits: Tensor, gt_labels: Tensor, ious: Tensor) -> Tensor:
    """Quality-focal cost Tensor[V, G] of predicting each ground truth's soft label.

    Point ``v`` paired with ground truth ``g`` is scored against the target ``ious[v, g]``
    at class ``gt_labels[g]`` and 0 at every other class:
    ``sum_k BCE(logit_k, target_k) * |target_k - sigmoid(logit_k)| ** 2``. Computed as the
    all-background cost plus the correction at the ground truth's class, without the
    Tensor[V, G, K] of soft labels.

    Args:
        logits: Tensor[V, K] class logits of the V points.
        gt_labels: Tensor[G] int64 classes of the ground truths.
        ious: Tensor[V, G] IoU of each point's predicted box with each ground truth.
    """
    background = F.binary_cross_entropy_with_logits(
        logits, torch.zeros_like(logits), reduction="none"
    ) * logits.sigmoid().pow(2)
    at_label = logits[:, gt_labels]  # [V, G]
    positive = F.binary_cross_entropy_with_logits(at_label, ious, reduction="none") * (
        ious - at_label.sigmoid()
    ).abs().pow(2)
    return background.sum(dim=1, keepdim=True) - background[:, gt_labels] + positive


@TASK_UTILS.register_module()
class DynamicSoftLabelAssigner:
    """Dynamic soft-label assignment of points to ground-truth boxes.

    Only points inside at least one ground-truth box are candidates (the others are
    negative). For candidate ``v`` and ground truth ``g`` the cost is
    ``soft_label_class_cost + iou_weight * -log(IoU + 1e-7) + 10 ** (d / s - soft_center_radius)``
    with IoU between the point's predicted box and the ground truth, ``d`` the distance
    of the point to the box centre and ``s`` the point's stride. Each ground truth keeps
    its ``k`` cheapest candidates, ``k = max(1, int(sum of its topk largest IoUs))``; a point
    kept by several ground truths goes to the cheapest. Same rule as MMDetection's
    ``DynamicSoftLabelAssigner`` (and SimOTA's dynamic k).

    Args:
        soft_center_radius: distance (in strides) at which the centre prior costs 1.
        topk: how many of a ground truth's best IoUs give its ``k``.
        iou_weight: weight of the IoU cost.
    """

    def __init__(self, *, soft_center_radius: float = 3.0, topk: int = 13, iou_weight: float = 3.0):
        self.soft_center_radius = soft_center_radius
        self.topk = topk
        self.iou_weight = iou_weight

    def assign(
        self,
        points: Tensor,
        gt_boxes: Tensor,
        *,
        strides: Tensor,
        gt_labels: Tensor,
        pred_boxes: Tensor,
        pred_logits: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Assign the N points of one image.

        Args:
            points: Tensor[N, 2] (x, y) of the points.
            gt_boxes: Tensor[G, 4] (x1, y1, x2, y2); gt_labels: Tensor[G] int64.
            strides: Tensor[N] the stride of each point's level.
            pred_boxes: Tensor[N, 4] each point's predicted box (detached).
            pred_logits: Tensor[N, K] each point's class logits (detached).

        Returns:
            (matched Tensor[N] int64: the index of the assigned ground truth or
            :data:`NEGATIVE`; ious Tensor[N]: the IoU of each positive's predicted box with
            its ground truth, 0 for negatives).
        """
        num_points = len(points)
        matched = torch.full((num_points,), NEGATIVE, dtype=torch.int64, device=points.device)
        matched_ious = pred_boxes.new_zeros(num_points)
        if len(gt_boxes) == 0:
            return matched, matched_ious
        inside = (
            torch.cat(
                [points[:, None] - gt_boxes[None, :, :2], gt_boxes[None, :, 2:] - points[:, None]],
                dim=-1,
            ).amin(dim=-1)
            > 0
        )  # [N, G]
        candidates = torch.where(inside.any(dim=1))[0]
        if len(candidates) == 0:
            return matched, matched_ious

        gt_centers = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
        distance = torch.cdist(points[candidates], gt_centers) / strides[candidates, None]
        center_cost = torch.pow(10.0, distance - self.soft_center_radius)
        ious = bbox_overlaps(pred_boxes[candidates], gt_boxes)  # [V, G]
        iou_cost = -torch.log(ious + EPS) * self.iou_weight
        class_cost = soft_label_class_cost(pred_logits[candidates], gt_labels, ious)
        cost = class_cost + iou_cost + center_cost

        num_candidates, num_gt = cost.shape
        top_ious = ious.topk(min(self.topk, num_candidates), dim=0).values
        dynamic_ks = top_ious.sum(dim=0).int().clamp(min=1).tolist()
        matching = torch.zeros_like(cost, dtype=torch.bool)
        for g, k in enumerate(dynamic_ks):
            matching[cost[:, g].topk(k, largest=False).indices, g] = True
        shared = matching.sum(dim=1) > 1
        if shared.any():
            cheapest = cost[shared].argmin(dim=1)
            matching[shared] = False
            matching[torch.where(shared)[0], cheapest] = True
        positive = matching.any(dim=1)
        gt_index = matching[positive].to(torch.uint8).argmax(dim=1)
        matched[candidates[positive]] = gt_index
        matched_ious[candidates[positive]] = ious[positive, gt_index]
        return matched, matched_ious
