"""Keypoint losses, each weighted per keypoint by ``target_weights`` Tensor[B, K]."""

from __future__ import annotations

import abc

import torch.nn.functional as F
from torch import Tensor, nn

from labpose.registry import MODELS


def _weights(target_weights: Tensor | None, use_target_weight: bool) -> Tensor | None:
    return target_weights if use_target_weight and target_weights is not None else None


@MODELS.register_module()
class KeypointMSELoss(nn.Module):
    """Mean squared error between heatmaps, Tensor[B, K, H, W], as SimpleBaseline.

    With ``use_target_weight`` each keypoint's squared error is multiplied by its weight
    (0 for unlabelled ones) before the mean over all B * K * H * W elements.
    """

    def __init__(self, *, use_target_weight: bool = True, loss_weight: float = 1.0):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self, output: Tensor, target: Tensor, target_weights: Tensor | None = None
    ) -> Tensor:
        loss = F.mse_loss(output, target, reduction="none")
        weights = _weights(target_weights, self.use_target_weight)
        if weights is not None:
            loss = loss * weights[:, :, None, None]
        return loss.mean() * self.loss_weight


@MODELS.register_module()
class KLDiscretLoss(nn.Module):
    """KL divergence between SimCC label distributions and the predicted ones.

    ``pred`` and ``target`` are pairs (x, y) of Tensor[B, K, W_axis]. The prediction is
    turned into log-probabilities by ``log_softmax(pred * beta)``; with
    ``label_softmax`` the labels are made a distribution by ``softmax(target * beta)``
    (RTMPose: beta 10). The loss is the per-keypoint mean over bins of
    ``target * (log target - log pred)``, weighted, summed over keypoints and both
    axes, divided by K (as MMPose's KLDiscretLoss).
    """

    def __init__(
        self,
        *,
        beta: float = 1.0,
        label_softmax: bool = False,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
    ):
        super().__init__()
        self.beta = beta
        self.label_softmax = label_softmax
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, pred, target, target_weights: Tensor | None = None) -> Tensor:
        num_keypoints = pred[0].shape[1]
        weights = _weights(target_weights, self.use_target_weight)
        loss = pred[0].new_zeros(())
        for output, labels in zip(pred, target):
            output = output.reshape(-1, output.shape[-1])
            labels = labels.reshape(-1, labels.shape[-1])
            log_probs = F.log_softmax(output * self.beta, dim=1)
            if self.label_softmax:
                labels = F.softmax(labels * self.beta, dim=1)
            per_keypoint = F.kl_div(log_probs, labels, reduction="none").mean(dim=1)
            if weights is not None:
                per_keypoint = per_keypoint * weights.reshape(-1)
            loss = loss + per_keypoint.sum()
        return loss / num_keypoints * self.loss_weight


class _CoordinateLoss(nn.Module, metaclass=abc.ABCMeta):
    def __init__(self, *, use_target_weight: bool = True, loss_weight: float = 1.0):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    @abc.abstractmethod
    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        """The per-coordinate loss of ``output`` against ``target`` (same shapes)."""

    def forward(
        self, output: Tensor, target: Tensor, target_weights: Tensor | None = None
    ) -> Tensor:
        """``output`` and ``target`` Tensor[B, K, D]; the mean over all elements."""
        loss = self.elementwise(output, target)
        weights = _weights(target_weights, self.use_target_weight)
        if weights is not None:
            loss = loss * weights[..., None]
        return loss.mean() * self.loss_weight


@MODELS.register_module()
class L1Loss(_CoordinateLoss):
    """Mean absolute error of coordinates Tensor[B, K, D], weighted per keypoint."""

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        return (output - target).abs()


@MODELS.register_module()
class SmoothL1Loss(_CoordinateLoss):
    """Huber loss of coordinates with threshold ``beta``, weighted per keypoint."""

    def __init__(
        self, *, beta: float = 1.0, use_target_weight: bool = True, loss_weight: float = 1.0
    ):
        super().__init__(use_target_weight=use_target_weight, loss_weight=loss_weight)
        self.beta = beta

    def elementwise(self, output: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(output, target, reduction="none", beta=self.beta)


__all__ = ["KLDiscretLoss", "KeypointMSELoss", "L1Loss", "SmoothL1Loss"]
