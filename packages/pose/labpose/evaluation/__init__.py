"""labpose's metrics: COCO keypoint AP/AR (OKS) and PCK / AUC / EPE."""

from labpose.evaluation.coco_metric import PoseCocoMetric
from labpose.evaluation.keypoint_metrics import AUC, EPE, PCKAccuracy
from labpose.evaluation.oks import oks, oks_nms

__all__ = ["AUC", "EPE", "PCKAccuracy", "PoseCocoMetric", "oks", "oks_nms"]
