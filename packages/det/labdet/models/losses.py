"""Detection losses. Each returns ``loss_weight * sum(elementwise loss) / avg_factor``.

``avg_factor`` is what the sum is divided by (e.g. the number of positive anchors, at
least 1); a head computes it once and hands it to both its losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labcore.ops import sigmoid_focal_loss
from labdet.registry import MODELS


class _WeightedLoss(nn.Module):
    def __init__(self, *, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def _reduce(self, elementwise: Tensor, avg_factor: float | Tensor) -> Tensor:
        return self.loss_weight * elementwise.sum() / avg_factor


@MODELS.register_module()
class FocalLoss(_WeightedLoss):
    """Sigmoid focal loss (Lin et al., 2017) on logits Tensor[N, K] and 0/1 targets Tensor[N, K]."""

    def __init__(self, *, alpha: float = 0.25, gamma: float = 2.0, loss_weight: float = 1.0):
        super().__init__(loss_weight=loss_weight)
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, logits: Tensor, targets: Tensor, *, avg_factor: float | Tensor) -> Tensor:
        loss = sigmoid_focal_loss(
            logits, targets.to(logits.dtype), alpha=self.alpha, gamma=self.gamma, reduction="sum"
        )
        return self.loss_weight * loss / avg_factor


@MODELS.register_module()
class L1Loss(_WeightedLoss):
    """Absolute difference of Tensor[N, 4] regression outputs and targets."""

    def forward(self, pred: Tensor, target: Tensor, *, avg_factor: float | Tensor) -> Tensor:
        return self._reduce((pred - target).abs(), avg_factor)


@MODELS.register_module()
class SmoothL1Loss(_WeightedLoss):
    """Huber-style loss: quadratic below ``beta``, linear above (``beta = 0`` is L1)."""

    def __init__(self, *, beta: float = 1.0 / 9, loss_weight: float = 1.0):
        super().__init__(loss_weight=loss_weight)
        self.beta = beta

    def forward(self, pred: Tensor, target: Tensor, *, avg_factor: float | Tensor) -> Tensor:
        return self._reduce(
            F.smooth_l1_loss(pred, target, beta=self.beta, reduction="none"), avg_factor
        )


def generalized_box_iou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """Elementwise GIoU of ``boxes1`` and ``boxes2`` (both Tensor[N, 4], x1 y1 x2 y2): Tensor[N]."""
    x1 = torch.max(boxes1[:, 0], boxes2[:, 0])
    y1 = torch.max(boxes1[:, 1], boxes2[:, 1])
    x2 = torch.min(boxes1[:, 2], boxes2[:, 2])
    y2 = torch.min(boxes1[:, 3], boxes2[:, 3])
    inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    union = area1 + area2 - inter
    iou = inter / (union + eps)
    hull_w = torch.max(boxes1[:, 2], boxes2[:, 2]) - torch.min(boxes1[:, 0], boxes2[:, 0])
    hull_h = torch.max(boxes1[:, 3], boxes2[:, 3]) - torch.min(boxes1[:, 1], boxes2[:, 1])
    hull = hull_w * hull_h
    return iou - (hull - union) / (hull + eps)


@MODELS.register_module()
class GIoULoss(_WeightedLoss):
    """``1 - GIoU`` of predicted and target boxes (Tensor[N, 4], x1 y1 x2 y2), optionally weighted."""

    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        *,
        avg_factor: float | Tensor,
        weight: Tensor | None = None,
    ) -> Tensor:
        loss = 1 - generalized_box_iou(pred, target)
        if weight is not None:
            loss = loss * weight
        return self._reduce(loss, avg_factor)


@MODELS.register_module()
class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross entropy on logits Tensor[N, C] and class indices Tensor[N], or, with
    ``use_sigmoid``, binary cross entropy on logits and 0/1 targets of the same shape."""

    def __init__(self, *, use_sigmoid: bool = False, loss_weight: float = 1.0):
        super().__init__(loss_weight=loss_weight)
        self.use_sigmoid = use_sigmoid

    def forward(self, logits: Tensor, targets: Tensor, *, avg_factor: float | Tensor) -> Tensor:
        if self.use_sigmoid:
            loss = F.binary_cross_entropy_with_logits(
                logits, targets.to(logits.dtype), reduction="none"
            )
        else:
            loss = F.cross_entropy(logits, targets, reduction="none")
        return self._reduce(loss, avg_factor)


@MODELS.register_module()
class QualityFocalLoss(_WeightedLoss):
    """Quality focal loss of GFL (Li et al., NeurIPS 2020) on logits Tensor[N, K] and soft
    targets Tensor[N, K] in [0, 1] (the IoU of a positive's box at its class, 0 elsewhere):
    ``BCE(logits, targets) * |sigmoid(logits) - targets| ** beta``, summed."""

    def __init__(self, *, beta: float = 2.0, loss_weight: float = 1.0):
        super().__init__(loss_weight=loss_weight)
        self.beta = beta

    def forward(self, logits: Tensor, targets: Tensor, *, avg_factor: float | Tensor) -> Tensor:
        targets = targets.to(logits.dtype)
        modulator = (logits.sigmoid() - targets).abs().pow(self.beta)
        bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        return self._reduce(bce * modulator, avg_factor)


@MODELS.register_module()
class DistributionFocalLoss(_WeightedLoss):
    """Distribution focal loss of GFL on bin logits Tensor[N, n + 1] and continuous targets
    Tensor[N] in [0, n): cross entropy towards the two bins around each target, weighted by
    its distance to the other one. ``weight`` (Tensor[N]) scales each row."""

    def forward(
        self,
        logits: Tensor,
        targets: Tensor,
        *,
        avg_factor: float | Tensor,
        weight: Tensor | None = None,
    ) -> Tensor:
        left = targets.long()
        right = left + 1
        weight_left = right.to(targets.dtype) - targets
        weight_right = targets - left.to(targets.dtype)
        loss = (
            F.cross_entropy(logits, left, reduction="none") * weight_left
            + F.cross_entropy(logits, right, reduction="none") * weight_right
        )
        if weight is not None:
            loss = loss * weight
        return self._reduce(loss, avg_factor)
