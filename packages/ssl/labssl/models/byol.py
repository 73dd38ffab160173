"""BYOL (Grill et al., 2020, "Bootstrap Your Own Latent"): an online network predicts
the projection that a momentum target network makes of the other view."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from labssl.models.base import SelfSupervisedModel
from labssl.models.heads import build_module
from labssl.models.momentum import MomentumEncoder
from labssl.registry import MODELS


@MODELS.register_module()
class BYOL(SelfSupervisedModel):
    """BYOL: online projection ``neck(backbone(view))``, the head's predictor on it,
    regressed by ``2 - 2 cos`` onto the target network's projection of the other view;
    symmetrised over the two views. The target follows the online network with a
    momentum that rises from ``base_momentum`` (0.99 at batch 4096, 0.996 in the paper's
    table) to 1 on a cosine (``MomentumUpdateHook(schedule='cosine')``).

    Args:
        backbone, neck: configs or modules; the neck is the projection (``NonLinearNeck``,
            no last BatchNorm).
        head: a ``LatentPredictHead`` holding the predictor.
        base_momentum: the target's momentum at the start.
        data_preprocessor, init_cfg: as in :class:`SelfSupervisedModel`.
    """

    def __init__(
        self,
        *,
        backbone: dict | nn.Module,
        neck: dict | nn.Module,
        head: dict | nn.Module,
        base_momentum: float = 0.996,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(backbone=backbone, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.neck = build_module(neck)
        self.head = build_module(head)
        self.base_momentum = float(base_momentum)
        self.target = MomentumEncoder(nn.Sequential(self.backbone, self.neck))

    def init_weights(self) -> None:
        """Initialise the online network, then start the target as its copy."""
        super().init_weights()
        self.target.update(nn.Sequential(self.backbone, self.neck), momentum=0.0)

    def momentum_update(self, momentum: float) -> None:
        """target <- momentum * target + (1 - momentum) * online."""
        self.target.update(nn.Sequential(self.backbone, self.neck), momentum)

    def loss(self, views: list[Tensor], data_samples=None) -> dict[str, Tensor]:
        """views: two Tensor[B, 3, H, W] -> ``{'loss': l(1 -> 2) + l(2 -> 1)}``."""
        batch = views[0].shape[0]
        online = self.neck(self.backbone(torch.cat(views[:2], dim=0)))
        with torch.no_grad():
            target = self.target(torch.cat(views[:2], dim=0))
        loss = self.head(online[:batch], target[batch:]) + self.head(online[batch:], target[:batch])
        return {"loss": loss}
