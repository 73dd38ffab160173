"""Overlaps of axis-aligned boxes: IoU, IoF and GIoU, pairwise or aligned, differentiable."""

from __future__ import annotations

import torch
from torch import Tensor

from labcore.errors import LabError

MODES = {"iou": 0, "iof": 1, "giou": 2}


def bbox_overlaps(
    boxes1: Tensor, boxes2: Tensor, mode: str = "iou", aligned: bool = False, eps: float = 1e-6
) -> Tensor:
    """Overlaps between two sets of boxes (x1, y1, x2, y2), for large sets.

    Args:
        boxes1 (Tensor[N, 4]), boxes2 (Tensor[M, 4]): same dtype and device.
        mode: ``'iou'`` intersection over union, ``'iof'`` intersection over the area of
            ``boxes1`` (foreground), ``'giou'`` generalised IoU, in [-1, 1].
        aligned: False gives Tensor[N, M] for every pair; True needs N == M and gives
            Tensor[N], the overlap of ``boxes1[i]`` with ``boxes2[i]``.
        eps: lower bound of the union (and of the enclosing area for giou), so degenerate
            boxes give 0 instead of nan.

    Differentiable with respect to both sets of boxes (for IoU and GIoU losses). The
    gradient is the one autograd gives for the same formula in torch ops: a clamped term
    passes none where the clamp is active (the intersection of disjoint boxes, a union or
    enclosing area below ``eps``), and a min or max of two equal coordinates splits it
    between them.
    """
    if mode not in MODES:
        raise LabError(f"bbox_overlaps: mode must be one of {sorted(MODES)}, got {mode!r}")
    return torch.ops.lab.bbox_overlaps(boxes1, boxes2, MODES[mode], bool(aligned), float(eps))


@torch.library.register_fake("lab::bbox_overlaps")
def _(boxes1, boxes2, mode, aligned, eps):
    if aligned:
        return boxes1.new_empty((boxes1.shape[0],))
    return boxes1.new_empty((boxes1.shape[0], boxes2.shape[0]))


@torch.library.register_fake("lab::bbox_overlaps_backward")
def _(grad, boxes1, boxes2, mode, aligned, eps):
    return boxes1.new_empty((boxes1.shape[0], 4)), boxes2.new_empty((boxes2.shape[0], 4))


def _setup_context(ctx, inputs, output):
    boxes1, boxes2, mode, aligned, eps = inputs
    ctx.save_for_backward(boxes1, boxes2)
    ctx.mode, ctx.aligned, ctx.eps = mode, aligned, eps


def _backward(ctx, grad):
    boxes1, boxes2 = ctx.saved_tensors
    grad1, grad2 = torch.ops.lab.bbox_overlaps_backward(
        grad, boxes1, boxes2, ctx.mode, ctx.aligned, ctx.eps
    )
    return grad1, grad2, None, None, None


torch.library.register_autograd("lab::bbox_overlaps", _backward, setup_context=_setup_context)
