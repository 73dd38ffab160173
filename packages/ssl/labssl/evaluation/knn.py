"""k-NN classification on frozen features (Wu et al., 2018; the protocol of DINO and
MMPretrain): each query is labelled by a weighted vote of its k most similar bank
features."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from torch import Tensor

from labcls.evaluation.accuracy import topk_accuracy
from labcore.errors import ConfigError
from labssl.registry import METRICS


def knn_scores(
    query: Tensor,
    bank: Tensor,
    bank_labels: Tensor,
    *,
    num_classes: int,
    k: int = 20,
    temperature: float = 0.07,
    chunk: int = 256,
) -> Tensor:
    """Class scores of each query from its ``k`` nearest bank features by cosine.

    Args:
        query: Tensor[Q, C]; bank: Tensor[N, C]; bank_labels: Tensor[N] class indices.
        num_classes: K.
        k: neighbours (at most N are used).
        temperature: tau; a neighbour of cosine s votes ``exp(s / tau)`` for its class.
        chunk: queries compared at once (bounds memory at chunk x N similarities).

    Returns:
        Tensor[Q, K]: the summed votes per class.
    """
    query, bank = F.normalize(query.float(), dim=1), F.normalize(bank.float(), dim=1)
    k = min(k, bank.shape[0])
    scores = []
    for part in query.split(chunk):
        similarity, index = (part @ bank.t()).topk(k, dim=1)  # [q, k]
        votes = torch.zeros(part.shape[0], num_classes, dtype=similarity.dtype)
        votes.scatter_add_(1, bank_labels[index], (similarity / temperature).exp())
        scores.append(votes)
    return torch.cat(scores)


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """Top-k accuracy of k-NN classification on frozen features, fractions in [0, 1],
    reported as ``knn/top1``, ``knn/top5``.

    Reads ``features`` (Tensor[C]) and ``gt_label`` from each data sample (the models of
    labssl and its :class:`LinearProbeClassifier` write ``features`` when predicting).
    The labelled bank (the train split's features) comes from :meth:`set_bank`, which
    ``KNNValLoop`` / ``KNNTestLoop`` call before each evaluation.

    Args:
        k: neighbours (20); temperature: vote temperature (0.07); topk: reported k's.
        collect_device, prefix: as in :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix = "knn"

    def __init__(
        self,
        *,
        k: int = 20,
        temperature: float = 0.07,
        topk: int | Sequence[int] = (1, 5),
        collect_device: str = "cpu",
        prefix: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.k = k
        self.temperature = temperature
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        self.bank: tuple[Tensor, Tensor] | None = None

    def set_bank(self, features: Tensor, labels: Tensor) -> None:
        """The labelled features that queries are compared with: Tensor[N, C], Tensor[N]."""
        self.bank = (features, labels.long())

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(
                dict(
                    features=sample["features"].detach().float().cpu(),
                    gt_label=sample["gt_label"].detach().cpu().reshape(-1)[:1],
                )
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        if self.bank is None:
            raise ConfigError(
                "KNNAccuracy has no feature bank to compare with; evaluate it with "
                "val_cfg=dict(type='KNNValLoop', bank_dataloader=...) (test_cfg: 'KNNTestLoop'), "
                "which embeds the bank (the labelled train split) first."
            )
        bank, bank_labels = self.bank
        query = torch.stack([r["features"] for r in results])
        labels = torch.cat([r["gt_label"] for r in results])
        classes = (self.dataset_meta or {}).get("classes")
        num_classes = len(classes) if classes else int(max(bank_labels.max(), labels.max())) + 1
        scores = knn_scores(
            query,
            bank,
            bank_labels,
            num_classes=num_classes,
            k=self.k,
            temperature=self.temperature,
        )
        values = topk_accuracy(scores, labels, self.topk)
        return {f"top{k}": value for k, value in zip(self.topk, values)}
