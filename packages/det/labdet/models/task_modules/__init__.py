"""Anchor generators, box coders, assigners and samplers (registered in labdet's TASK_UTILS)."""

from labdet.models.task_modules.anchor_generator import AnchorGenerator
from labdet.models.task_modules.assigners import (
    IGNORE,
    NEGATIVE,
    ATSSAssigner,
    CenterRegionAssigner,
    MaxIoUAssigner,
)
from labdet.models.task_modules.box_coders import DeltaXYWHBoxCoder, DistancePointBoxCoder
from labdet.models.task_modules.samplers import RandomSampler

__all__ = [
    "IGNORE",
    "NEGATIVE",
    "ATSSAssigner",
    "AnchorGenerator",
    "CenterRegionAssigner",
    "DeltaXYWHBoxCoder",
    "DistancePointBoxCoder",
    "MaxIoUAssigner",
    "RandomSampler",
]
