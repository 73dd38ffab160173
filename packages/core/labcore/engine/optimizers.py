"""Optimizers that torch lacks, registered in labcore's OPTIMIZERS."""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from labcore.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class LARS(Optimizer):
    """Layer-wise Adaptive Rate Scaling (You et al., 2017), SGD with momentum whose step
    for each parameter tensor w with gradient g is scaled by the trust ratio

        local_lr = eta * ||w|| / (||g|| + weight_decay * ||w|| + eps)

    (1 when ||w|| or ||g|| is 0, or for a group with ``lars_exclude=True``, as biases
    and BatchNorm are in SimCLR and BYOL), then

        d = local_lr * lr * (g + weight_decay * w);  v = momentum * v + d;  w = w - v

    (``nesterov``: w = w - (d + momentum * v)). The update of MMPretrain's LARS and of the
    SimCLR and BYOL recipes.

    Args:
        params: parameters or parameter groups; a group may set ``lars_exclude``.
        lr: the base learning rate.
        momentum, weight_decay, nesterov: as in SGD.
        eta: the trust coefficient (0.001).
        eps: added to the denominator of the trust ratio.
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        eta: float = 0.001,
        nesterov: bool = False,
        eps: float = 0.0,
    ):
        if lr < 0.0:
            raise ValueError(f"LARS: invalid learning rate {lr}")
        if momentum < 0.0 or weight_decay < 0.0 or eta < 0.0:
            raise ValueError(
                f"LARS: momentum, weight_decay and eta must be >= 0, got {momentum}, "
                f"{weight_decay}, {eta}"
            )
        if nesterov and momentum <= 0:
            raise ValueError("LARS: nesterov needs a momentum > 0")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            eta=eta,
            nesterov=nesterov,
            eps=eps,
            lars_exclude=False,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            wd, momentum, eta = group["weight_decay"], group["momentum"], group["eta"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                local_lr = 1.0
                if not group["lars_exclude"]:
                    weight_norm, grad_norm = (
                        torch.linalg.vector_norm(p),
                        torch.linalg.vector_norm(grad),
                    )
                    if weight_norm > 0 and grad_norm > 0:
                        local_lr = float(
                            eta * weight_norm / (grad_norm + wd * weight_norm + group["eps"])
                        )
                step = grad.add(p, alpha=wd).mul_(local_lr * group["lr"])
                if momentum != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = step.clone()
                    else:
                        state["momentum_buffer"].mul_(momentum).add_(step)
                    buf = state["momentum_buffer"]
                    step = step.add(buf, alpha=momentum) if group["nesterov"] else buf
                p.sub_(step)
        return loss
