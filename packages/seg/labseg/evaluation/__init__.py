"""Segmentation metrics."""

from labseg.evaluation.iou_metric import IoUMetric, area_counts

__all__ = ["IoUMetric", "area_counts"]
