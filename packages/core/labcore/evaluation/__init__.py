"""Metrics shared by the OpenLab codebases (registered in labcore's METRICS)."""

from labcore.evaluation.coco_metric import CocoMetric

__all__ = ["CocoMetric"]
