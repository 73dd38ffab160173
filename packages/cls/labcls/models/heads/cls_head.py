"""What every classification head shares: loss from data samples, and prediction."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement
from torch import nn

from labcls.registry import MODELS


def build_module(cfg: dict | nn.Module) -> nn.Module:
    """A module from a config dict (built in labcls MODELS); a module passes through."""
    return cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)


def stack_targets(data_samples: Sequence[BaseDataElement]) -> torch.Tensor:
    """The batch's targets: Tensor[B, K] soft scores when the samples carry ``gt_score``
    (set by Mixup / CutMix), else Tensor[B] class indices from ``gt_label``."""
    if "gt_score" in data_samples[0]:
        return torch.stack([s.gt_score for s in data_samples])
    return torch.cat([s.gt_label.reshape(-1)[:1] for s in data_samples])


class ClsHead(BaseModule):
    """Base of the classification heads: a subclass defines ``forward(feats) -> logits``.

    Args:
        loss: the loss module or its config, called as ``loss(logits, targets)``.
        topk: the top-k accuracies reported with the loss while training.
        init_cfg: MMEngine weight-initialisation config.
    """

    def __init__(
        self,
        *,
        loss: dict | nn.Module,
        topk: Sequence[int] = (1,),
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.loss_module = build_module(loss)
        self.topk = tuple(topk)

    def loss(
        self, feats: tuple[torch.Tensor, ...], data_samples: Sequence[BaseDataElement]
    ) -> dict[str, torch.Tensor]:
        """Losses (key ``loss``) and, for hard targets, the batch's top-k accuracy."""
        logits = self(feats)
        targets = stack_targets(data_samples).to(logits.device)
        losses = {"loss": self.loss_module(logits, targets)}
        if targets.dim() == 1:
            with torch.no_grad():
                top = logits.topk(min(max(self.topk), logits.shape[1]), dim=1).indices
                hits = top == targets[:, None]
                for k in self.topk:
                    losses[f"accuracy_top-{k}"] = hits[:, :k].any(dim=1).float().mean() * 100
        return losses

    def predict(
        self,
        feats: tuple[torch.Tensor, ...],
        data_samples: Sequence[BaseDataElement] | None = None,
    ) -> list[BaseDataElement]:
        """One data sample per image with ``pred_score`` (Tensor[K], softmax) and
        ``pred_label`` (Tensor[1], the arg-max); given samples are filled in place."""
        scores = F.softmax(self(feats), dim=1)
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(scores.shape[0])]
        for sample, score, label in zip(data_samples, scores, labels):
            sample.pred_score = score
            sample.pred_label = label
        return list(data_samples)
