"""SimCC labels (Li et al. 2022): each coordinate as a 1-D classification over bins.

A keypoint at x (input pixels) becomes a Gaussian over ``round(W * split_ratio)`` bins
centred at ``x * split_ratio`` (and likewise for y); decoding takes the arg-max bin of
each axis. Shapes: ``keypoints`` ndarray[N, K, 2], ``keypoints_visible`` ndarray[N, K];
``keypoint_x_labels`` ndarray[N, K, Wx], ``keypoint_y_labels`` ndarray[N, K, Wy].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labcore.errors import ConfigError
from labpose.codecs.heatmap import _size, _visible
from labpose.registry import TASK_UTILS


@TASK_UTILS.register_module()
class SimCCLabel:
    """Keypoints <-> per-axis Gaussian label vectors.

    Args:
        input_size: (width, height) of the model input.
        sigma: Gaussian standard deviation in bins, one value or (sigma_x, sigma_y).
        simcc_split_ratio: bins per input pixel (2 gives half-pixel bins).
        normalize: divide the labels by ``sigma * sqrt(2 pi)`` (the Gaussian's integral),
            as SimCC does; RTMPose uses unnormalised labels and a softmax in the loss.

    Encoded then decoded, a keypoint comes back within half a bin:
    ``0.5 / simcc_split_ratio`` input pixels.
    """

    def __init__(
        self,
        *,
        input_size: Sequence[int],
        sigma: float | Sequence[float] = 6.0,
        simcc_split_ratio: float = 2.0,
        normalize: bool = True,
    ):
        self.input_size = _size(input_size, "SimCCLabel input_size")
        sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float32), (2,))
        if (sigma <= 0).any():
            raise ConfigError(f"SimCCLabel sigma must be positive, got {sigma.tolist()}.")
        self.sigma = sigma.copy()
        self.simcc_split_ratio = float(simcc_split_ratio)
        self.normalize = normalize
        self.num_bins = tuple(int(np.around(s * self.simcc_split_ratio)) for s in self.input_size)

    def encode(self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None) -> dict:
        """dict(keypoint_x_labels, keypoint_y_labels, keypoint_weights ndarray[N, K])."""
        keypoints = np.asarray(keypoints, dtype=np.float32)
        visible = _visible(keypoints, keypoints_visible)
        num_instances, num_keypoints = keypoints.shape[:2]
        bins_x, bins_y = self.num_bins
        points = keypoints * self.simcc_split_ratio
        weights = (visible > 0.5).astype(np.float32)
        radius = self.sigma * 3
        inside = (
            (points[..., 0] - radius[0] < bins_x)
            & (points[..., 1] - radius[1] < bins_y)
            & (points[..., 0] + radius[0] + 1 >= 0)
            & (points[..., 1] + radius[1] + 1 >= 0)
        )
        weights = weights * inside
        xs = np.arange(bins_x, dtype=np.float32)
        ys = np.arange(bins_y, dtype=np.float32)
        labels_x = np.exp(-((xs - points[..., :1]) ** 2) / (2 * self.sigma[0] ** 2))
        labels_y = np.exp(-((ys - points[..., 1:]) ** 2) / (2 * self.sigma[1] ** 2))
        if self.normalize:
            labels_x /= self.sigma[0] * np.sqrt(2 * np.pi)
            labels_y /= self.sigma[1] * np.sqrt(2 * np.pi)
        labels_x *= weights[..., None] > 0
        labels_y *= weights[..., None] > 0
        return dict(
            keypoint_x_labels=labels_x.astype(np.float32).reshape(num_instances, num_keypoints, -1),
            keypoint_y_labels=labels_y.astype(np.float32).reshape(num_instances, num_keypoints, -1),
            keypoint_weights=weights.astype(np.float32),
        )

    def decode(self, simcc_x: np.ndarray, simcc_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keypoints ndarray[N, K, 2] in input pixels, scores ndarray[N, K]) of
        ``simcc_x`` ndarray[N, K, Wx] and ``simcc_y`` ndarray[N, K, Wy]; the score is the
        smaller of the two axes' maxima."""
        simcc_x, simcc_y = np.asarray(simcc_x), np.asarray(simcc_y)
        x = simcc_x.argmax(axis=-1).astype(np.float32)
        y = simcc_y.argmax(axis=-1).astype(np.float32)
        scores = np.minimum(simcc_x.max(axis=-1), simcc_y.max(axis=-1)).astype(np.float32)
        keypoints = np.stack([x, y], axis=-1) / self.simcc_split_ratio
        keypoints[scores <= 0] = -1
        return keypoints, scores
