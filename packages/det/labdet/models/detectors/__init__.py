"""Detectors."""

from labdet.models.detectors.base import SingleStageDetector, TwoStageDetector
from labdet.models.detectors.detectors import (
    ATSS,
    FCOS,
    GFL,
    CascadeRCNN,
    FasterRCNN,
    MaskRCNN,
    RetinaNet,
)

__all__ = [
    "ATSS",
    "CascadeRCNN",
    "FCOS",
    "GFL",
    "FasterRCNN",
    "MaskRCNN",
    "RetinaNet",
    "SingleStageDetector",
    "TwoStageDetector",
]
