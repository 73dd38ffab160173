"""Segmentation metrics."""

from labseg.evaluation.iou_metric import (
    IoUMetric,
    area_counts,
    confusion_cells,
    confusion_matrix,
)

__all__ = [
    "IoUMetric",
    "area_counts",
    "confusion_cells",
    "confusion_matrix",
]
