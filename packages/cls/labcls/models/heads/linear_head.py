"""A linear classifier on pooled features."""

from __future__ import annotations

import torch
from torch import nn

from labcls.models.heads.cls_head import ClsHead
from labcls.registry import MODELS


@MODELS.register_module()
class LinearClsHead(ClsHead):
    """One fully connected layer, ``fc``, on the last pooled feature.

    The parameters are ``fc.weight`` (Tensor[K, C]) and ``fc.bias`` (Tensor[K]), so a
    torchvision classifier's ``fc`` loads into ``head.fc``.

    Args:
        num_classes: K.
        in_channels: C, the width of the pooled feature.
        loss, topk, init_cfg: see :class:`ClsHead`.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        loss: dict | nn.Module,
        topk: tuple[int, ...] = (1,),
        init_cfg: dict | list[dict] | None = None,
    ):
        if init_cfg is None:
            init_cfg = dict(type="Normal", layer="Linear", std=0.01)
        super().__init__(loss=loss, topk=topk, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """feats: tuple whose last item is Tensor[B, C] -> logits Tensor[B, K]."""
        return self.fc(feats[-1])
