"""MoCo v2 (Chen et al., 2020, "Improved Baselines with Momentum Contrastive Learning"):
a query encoder trained by InfoNCE against a momentum key encoder and a queue of keys."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labssl.models.base import (
    SelfSupervisedModel,
    concat_all_gather,
    shuffle_batch,
    unshuffle_batch,
)
from labssl.models.heads import build_module
from labssl.models.momentum import MomentumEncoder
from labssl.registry import MODELS


@MODELS.register_module()
class MoCoV2(SelfSupervisedModel):
    """MoCo v2: ``q = normalize(neck(backbone(view 1)))``, ``k`` the same from the
    momentum encoder on view 2; InfoNCE of q against k and the ``queue_len`` keys of
    earlier batches, with the head's temperature (0.2). The batch's keys then replace
    the oldest ones in the queue.

    Args:
        backbone, neck: configs or modules; the neck maps the backbone's maps to
            Tensor[B, feat_dim] (``MoCoV2Neck``).
        head: a ``ContrastiveHead`` (temperature).
        queue_len: K, keys kept as negatives (65536 on ImageNet).
        feat_dim: D, the embedding width (128).
        base_momentum: m of the key encoder (0.999); see ``MomentumUpdateHook``.
        shuffle_bn: encode the keys of a batch shuffled across processes (MoCo's shuffled
            BN), so that a query and its positive key are not normalised by the same
            BatchNorm statistics, a shortcut that keeps the encoders from learning
            features. One process has one BatchNorm batch: give the backbone
            ``norm_cfg=dict(type='SplitBN', num_splits=G)`` to emulate G devices.
        data_preprocessor, init_cfg: as in :class:`SelfSupervisedModel`.

    Buffers: ``queue`` Tensor[K, D] (L2-normalised keys, oldest first after a wrap) and
    ``queue_ptr`` Tensor[1] (where the next batch of keys goes).
    """

    def __init__(
        self,
        *,
        backbone: dict | nn.Module,
        neck: dict | nn.Module,
        head: dict | nn.Module,
        queue_len: int = 65536,
        feat_dim: int = 128,
        base_momentum: float = 0.999,
        shuffle_bn: bool = True,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(backbone=backbone, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.neck = build_module(neck)
        self.head = build_module(head)
        self.base_momentum = float(base_momentum)
        self.shuffle_bn = shuffle_bn
        self.momentum_encoder = MomentumEncoder(nn.Sequential(self.backbone, self.neck))
        self.queue_len = queue_len
        self.register_buffer("queue", F.normalize(torch.randn(queue_len, feat_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def init_weights(self) -> None:
        """Initialise the query encoder, then start the key encoder as its copy."""
        super().init_weights()
        self.momentum_encoder.update(nn.Sequential(self.backbone, self.neck), momentum=0.0)

    def momentum_update(self, momentum: float) -> None:
        """key encoder <- momentum * key encoder + (1 - momentum) * query encoder."""
        self.momentum_encoder.update(nn.Sequential(self.backbone, self.neck), momentum)

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys`` (Tensor[B, D], of every process) over the oldest queue entries."""
        keys = concat_all_gather(keys)
        ptr, count = int(self.queue_ptr), keys.shape[0]
        if count > self.queue_len:
            raise ValueError(
                f"MoCoV2: a batch of {count} keys does not fit a queue of {self.queue_len}; "
                "raise queue_len above the global batch size."
            )
        index = (torch.arange(count, device=keys.device) + ptr) % self.queue_len
        self.queue[index] = keys
        self.queue_ptr[0] = (ptr + count) % self.queue_len

    @torch.no_grad()
    def encode_keys(self, view: Tensor) -> Tensor:
        """The key encoder's embeddings Tensor[B, D] (not normalised) of ``view``
        (Tensor[B, 3, H, W]), through the shuffled batch when ``shuffle_bn``."""
        if not self.shuffle_bn:
            return self.momentum_encoder(view)
        shuffled, restore = shuffle_batch(view)
        return unshuffle_batch(self.momentum_encoder(shuffled), restore)

    def loss(self, views: list[Tensor], data_samples=None) -> dict[str, Tensor]:
        """views: two Tensor[B, 3, H, W] -> ``{'loss': InfoNCE}`` (both directions are not
        symmetrised, as in the paper)."""
        query = F.normalize(self.neck(self.backbone(views[0])), dim=1)
        with torch.no_grad():
            key = F.normalize(self.encode_keys(views[1]), dim=1)
        positive = (query * key).sum(dim=1, keepdim=True)
        negative = query @ self.queue.clone().detach().t()
        loss = self.head(positive, negative)
        self.enqueue(key)
        return {"loss": loss}
