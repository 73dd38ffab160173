"""Top-k accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.evaluator import BaseMetric

from labcls.registry import METRICS


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, topk: Sequence[int]) -> list[float]:
    """Fraction of samples whose label is among the k highest scores, for each k.

    Args:
        scores: Tensor[N, K]; labels: Tensor[N] class indices. A k above K counts as K.
        Ties are broken as ``torch.topk`` breaks them.
    """
    top = scores.topk(min(max(topk), scores.shape[1]), dim=1).indices
    hits = top == labels[:, None]
    return [hits[:, :k].any(dim=1).float().mean().item() for k in topk]


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy of single-label predictions, as fractions in [0, 1].

    Reads ``pred_score`` (Tensor[K]) and ``gt_label`` (Tensor[1]) from each data sample
    and reports ``accuracy/top1``, ``accuracy/top5``, ... (with the default prefix).

    Args:
        topk: the k values.
        collect_device, prefix: as in :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix = "accuracy"

    def __init__(
        self,
        *,
        topk: int | Sequence[int] = (1,),
        collect_device: str = "cpu",
        prefix: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not self.topk or min(self.topk) < 1:
            raise ValueError(f"Accuracy.topk must hold positive integers, got {topk}")

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(
                dict(
                    pred_score=sample["pred_score"].detach().cpu(),
                    gt_label=sample["gt_label"].detach().cpu().reshape(-1)[:1],
                )
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        scores = torch.stack([r["pred_score"] for r in results])
        labels = torch.cat([r["gt_label"] for r in results])
        values = topk_accuracy(scores, labels, self.topk)
        return {f"top{k}": value for k, value in zip(self.topk, values)}
