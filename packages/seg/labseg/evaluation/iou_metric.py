"""Intersection-over-union metrics of semantic segmentation, and the confusion matrix
they come from, logged as an image."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from labcore.evaluation.confusion_plot import log_evaluation_image, plot_confusion_matrix
from labseg.registry import METRICS

METRIC_NAMES = ("mIoU", "mDice", "mFscore")


def area_counts(
    pred: torch.Tensor, label: torch.Tensor, num_classes: int, ignore_index: int
) -> torch.Tensor:
    """Per-class pixel counts of one image: Tensor[4, num_classes] (float64) of
    intersection, union, predicted area and labelled area over the pixels whose label
    is not ``ignore_index``. ``pred`` and ``label``: integer Tensor[H, W]."""
    valid = label != ignore_index
    pred, label = pred[valid].long(), label[valid].long()
    intersect = torch.bincount(label[pred == label], minlength=num_classes)[:num_classes]
    area_pred = torch.bincount(pred, minlength=num_classes)[:num_classes]
    area_label = torch.bincount(label, minlength=num_classes)[:num_classes]
    union = area_pred + area_label - intersect
    return torch.stack([intersect, union, area_pred, area_label]).double()


def confusion_cells(
    pred: torch.Tensor, label: torch.Tensor, num_classes: int, ignore_index: int
) -> np.ndarray:
    """The non-zero cells of one image's confusion matrix, int64 ndarray[M, 2] of
    (``label * num_classes + pred``, pixel count), over the pixels whose label is not
    ``ignore_index`` (and whose label and prediction are below ``num_classes``). A few
    cells per image where the dense matrix would hold ``num_classes**2``."""
    valid = (label != ignore_index) & (label < num_classes) & (pred < num_classes)
    flat = label[valid].long() * num_classes + pred[valid].long()
    cells, counts = torch.unique(flat, return_counts=True)
    return torch.stack([cells, counts], dim=1).cpu().numpy().astype(np.int64)


def confusion_matrix(cells: Iterable[np.ndarray], num_classes: int) -> np.ndarray:
    """Sum of :func:`confusion_cells` of many images: float64 ndarray[K, K] of pixel
    counts, rows the labelled (true) class, columns the predicted class."""
    matrix = np.zeros(num_classes * num_classes, dtype=np.float64)
    for image in cells:
        np.add.at(matrix, image[:, 0], image[:, 1])
    return matrix.reshape(num_classes, num_classes)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (a class that does not count)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


@METRICS.register_module()
class IoUMetric(BaseMetric):
    """aAcc, mIoU, mAcc, mDice, mFscore (and mPrecision, mRecall) over a dataset, and the
    mean of the per-image mean IoU.

    Intersections, unions and areas are summed over the dataset per class, then divided
    (the dataset-level means, as MMSegmentation and the benchmarks report them). A class
    absent from both predictions and labels is left out of the means; one predicted but
    never labelled has IoU 0. ``aAcc`` is the fraction of labelled pixels predicted right.
    ``per_image_mIoU`` averages each image's mean IoU (over the classes present in its
    prediction or labels), which weighs small objects more than the dataset-level mean.
    Values are fractions in [0, 1]. Predictions (``pred_sem_seg``) and labels
    (``gt_sem_seg``) are compared at the label's size. The per-class table is printed
    and returned as ``IoU.<class>`` / ``Acc.<class>`` entries.

    With ``plot``, the dataset's confusion matrix (rows normalised, the data set's class
    names) is drawn and logged through the current visualizer
    (``add_image('confusion_matrix', ...)``), so the run's log folder and MLflow both get
    it as a PNG, with the training iterations done as its step (MLflow:
    ``images/confusion_matrix_<iterations>.png``; 0 in a test run).

    Args:
        iou_metrics: which of 'mIoU', 'mDice', 'mFscore' to report (mIoU brings aAcc and
            mAcc, mFscore brings mPrecision and mRecall).
        beta: the F-score's beta.
        ignore_index: label value that does not count.
        nan_to_num: value for classes that do not count in the per-class entries (NaN
            is kept when None).
        plot: draw and log the confusion matrix.
        collect_device, prefix: as MMEngine's BaseMetric (``prefix`` defaults to 'seg').
    """

    default_prefix = "seg"

    def __init__(
        self,
        *,
        iou_metrics: Sequence[str] = ("mIoU",),
        beta: float = 1.0,
        ignore_index: int = 255,
        nan_to_num: float | None = None,
        plot: bool = True,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        unknown = set(iou_metrics) - set(METRIC_NAMES)
        if unknown:
            raise ValueError(f"unknown iou_metrics {sorted(unknown)}; choose from {METRIC_NAMES}")
        self.iou_metrics = tuple(iou_metrics)
        self.beta = beta
        self.ignore_index = ignore_index
        self.nan_to_num = nan_to_num
        self.plot = plot

    def process(self, data_batch, data_samples: Sequence) -> None:
        num_classes = len(self.dataset_meta["classes"])
        for sample in data_samples:
            pred = _field(sample, "pred_sem_seg").squeeze(0)
            label = _field(sample, "gt_sem_seg").squeeze(0).to(pred.device)
            counts = area_counts(pred, label, num_classes, self.ignore_index).cpu().numpy()
            result = dict(areas=counts)
            if self.plot:
                result["confusion"] = confusion_cells(pred, label, num_classes, self.ignore_index)
            self.results.append(result)

    def compute_metrics(self, results: list) -> dict[str, float]:
        counts = np.stack([r["areas"] for r in results])  # [N, 4, K]
        intersect, union, area_pred, area_label = counts.sum(axis=0)
        iou = _divide(intersect, union)
        acc = _divide(intersect, area_label)
        metrics: dict[str, float] = {}
        per_class: dict[str, np.ndarray] = {}
        if "mIoU" in self.iou_metrics:
            metrics["aAcc"] = float(intersect.sum() / max(area_label.sum(), 1))
            metrics["mIoU"] = _nanmean(iou)
            metrics["mAcc"] = _nanmean(acc)
            per_class.update(IoU=iou, Acc=acc)
        if "mDice" in self.iou_metrics:
            dice = _divide(2 * intersect, area_pred + area_label)
            metrics["mDice"] = _nanmean(dice)
            per_class["Dice"] = dice
        if "mFscore" in self.iou_metrics:
            precision = _divide(intersect, area_pred)
            b2 = self.beta**2
            fscore = _divide((1 + b2) * precision * acc, b2 * precision + acc)
            metrics.update(
                mFscore=_nanmean(fscore), mPrecision=_nanmean(precision), mRecall=_nanmean(acc)
            )
            per_class.update(Fscore=fscore, Precision=precision, Recall=acc)
        image_iou = _divide(counts[:, 0], counts[:, 1])  # [N, K]
        image_means = [_nanmean(row) for row in image_iou]
        metrics["per_image_mIoU"] = _nanmean(np.array(image_means))
        classes = self.dataset_meta["classes"]
        print_log("per-class results:\n" + _table(classes, per_class), logger="current")
        if self.plot:
            matrix = confusion_matrix((r["confusion"] for r in results), len(classes))
            log_evaluation_image(
                "confusion_matrix", plot_confusion_matrix(matrix, classes, cells="percent")
            )
        for name, values in per_class.items():
            for cls, value in zip(classes, values):
                if np.isnan(value) and self.nan_to_num is not None:
                    value = self.nan_to_num
                metrics[f"{name}.{cls}"] = float(value)
        return metrics


def _field(sample, name: str) -> torch.Tensor:
    value = sample[name] if isinstance(sample, dict) else getattr(sample, name)
    return value["data"] if isinstance(value, dict) else value.data  # PixelData


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _table(classes: Sequence[str], columns: dict[str, np.ndarray]) -> str:
    width = max(len("Class"), *(len(c) for c in classes))
    header = f"{'Class':<{width}} " + " ".join(f"{name:>9}" for name in columns)
    rows = [header, "-" * len(header)]
    for i, cls in enumerate(classes):
        cells = " ".join(f"{100 * columns[name][i]:9.2f}" for name in columns)
        rows.append(f"{cls:<{width}} {cells}")
    return "\n".join(rows)
