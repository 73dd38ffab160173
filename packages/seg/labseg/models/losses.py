"""Pixel-wise segmentation losses: cross-entropy and Dice.

Both take logits ``Tensor[B, K, H, W]``, labels ``LongTensor[B, H, W]`` whose pixels equal
to ``ignore_index`` do not count, and an optional per-pixel ``weight`` ``Tensor[B, H, W]``
(from a pixel sampler). Each returns a scalar multiplied by its ``loss_weight`` and is
reported under ``loss_name``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labcore.errors import ConfigError
from labseg.registry import MODELS


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy per pixel.

    Args:
        class_weight: one weight per class, multiplying the loss of its pixels.
        loss_weight: factor of the whole loss.
        avg_non_ignore: average over the pixels that are not ignored (with class weights:
            over the sum of their weights, as ``F.cross_entropy(reduction='mean')``);
            False averages over all pixels, ignored ones counting 0 (MMSegmentation's
            default, kept for its published configs).
        loss_name: key of the loss in the losses dict; it must start with ``loss_``.
    """

    def __init__(
        self,
        *,
        class_weight: Sequence[float] | None = None,
        loss_weight: float = 1.0,
        avg_non_ignore: bool = False,
        loss_name: str = "loss_ce",
    ):
        super().__init__()
        if not loss_name.startswith("loss_"):
            raise ConfigError(
                f"loss_name '{loss_name}' must start with 'loss_' so the runner adds it to "
                f"the total loss; rename it, e.g. 'loss_{loss_name}'."
            )
        self.register_buffer(
            "class_weight",
            None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32),
            persistent=False,
        )
        self.loss_weight = loss_weight
        self.avg_non_ignore = avg_non_ignore
        self.loss_name = loss_name

    def forward(
        self,
        logits: Tensor,
        labels: Tensor,
        *,
        weight: Tensor | None = None,
        ignore_index: int = 255,
    ) -> Tensor:
        """logits Tensor[B, K, H, W], labels LongTensor[B, H, W] -> scalar."""
        if self.class_weight is not None and self.class_weight.numel() != logits.shape[1]:
            raise ConfigError(
                f"CrossEntropyLoss has {self.class_weight.numel()} class weights for a head "
                f"with {logits.shape[1]} classes; give one weight per class."
            )
        class_weight = None if self.class_weight is None else self.class_weight.to(logits.dtype)
        loss = F.cross_entropy(
            logits, labels, weight=class_weight, reduction="none", ignore_index=ignore_index
        )
        if weight is not None:
            loss = loss * weight
        if self.avg_non_ignore:
            valid = labels != ignore_index
            if self.class_weight is None:
                denominator = valid.sum()
            else:
                denominator = class_weight[labels[valid]].sum()
            return self.loss_weight * loss.sum() / denominator.clamp(min=1e-12)
        return self.loss_weight * loss.mean()


@MODELS.register_module()
class DiceLoss(nn.Module):
    """1 - Dice coefficient of the softmax probabilities and the one-hot labels, per
    class, averaged over classes (V-Net's squared form):

        dice_k = (2 * sum(p_k * t_k) + smooth) / (sum(p_k ** exponent) + sum(t_k ** exponent) + smooth)

    summed over the non-ignored pixels of the batch.

    Args:
        smooth: added to numerator and denominator (keeps absent classes finite).
        exponent: power of the denominator's terms.
        loss_weight, loss_name: as :class:`CrossEntropyLoss`.
    """

    def __init__(
        self,
        *,
        smooth: float = 1.0,
        exponent: float = 2.0,
        loss_weight: float = 1.0,
        loss_name: str = "loss_dice",
    ):
        super().__init__()
        if not loss_name.startswith("loss_"):
            raise ConfigError(f"loss_name '{loss_name}' must start with 'loss_'.")
        self.smooth = smooth
        self.exponent = exponent
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(
        self,
        logits: Tensor,
        labels: Tensor,
        *,
        weight: Tensor | None = None,
        ignore_index: int = 255,
    ) -> Tensor:
        """logits Tensor[B, K, H, W], labels LongTensor[B, H, W] -> scalar."""
        num_classes = logits.shape[1]
        valid = (labels != ignore_index).float()
        if weight is not None:
            valid = valid * weight
        probs = logits.softmax(dim=1) * valid[:, None]
        one_hot = F.one_hot(labels.clamp(0, num_classes - 1), num_classes).permute(0, 3, 1, 2)
        one_hot = one_hot.float() * valid[:, None]
        dims = (0, 2, 3)
        numerator = 2 * (probs * one_hot).sum(dims) + self.smooth
        denominator = (
            probs.pow(self.exponent).sum(dims) + one_hot.pow(self.exponent).sum(dims) + self.smooth
        )
        return self.loss_weight * (1 - numerator / denominator).mean()
