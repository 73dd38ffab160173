"""Assigners: decide which ground-truth box, if any, each anchor (or point) learns from.

Every assigner returns ``matched`` (Tensor[N] int64) over the N anchors: ``>= 0`` is the
index of the assigned ground-truth box, :data:`NEGATIVE` (-1) marks background and
:data:`IGNORE` (-2) an anchor that takes part in no loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from labcore.ops import box_iou
from labdet.registry import TASK_UTILS

NEGATIVE = -1
IGNORE = -2


def _all_negative(num_anchors: int, device: torch.device) -> Tensor:
    return torch.full((num_anchors,), NEGATIVE, dtype=torch.int64, device=device)


@TASK_UTILS.register_module()
class MaxIoUAssigner:
    """Each anchor takes the ground truth it overlaps most, if the IoU is high enough.

    IoU >= ``pos_iou_thr``: positive; IoU < ``neg_iou_thr``: negative; in between: ignored.
    With ``allow_low_quality_matches`` every ground truth also keeps the anchors that reach
    its own highest IoU (ties included), even below ``pos_iou_thr``, so no object goes
    without a positive. Same rule as torchvision's ``Matcher``.
    """

    def __init__(
        self, *, pos_iou_thr: float, neg_iou_thr: float, allow_low_quality_matches: bool = False
    ):
        if neg_iou_thr > pos_iou_thr:
            raise ValueError(
                f"MaxIoUAssigner: neg_iou_thr ({neg_iou_thr}) must not exceed "
                f"pos_iou_thr ({pos_iou_thr})"
            )
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.allow_low_quality_matches = allow_low_quality_matches

    def overlaps(self, gt_boxes: Tensor, anchors: Tensor) -> Tensor:
        """IoU Tensor[G, N] of every ground truth with every anchor; a subclass that
        matches other kinds of boxes (e.g. rotated ones) overrides this alone."""
        return box_iou(gt_boxes, anchors)

    def assign(self, anchors: Tensor, gt_boxes: Tensor, **_) -> Tensor:
        """``matched`` Tensor[N] for ``anchors`` (Tensor[N, 4]) and ``gt_boxes`` (Tensor[G, 4])."""
        if gt_boxes.numel() == 0:
            return _all_negative(len(anchors), anchors.device)
        iou = self.overlaps(gt_boxes, anchors)  # [G, N]
        best_iou, matched = iou.max(dim=0)
        low_quality_candidates = matched.clone()
        matched[best_iou < self.neg_iou_thr] = NEGATIVE
        matched[(best_iou >= self.neg_iou_thr) & (best_iou < self.pos_iou_thr)] = IGNORE
        if self.allow_low_quality_matches:
            best_per_gt, _ = iou.max(dim=1)
            _, anchor_idx = torch.where(iou == best_per_gt[:, None])
            matched[anchor_idx] = low_quality_candidates[anchor_idx]
        return matched


@TASK_UTILS.register_module()
class CenterRegionAssigner:
    """FCOS assignment: a point is positive for a box that contains it near the box centre.

    A point (anchor centre) matches a box when it lies inside the box, within
    ``center_radius`` anchor sizes of the box centre, and the largest of its four distances
    to the box edges falls in the level's range ``(4 s, 8 s)`` for anchor size ``s`` (first
    level from 0, last level unbounded). Among several matches the smallest box wins.
    Same rule as torchvision's FCOS.
    """

    def __init__(self, *, center_radius: float = 1.5):
        self.center_radius = center_radius

    def assign(
        self, anchors: Tensor, gt_boxes: Tensor, *, num_anchors_per_level: Sequence[int], **_
    ) -> Tensor:
        """``matched`` Tensor[N]; ``num_anchors_per_level`` gives N_i per level (sum N)."""
        if gt_boxes.numel() == 0:
            return _all_negative(len(anchors), anchors.device)
        gt_centers = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
        anchor_centers = (anchors[:, :2] + anchors[:, 2:]) / 2
        anchor_sizes = anchors[:, 2] - anchors[:, 0]
        center_offset = (anchor_centers[:, None, :] - gt_centers[None, :, :]).abs()
        match = center_offset.max(dim=2).values < self.center_radius * anchor_sizes[:, None]

        x, y = anchor_centers.unsqueeze(dim=2).unbind(dim=1)
        x0, y0, x1, y1 = gt_boxes.unsqueeze(dim=0).unbind(dim=2)
        edge_distances = torch.stack([x - x0, y - y0, x1 - x, y1 - y], dim=2)  # [N, G, 4]
        match &= edge_distances.min(dim=2).values > 0

        lower = anchor_sizes * 4
        lower[: num_anchors_per_level[0]] = 0
        upper = anchor_sizes * 8
        upper[-num_anchors_per_level[-1] :] = float("inf")
        reach = edge_distances.max(dim=2).values
        match &= (reach > lower[:, None]) & (reach < upper[:, None])

        gt_areas = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
        preference = match.to(torch.float32) * (1e8 - gt_areas[None, :])
        best, matched = preference.max(dim=1)
        matched[best < 1e-5] = NEGATIVE
        return matched


@TASK_UTILS.register_module()
class ATSSAssigner:
    """Adaptive Training Sample Selection (Zhang et al., CVPR 2020).

    For each ground truth, the ``topk`` anchors per level closest to its centre are the
    candidates; those whose IoU reaches the candidates' mean + std and whose centre lies
    inside the box are positive. An anchor positive for several boxes takes the one of
    highest IoU. Everything else is negative.
    """

    def __init__(self, *, topk: int = 9):
        self.topk = topk

    def assign(
        self, anchors: Tensor, gt_boxes: Tensor, *, num_anchors_per_level: Sequence[int], **_
    ) -> Tensor:
        """``matched`` Tensor[N]; ``num_anchors_per_level`` gives N_i per level (sum N)."""
        num_anchors = len(anchors)
        if gt_boxes.numel() == 0:
            return _all_negative(num_anchors, anchors.device)
        iou = box_iou(anchors, gt_boxes)  # [N, G]
        gt_centers = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
        anchor_centers = (anchors[:, :2] + anchors[:, 2:]) / 2
        distances = torch.cdist(anchor_centers, gt_centers)  # [N, G]

        candidates = []
        start = 0
        for count in num_anchors_per_level:
            k = min(self.topk, count)
            _, idx = distances[start : start + count].topk(k, dim=0, largest=False)
            candidates.append(idx + start)
            start += count
        candidates = torch.cat(candidates, dim=0)  # [C, G]
        candidate_iou = iou.gather(0, candidates)
        threshold = candidate_iou.mean(dim=0) + candidate_iou.std(dim=0)
        is_pos = candidate_iou >= threshold[None, :]

        cx = anchor_centers[candidates, 0]
        cy = anchor_centers[candidates, 1]
        inside = (
            (cx > gt_boxes[None, :, 0])
            & (cy > gt_boxes[None, :, 1])
            & (cx < gt_boxes[None, :, 2])
            & (cy < gt_boxes[None, :, 3])
        )
        is_pos &= inside

        positive_iou = torch.full_like(iou, -1.0)
        gt_index = torch.arange(len(gt_boxes), device=anchors.device).expand_as(candidates)
        positive_iou[candidates[is_pos], gt_index[is_pos]] = iou[
            candidates[is_pos], gt_index[is_pos]
        ]
        best, matched = positive_iou.max(dim=1)
        matched[best < 0] = NEGATIVE
        return matched
