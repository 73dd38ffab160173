"""Fused sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection").

When the logits need a gradient, one kernel computes the loss (reduced without storing
per-element losses for ``mean``/``sum``) and its gradient in the same pass, sharing the
exponential and logarithm; the backward is then one multiplication. Without a gradient
only the loss is computed. Same result as :func:`torchvision.ops.sigmoid_focal_loss`,
with per-element weights added.
"""

from __future__ import annotations

import torch
from torch import Tensor

from labcore.errors import LabError

REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
    weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid focal loss, fused forward and backward.

    Args:
        inputs (Tensor[*]): logits, float16/bfloat16/float32/float64.
        targets (Tensor[*]): binary (or soft) labels of the shape of ``inputs``.
        alpha: weight of the positives in (0, 1); a negative value disables it.
        gamma: focusing exponent, >= 0.
        reduction: ``'none'`` (Tensor[*]), ``'mean'`` or ``'sum'`` (Tensor[]).
        weight (Tensor, optional): per-element weights, broadcastable to ``inputs``;
            they multiply each element's loss and receive no gradient.

    Returns:
        The loss; differentiable with respect to ``inputs`` only.
    """
    if reduction not in REDUCTIONS:
        raise LabError(
            f"sigmoid_focal_loss: reduction must be one of {sorted(REDUCTIONS)}, got {reduction!r}"
        )
    if gamma < 0:
        raise LabError(f"sigmoid_focal_loss: gamma must be >= 0, got {gamma}")
    if targets.requires_grad or (weight is not None and weight.requires_grad):
        raise LabError(
            "sigmoid_focal_loss: targets and weight receive no gradient; pass them detached "
            "(targets.detach(), weight.detach())"
        )
    targets = targets.to(inputs.dtype)
    if targets.shape != inputs.shape:
        raise LabError(
            f"sigmoid_focal_loss: targets must have the shape of inputs {tuple(inputs.shape)}, "
            f"got {tuple(targets.shape)}"
        )
    if weight is not None:
        weight = weight.to(inputs.dtype)
        if weight.shape != inputs.shape:
            weight = weight.expand_as(inputs).contiguous()
    args = (inputs, targets, weight, float(alpha), float(gamma), REDUCTIONS[reduction])
    if inputs.requires_grad and torch.is_grad_enabled():
        loss, _ = torch.ops.lab.sigmoid_focal_loss_with_grad(*args)
        return loss
    return torch.ops.lab.sigmoid_focal_loss(*args)


@torch.library.register_fake("lab::sigmoid_focal_loss")
def _(logits, targets, weight, alpha, gamma, reduction):
    if reduction == REDUCTIONS["none"]:
        return torch.empty_like(logits)
    return logits.new_empty(())


@torch.library.register_fake("lab::sigmoid_focal_loss_backward")
def _(grad, logits, targets, weight, alpha, gamma, reduction):
    return torch.empty_like(logits)


@torch.library.register_fake("lab::sigmoid_focal_loss_with_grad")
def _(logits, targets, weight, alpha, gamma, reduction):
    loss = torch.empty_like(logits) if reduction == REDUCTIONS["none"] else logits.new_empty(())
    return loss, torch.empty_like(logits)


def _setup_context(ctx, inputs, output):
    logits, targets, weight, alpha, gamma, reduction = inputs
    ctx.save_for_backward(logits, targets, weight)
    ctx.alpha, ctx.gamma, ctx.reduction = alpha, gamma, reduction


def _backward(ctx, grad):
    logits, targets, weight = ctx.saved_tensors
    grad_logits = torch.ops.lab.sigmoid_focal_loss_backward(
        grad, logits, targets, weight, ctx.alpha, ctx.gamma, ctx.reduction
    )
    return grad_logits, None, None, None, None, None


torch.library.register_autograd("lab::sigmoid_focal_loss", _backward, setup_context=_setup_context)


def _setup_context_with_grad(ctx, inputs, output):
    _, grad_logits = output
    ctx.mark_non_differentiable(grad_logits)
    ctx.save_for_backward(grad_logits)


def _backward_with_grad(ctx, grad, _unused):
    (grad_logits,) = ctx.saved_tensors
    return grad * grad_logits, None, None, None, None, None


torch.library.register_autograd(
    "lab::sigmoid_focal_loss_with_grad",
    _backward_with_grad,
    setup_context=_setup_context_with_grad,
)
