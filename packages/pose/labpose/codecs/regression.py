"""Regression labels: keypoints as coordinates normalised by the input size (DeepPose)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labpose.codecs.heatmap import _size, _visible
from labpose.registry import TASK_UTILS


@TASK_UTILS.register_module()
class RegressionLabel:
    """Keypoints (input pixels) <-> coordinates in [0, 1] of the input's width and height.

    Args:
        input_size: (width, height) of the model input.

    Encoding gives ``keypoint_labels`` ndarray[N, K, 2] and ``keypoint_weights``
    ndarray[N, K] (0 for unlabelled keypoints and for keypoints outside the input);
    decoding is its exact inverse, with score 1 for every keypoint.
    """

    def __init__(self, *, input_size: Sequence[int]):
        self.input_size = _size(input_size, "RegressionLabel input_size")
        self.size = np.array(self.input_size, dtype=np.float32)

    def encode(self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None) -> dict:
        keypoints = np.asarray(keypoints, dtype=np.float32)
        visible = _visible(keypoints, keypoints_visible)
        inside = ((keypoints >= 0) & (keypoints <= self.size - 1)).all(axis=-1)
        weights = ((visible > 0.5) & inside).astype(np.float32)
        return dict(keypoint_labels=keypoints / self.size, keypoint_weights=weights)

    def decode(self, coordinates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keypoints ndarray[N, K, 2] in input pixels, scores ndarray[N, K]) of
        normalised ``coordinates`` ndarray[N, K, 2]."""
        coordinates = np.asarray(coordinates, dtype=np.float32)
        return coordinates * self.size, np.ones(coordinates.shape[:2], dtype=np.float32)
