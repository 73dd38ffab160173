"""Per-class precision, recall and F1 of single-label predictions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.evaluator import BaseMetric

from labcls.registry import METRICS


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Tensor[K, K] int64 counts: row = true class, column = predicted class.

    Args:
        pred, target: Tensor[N] class indices in 0..K-1.
    """
    index = target.long() * num_classes + pred.long()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def precision_recall_f1(
    matrix: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class precision, recall, F1 (Tensor[K] each, float64) and support (Tensor[K]).

    A class never predicted has precision 0; a class never present has recall 0; F1 is 0
    where precision + recall is 0.
    """
    matrix = matrix.double()
    true_pos = matrix.diag()
    predicted = matrix.sum(dim=0)
    support = matrix.sum(dim=1)
    precision = torch.where(predicted > 0, true_pos / predicted.clamp(min=1), 0.0)
    recall = torch.where(support > 0, true_pos / support.clamp(min=1), 0.0)
    total = precision + recall
    f1 = torch.where(total > 0, 2 * precision * recall / total.clamp(min=1e-12), 0.0)
    return precision, recall, f1, support.long()


def class_names(dataset_meta: dict | None, num_classes: int) -> list[str]:
    """The dataset's class names, or '0', '1', ... when it has none."""
    classes = (dataset_meta or {}).get("classes")
    if classes is not None and len(classes) == num_classes:
        return [str(c) for c in classes]
    return [str(i) for i in range(num_classes)]


def collect_labels(data_samples: Sequence[dict]) -> list[dict]:
    """(pred_label, gt_label) pairs of a batch's data samples, as int64 tensors."""
    return [
        dict(
            pred_label=s["pred_label"].detach().cpu().reshape(-1)[:1].long(),
            gt_label=s["gt_label"].detach().cpu().reshape(-1)[:1].long(),
        )
        for s in data_samples
    ]


def infer_num_classes(results: list[dict], num_classes: int | None, dataset_meta) -> int:
    """K from the argument, the dataset's classes, or the largest label seen."""
    if num_classes is not None:
        return num_classes
    classes = (dataset_meta or {}).get("classes")
    if classes:
        return len(classes)
    return 1 + max(int(max(r["pred_label"].max(), r["gt_label"].max())) for r in results)


@METRICS.register_module()
class SingleLabelMetric(BaseMetric):
    """Precision, recall and F1 of single-label predictions, averaged over classes.

    Reports ``single-label/precision``, ``single-label/recall`` and
    ``single-label/f1-score`` (macro averages, fractions in [0, 1]); with ``classwise``,
    also ``single-label/precision/<class>`` (and recall, f1-score) for every class.

    Args:
        num_classes: K; default: the dataset's number of classes.
        classwise: also report every class's values.
        collect_device, prefix: as in :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix = "single-label"

    def __init__(
        self,
        *,
        num_classes: int | None = None,
        classwise: bool = False,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self.classwise = classwise

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(collect_labels(data_samples))

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        num_classes = infer_num_classes(results, self.num_classes, self.dataset_meta)
        pred = torch.cat([r["pred_label"] for r in results])
        target = torch.cat([r["gt_label"] for r in results])
        precision, recall, f1, _ = precision_recall_f1(confusion_matrix(pred, target, num_classes))
        values = {"precision": precision, "recall": recall, "f1-score": f1}
        metrics = {name: value.mean().item() for name, value in values.items()}
        if self.classwise:
            names = class_names(self.dataset_meta, num_classes)
            for name, value in values.items():
                for cls, v in zip(names, value.tolist()):
                    metrics[f"{name}/{cls}"] = v
        return metrics
