"""Soft non-maximum suppression (Bodla et al., "Soft-NMS: Improving Object Detection With
One Line of Code"): instead of dropping the boxes that overlap a kept box, lower their
scores, and drop a box only once its score falls below ``min_score``."""

from __future__ import annotations

import torch
from torch import Tensor

from labcore.errors import LabError

METHODS = {"linear": 0, "gaussian": 1}


def soft_nms(
    boxes: Tensor,
    scores: Tensor,
    iou_threshold: float = 0.3,
    sigma: float = 0.5,
    min_score: float = 1e-3,
    method: str = "linear",
) -> tuple[Tensor, Tensor]:
    """Soft-NMS of axis-aligned boxes.

    Args:
        boxes (Tensor[N, 4]): (x1, y1, x2, y2).
        scores (Tensor[N]): same dtype as boxes.
        iou_threshold: ``'linear'`` only; overlaps up to this leave the score unchanged,
            larger ones multiply it by ``1 - iou``.
        sigma: ``'gaussian'`` only; scores are multiplied by ``exp(-iou**2 / sigma)``.
        min_score: boxes scored (initially or after decay) below this are dropped.
        method: ``'linear'`` or ``'gaussian'``.

    Returns:
        keep (Tensor[K] int64): indices of the kept boxes in the order they were selected,
        which is by decreasing decayed score (ties to the lower index);
        scores (Tensor[K]): their decayed scores. Not differentiable: a backward pass
        through them raises a LabError (at compile time under ``torch.compile``);
        ``scores[keep]`` gives the kept boxes' input scores with their gradient.
    """
    if method not in METHODS:
        raise LabError(f"soft_nms: method must be one of {sorted(METHODS)}, got {method!r}")
    if method == "gaussian" and sigma <= 0:
        raise LabError(f"soft_nms: sigma must be > 0 for the gaussian method, got {sigma}")
    return torch.ops.lab.soft_nms(
        boxes, scores, float(iou_threshold), float(sigma), float(min_score), METHODS[method]
    )


def batched_soft_nms(
    boxes: Tensor,
    scores: Tensor,
    idxs: Tensor,
    iou_threshold: float = 0.3,
    sigma: float = 0.5,
    min_score: float = 1e-3,
    method: str = "linear",
) -> tuple[Tensor, Tensor]:
    """Soft-NMS within each category: boxes of different ``idxs`` never decay each other.

    Args:
        boxes (Tensor[N, 4]), scores (Tensor[N]): as :func:`soft_nms`.
        idxs (Tensor[N] int): category of each box.

    Returns:
        keep (Tensor[K] int64) and scores (Tensor[K]), by decreasing decayed score over all
        categories.

    The categories are separated by shifting each one's boxes by a multiple of the largest
    coordinate (as torchvision's ``batched_nms``), in float64 so the shift costs no
    precision.
    """
    if boxes.numel() == 0:
        return soft_nms(boxes, scores, iou_threshold, sigma, min_score, method)
    if idxs.shape != scores.shape:
        raise LabError(
            f"batched_soft_nms: idxs must have the shape of scores {tuple(scores.shape)}, "
            f"got {tuple(idxs.shape)}"
        )
    wide = boxes.double()
    span = wide.max() - wide.min() + 1
    shifted = wide - wide.min() + (idxs.to(wide) * span)[:, None]
    keep, kept_scores = soft_nms(shifted, scores.double(), iou_threshold, sigma, min_score, method)
    return keep, kept_scores.to(scores.dtype)


@torch.library.register_fake("lab::soft_nms")
def _(boxes, scores, iou_threshold, sigma, min_score, method):
    kept = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty((kept,), dtype=torch.int64), scores.new_empty((kept,))


def _soft_nms_backward(ctx, grad_keep, grad_scores):
    raise LabError(
        "soft_nms and batched_soft_nms are not differentiable: no gradient reaches boxes or "
        "scores through the decayed scores they return. Detach the inputs (scores.detach()), "
        "or take the kept boxes' input scores with their gradient as scores[keep]."
    )


torch.library.register_autograd("lab::soft_nms", _soft_nms_backward)
