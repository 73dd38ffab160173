"""Detectors."""

from labdet.models.detectors.base import SingleStageDetector, TwoStageDetector
from labdet.models.detectors.deformable_detr import DeformableDETR
from labdet.models.detectors.detectors import (
    ATSS,
    FCOS,
    GFL,
    CascadeRCNN,
    FasterRCNN,
    MaskRCNN,
    RetinaNet,
    RTMDet,
)
from labdet.models.detectors.dino import DINO

__all__ = [
    "DINO",
    "DeformableDETR",
    "ATSS",
    "CascadeRCNN",
    "FCOS",
    "GFL",
    "FasterRCNN",
    "MaskRCNN",
    "RTMDet",
    "RetinaNet",
    "SingleStageDetector",
    "TwoStageDetector",
]
