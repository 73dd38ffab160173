"""ImageClassifier: backbone -> neck -> head, an MMEngine BaseModel."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import nn

from labcls.registry import MODELS


def _build(cfg: dict | nn.Module | None) -> nn.Module | None:
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return MODELS.build(cfg)


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """An image classifier: features from the backbone, pooled by the neck, classified
    by the head.

    Data samples (:class:`mmengine.structures.BaseDataElement`, one per image) carry
    ``gt_label`` (Tensor[1], int64) and, after Mixup / CutMix, ``gt_score`` (Tensor[K]);
    prediction fills ``pred_score`` (Tensor[K], softmax) and ``pred_label`` (Tensor[1]).

    Args:
        backbone: config or module; ``backbone(x: Tensor[B, 3, H, W])`` returns a tuple
            of feature maps. ``type='ResNet'`` and the other backbones resolve in labcore.
        head: config or module with ``forward``, ``loss`` and ``predict`` (a ClsHead).
        neck: optional config or module, e.g. ``GlobalAveragePooling``: tuple of
            Tensor[B, C, H, W] -> tuple of Tensor[B, C].
        data_preprocessor: config or module; a config without ``type`` (the top-level
            ``data_preprocessor`` of dataset configs) builds a :class:`ClsDataPreprocessor`.
        init_cfg: MMEngine weight-initialisation config (e.g. a pretrained checkpoint).
    """

    def __init__(
        self,
        *,
        backbone: dict | nn.Module,
        head: dict | nn.Module,
        neck: dict | nn.Module | None = None,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ):
        if data_preprocessor is None:
            data_preprocessor = {}
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build({"type": "ClsDataPreprocessor", **data_preprocessor})
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = _build(backbone)
        self.neck = _build(neck)
        self.head = _build(head)

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """inputs Tensor[B, 3, H, W] -> the neck's (else the backbone's) tuple of features."""
        feats = self.backbone(inputs)
        if isinstance(feats, torch.Tensor):
            feats = (feats,)
        if self.neck is not None:
            feats = self.neck(feats)
        return tuple(feats)

    def forward(
        self,
        inputs: torch.Tensor,
        data_samples: Sequence[BaseDataElement] | None = None,
        mode: str = "tensor",
    ):
        """Run in one of three modes.

        - ``'tensor'``: logits Tensor[B, K].
        - ``'loss'``: dict of losses (needs ``data_samples`` with ``gt_label``).
        - ``'predict'``: list of data samples with ``pred_score`` and ``pred_label``.
        """
        feats = self.extract_feat(inputs)
        if mode == "tensor":
            return self.head(feats)
        if mode == "loss":
            return self.head.loss(feats, data_samples)
        if mode == "predict":
            return self.head.predict(feats, data_samples)
        raise ValueError(
            f"ImageClassifier.forward: mode is '{mode}'; use 'tensor', 'loss' or 'predict'"
        )
