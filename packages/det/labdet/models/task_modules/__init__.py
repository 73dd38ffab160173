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
from labdet.models.task_modules.dynamic_soft_label_assigner import DynamicSoftLabelAssigner
from labdet.models.task_modules.hungarian_assigner import HungarianAssigner
from labdet.models.task_modules.match_costs import BBoxL1Cost, FocalLossCost, GIoUCost
from labdet.models.task_modules.samplers import RandomSampler

__all__ = [
    "BBoxL1Cost",
    "FocalLossCost",
    "GIoUCost",
    "HungarianAssigner",
    "IGNORE",
    "NEGATIVE",
    "ATSSAssigner",
    "AnchorGenerator",
    "CenterRegionAssigner",
    "DeltaXYWHBoxCoder",
    "DistancePointBoxCoder",
    "DynamicSoftLabelAssigner",
    "MaxIoUAssigner",
    "RandomSampler",
]
