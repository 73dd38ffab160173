"""Detection metrics (registered in labdet's METRICS)."""

from labdet.evaluation.coco_metric import DetCocoMetric

__all__ = ["DetCocoMetric"]
