"""SimCLR (Chen et al., 2020, "A Simple Framework for Contrastive Learning of Visual
Representations"): NT-Xent between two views of each image, the rest of the batch as
negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labssl.models.base import SelfSupervisedModel, concat_all_gather
from labssl.models.heads import build_module
from labssl.models.losses import nt_xent_pairs
from labssl.registry import MODELS


@MODELS.register_module()
class SimCLR(SelfSupervisedModel):
    """SimCLR: ``z = neck(backbone(view))`` for both views of every image; each z's
    positive is its image's other view, its negatives the other 2B - 2 projections of
    the (global) batch; cosine similarities over the head's temperature (0.1), as in
    :func:`labssl.models.losses.nt_xent_loss`.

    Args:
        backbone, neck: configs or modules; the neck is the non-linear projection
            (``NonLinearNeck``) to Tensor[B, D].
        head: a ``ContrastiveHead`` (temperature).
        data_preprocessor, init_cfg: as in :class:`SelfSupervisedModel`.
    """

    def __init__(
        self,
        *,
        backbone: dict | nn.Module,
        neck: dict | nn.Module,
        head: dict | nn.Module,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(backbone=backbone, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.neck = build_module(neck)
        self.head = build_module(head)

    def loss(self, views: list[Tensor], data_samples=None) -> dict[str, Tensor]:
        """views: two Tensor[B, 3, H, W] -> ``{'loss': NT-Xent}``."""
        batch = views[0].shape[0]
        z = F.normalize(self.neck(self.backbone(torch.cat(views[:2], dim=0))), dim=1)
        # rows i and i + B of z are the two views of image i
        z = torch.cat([concat_all_gather_with_grad(part) for part in (z[:batch], z[batch:])])
        positive, negative = nt_xent_pairs(z)
        return {"loss": self.head(positive, negative)}


def concat_all_gather_with_grad(tensor: Tensor) -> Tensor:
    """Every process's ``tensor`` along dim 0, the local part keeping its gradient."""
    from mmengine.dist import get_rank, get_world_size

    if get_world_size() == 1:
        return tensor
    gathered = list(concat_all_gather(tensor).chunk(get_world_size()))
    gathered[get_rank()] = tensor
    return torch.cat(gathered, dim=0)
