"""Rotated anchors, box coders and assigners (registered in labrot's TASK_UTILS)."""

from labrot.models.task_modules.anchor_generator import RotatedAnchorGenerator
from labrot.models.task_modules.assigners import OuterBoxMaxIoUAssigner, RotatedMaxIoUAssigner
from labrot.models.task_modules.box_coders import DeltaXYWHABoxCoder, MidpointOffsetBoxCoder

__all__ = [
    "DeltaXYWHABoxCoder",
    "MidpointOffsetBoxCoder",
    "OuterBoxMaxIoUAssigner",
    "RotatedAnchorGenerator",
    "RotatedMaxIoUAssigner",
]
