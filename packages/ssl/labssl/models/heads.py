"""Loss heads: each holds a loss's hyper-parameters (and, for BYOL, the predictor)."""

from __future__ import annotations

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from labssl.models.losses import byol_loss, contrastive_loss
from labssl.registry import MODELS


def build_module(cfg: dict | nn.Module) -> nn.Module:
    """A module from a config dict (built in labssl MODELS); a module passes through."""
    return cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)


@MODELS.register_module()
class ContrastiveHead(BaseModule):
    """InfoNCE with a temperature: cross-entropy of ``[pos, neg] / temperature`` with
    the positive as the target (MoCo v2: 0.2; SimCLR: 0.1).

    ``forward(positive: Tensor[N, 1], negative: Tensor[N, K]) -> loss``.
    """

    def __init__(self, *, temperature: float, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg=init_cfg)
        self.temperature = temperature

    def forward(self, positive: Tensor, negative: Tensor) -> Tensor:
        return contrastive_loss(positive, negative, self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


@MODELS.register_module()
class LatentPredictHead(BaseModule):
    """BYOL's head: a predictor MLP on the online projection, regressed onto the
    (L2-normalised) target projection with ``2 - 2 cos``.

    ``forward(online: Tensor[B, D], target: Tensor[B, D]) -> loss``.
    """

    def __init__(self, *, predictor: dict | nn.Module, init_cfg: dict | list[dict] | None = None):
        super().__init__(init_cfg=init_cfg)
        self.predictor = build_module(predictor)

    def forward(self, online: Tensor, target: Tensor) -> Tensor:
        prediction = F.normalize(self.predictor(online), dim=1)
        return byol_loss(prediction, F.normalize(target, dim=1))
