"""Detectors."""

from labdet.models.detectors.base import SingleStageDetector, TwoStageDetector
from labdet.models.detectors.detectors import FCOS, FasterRCNN, MaskRCNN, RetinaNet

__all__ = ["FCOS", "FasterRCNN", "MaskRCNN", "RetinaNet", "SingleStageDetector", "TwoStageDetector"]
