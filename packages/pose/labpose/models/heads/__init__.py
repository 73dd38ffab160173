"""Pose heads: heatmaps, SimCC vectors, coordinates."""

from labpose.models.heads.heatmap_head import HeatmapHead
from labpose.models.heads.regression_head import RegressionHead
from labpose.models.heads.simcc_head import SimCCHead

__all__ = ["HeatmapHead", "RegressionHead", "SimCCHead"]
