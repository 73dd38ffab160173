"""Classification losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labcls.registry import MODELS


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy with optional label smoothing, for hard or soft targets.

    Targets are either class indices (``Tensor[B]``, int64) or class probabilities
    (``Tensor[B, K]``, float, each row summing to 1, as Mixup and CutMix produce). With
    ``label_smoothing = eps`` the target becomes ``(1 - eps) * target + eps / K``.

    Args:
        label_smoothing: eps in [0, 1).
        loss_weight: factor applied to the mean loss.
        class_weight: optional per-class weights (K floats).
    """

    def __init__(
        self,
        *,
        label_smoothing: float = 0.0,
        loss_weight: float = 1.0,
        class_weight: list[float] | None = None,
    ):
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing
        self.loss_weight = loss_weight
        weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float)
        self.register_buffer("class_weight", weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean loss over the batch.

        Args:
            logits: Tensor[B, K].
            target: Tensor[B] class indices or Tensor[B, K] class probabilities.
        """
        if target.dim() == 2:
            target = target.to(logits.dtype)
        loss = F.cross_entropy(
            logits, target, weight=self.class_weight, label_smoothing=self.label_smoothing
        )
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}, loss_weight={self.loss_weight}"
