"""labpose's models: the top-down estimator, its heads and losses (backbones come from
labcore: ResNet, HRNet, ...)."""

from labpose.models import heads, losses  # noqa: F401  (registers the models)
from labpose.models.pose_estimator import TopdownPoseEstimator

__all__ = ["TopdownPoseEstimator"]
