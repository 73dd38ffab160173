"""One-to-one assignment of predictions to ground truths by minimum total cost (DETR)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from labdet.models.task_modules.assigners import NEGATIVE
from labdet.models.utils import build
from labdet.registry import TASK_UTILS


@TASK_UTILS.register_module()
class HungarianAssigner:
    """Match every ground truth to its own prediction so that the summed cost is minimal
    (Kuhn-Munkres, by ``scipy.optimize.linear_sum_assignment``); the other predictions
    are background.

    Args:
        match_costs: TASK_UTILS configs or objects of the costs summed into the cost
            matrix (see :mod:`labdet.models.task_modules.match_costs`).
    """

    def __init__(self, *, match_costs: Sequence):
        self.match_costs = [build(cost, TASK_UTILS) for cost in match_costs]

    def cost_matrix(self, **inputs) -> Tensor:
        """The summed costs Tensor[Q, G] (arguments as :meth:`assign`)."""
        return sum(cost(**inputs) for cost in self.match_costs)

    @torch.no_grad()
    def assign(
        self,
        *,
        pred_logits: Tensor,
        pred_boxes: Tensor,
        gt_labels: Tensor,
        gt_boxes: Tensor,
        img_shape: tuple[int, int],
    ) -> Tensor:
        """``matched`` Tensor[Q] int64: the ground-truth index of each prediction, or
        NEGATIVE (-1).

        Args:
            pred_logits (Tensor[Q, K]): classification logits.
            pred_boxes (Tensor[Q, 4]): (cx, cy, w, h) normalised by the image size.
            gt_labels (Tensor[G] int64), gt_boxes (Tensor[G, 4]): the ground truth, boxes
                as ``pred_boxes``.
            img_shape: (h, w) the boxes are normalised by.

        With Q < G only Q ground truths are matched.
        """
        matched = torch.full(
            (len(pred_boxes),), NEGATIVE, dtype=torch.int64, device=pred_boxes.device
        )
        if len(gt_boxes) == 0 or len(pred_boxes) == 0:
            return matched
        cost = self.cost_matrix(
            pred_logits=pred_logits,
            pred_boxes=pred_boxes,
            gt_labels=gt_labels,
            gt_boxes=gt_boxes,
            img_shape=img_shape,
        )
        rows, cols = linear_sum_assignment(cost.detach().cpu().double().numpy())
        rows = torch.from_numpy(rows).to(matched.device)
        matched[rows] = torch.from_numpy(cols).to(matched.device)
        return matched
