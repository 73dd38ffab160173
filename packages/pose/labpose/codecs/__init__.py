"""Keypoint codecs: keypoints <-> training targets and model outputs <-> keypoints.

Every codec has ``encode(keypoints, keypoints_visible) -> dict`` of targets and
``decode(outputs) -> (keypoints, scores)``; all coordinates are in the model's input
space. They live in labpose's TASK_UTILS registry.
"""

from labpose.codecs.heatmap import MSRAHeatmap, UDPHeatmap
from labpose.codecs.regression import RegressionLabel
from labpose.codecs.simcc import SimCCLabel

__all__ = ["MSRAHeatmap", "RegressionLabel", "SimCCLabel", "UDPHeatmap"]
