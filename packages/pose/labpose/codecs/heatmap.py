"""Heatmap codecs: keypoints <-> one Gaussian heatmap per keypoint (MSRA and UDP).

Encoding takes keypoints in the model's input space (the crop, pixel ``i`` centred at
``i``) and returns training targets at heatmap resolution; decoding takes a model's
heatmaps and returns keypoints in the input space with a confidence per keypoint.

Shapes: ``keypoints`` ndarray[N, K, 2], ``keypoints_visible`` ndarray[N, K] (> 0.5 is
labelled); ``heatmaps`` ndarray[K, H, W] (the maximum over the N instances);
``keypoint_weights`` ndarray[N, K] (0 for unlabelled keypoints and for keypoints whose
Gaussian falls entirely outside the heatmap).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from labcore.errors import ConfigError
from labpose.registry import TASK_UTILS


def _size(value: Sequence[int], name: str) -> tuple[int, int]:
    if len(value) != 2 or min(value) <= 0:
        raise ConfigError(f"{name} must be (width, height) in pixels, got {tuple(value)}.")
    return int(value[0]), int(value[1])


def _visible(keypoints: np.ndarray, keypoints_visible: np.ndarray | None) -> np.ndarray:
    if keypoints_visible is None:
        return np.ones(keypoints.shape[:2], dtype=np.float32)
    return np.asarray(keypoints_visible, dtype=np.float32).reshape(keypoints.shape[:2])


def gaussian_heatmaps(
    keypoints: np.ndarray,
    keypoints_visible: np.ndarray,
    heatmap_size: tuple[int, int],
    sigma: float,
    *,
    mode: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmaps of keypoints given in heatmap pixels.

    ``mode``: 'msra' puts a 3-sigma patch at the rounded position (SimpleBaseline);
    'unbiased' evaluates the Gaussian at the exact position over the whole map (DARK);
    'udp' puts a 3-sigma patch at the rounded position holding a Gaussian centred at
    the exact position (UDP). Returns (heatmaps [K, H, W], weights [N, K]).
    """
    num_instances, num_keypoints = keypoints.shape[:2]
    width, height = heatmap_size
    heatmaps = np.zeros((num_keypoints, height, width), dtype=np.float32)
    weights = (keypoints_visible > 0.5).astype(np.float32)
    radius = sigma * 3
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    for n in range(num_instances):
        for k in range(num_keypoints):
            if weights[n, k] == 0:
                continue
            point = keypoints[n, k]
            rounded = np.floor(point + 0.5)
            left, top = rounded - radius
            right, bottom = rounded + radius + 1
            if left >= width or top >= height or right < 0 or bottom < 0:
                weights[n, k] = 0
                continue
            if mode == "unbiased":
                gaussian = np.exp(-((xs - point[0]) ** 2 + (ys - point[1]) ** 2) / (2 * sigma**2))
            else:
                center = rounded if mode == "msra" else point
                gaussian = np.exp(-((xs - center[0]) ** 2 + (ys - center[1]) ** 2) / (2 * sigma**2))
                inside = (np.abs(xs - rounded[0]) <= radius) & (np.abs(ys - rounded[1]) <= radius)
                gaussian = np.where(inside, gaussian, 0.0)
            np.maximum(heatmaps[k], gaussian, out=heatmaps[k])
    return heatmaps, weights


def heatmap_maximum(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(locations ndarray[K, 2] as x y, values ndarray[K]) of each heatmap's maximum;
    a map whose maximum is not positive gets location -1."""
    num_keypoints, height, width = heatmaps.shape
    flat = heatmaps.reshape(num_keypoints, -1)
    index = flat.argmax(axis=1)
    values = flat[np.arange(num_keypoints), index].astype(np.float32)
    locations = np.stack([index % width, index // width], axis=1).astype(np.float32)
    locations[values <= 0] = -1
    return locations, values


def quarter_offset(locations: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Move each maximum a quarter pixel towards the higher neighbour (SimpleBaseline)."""
    _, height, width = heatmaps.shape
    refined = locations.copy()
    for k, (x, y) in enumerate(locations.astype(int)):
        dx = (
            heatmaps[k, y, x + 1] - heatmaps[k, y, x - 1]
            if 1 < x < width - 1 and 0 <= y < height
            else 0.0
        )
        dy = (
            heatmaps[k, y + 1, x] - heatmaps[k, y - 1, x]
            if 1 < y < height - 1 and 0 <= x < width
            else 0.0
        )
        refined[k] += np.sign([dx, dy]).astype(np.float32) * 0.25
    return refined


def gaussian_blur(heatmaps: np.ndarray, kernel_size: int) -> np.ndarray:
    """Blur each map with an odd ``kernel_size`` Gaussian (OpenCV's default sigma,
    zeros outside) and rescale it to its original maximum, as DARK does."""
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8
    offsets = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    maps = torch.from_numpy(heatmaps.astype(np.float64))[:, None]
    pad = kernel_size // 2
    maps = F.conv2d(F.pad(maps, (pad, pad, 0, 0)), kernel.view(1, 1, 1, -1))
    maps = F.conv2d(F.pad(maps, (0, 0, pad, pad)), kernel.view(1, 1, -1, 1))
    blurred = maps[:, 0].numpy()
    peak = heatmaps.reshape(len(heatmaps), -1).max(axis=1)
    new_peak = blurred.reshape(len(heatmaps), -1).max(axis=1)
    scale = np.where(new_peak > 0, peak / np.maximum(new_peak, 1e-12), 0.0)
    return (blurred * scale[:, None, None]).astype(np.float32)


def dark_refine(locations: np.ndarray, heatmaps: np.ndarray, kernel_size: int) -> np.ndarray:
    """Distribution-aware refinement (DARK, Zhang et al. 2020): one Newton step on the
    log of the blurred heatmap, from the integer maximum to the Gaussian's centre."""
    _, height, width = heatmaps.shape
    log_maps = np.log(np.clip(gaussian_blur(heatmaps, kernel_size), 1e-3, 50.0)).astype(np.float64)
    refined = locations.copy()
    for k, (x, y) in enumerate(locations.astype(int)):
        if not (1 < x < width - 2 and 1 < y < height - 2):
            continue
        m = log_maps[k]
        dx = 0.5 * (m[y, x + 1] - m[y, x - 1])
        dy = 0.5 * (m[y + 1, x] - m[y - 1, x])
        dxx = 0.25 * (m[y, x + 2] - 2 * m[y, x] + m[y, x - 2])
        dxy = 0.25 * (m[y + 1, x + 1] - m[y - 1, x + 1] - m[y + 1, x - 1] + m[y - 1, x - 1])
        dyy = 0.25 * (m[y + 2, x] - 2 * m[y, x] + m[y - 2, x])
        hessian = np.array([[dxx, dxy], [dxy, dyy]])
        if abs(np.linalg.det(hessian)) > 1e-12:
            refined[k] -= (np.linalg.inv(hessian) @ np.array([dx, dy])).astype(np.float32)
    return refined


@TASK_UTILS.register_module()
class MSRAHeatmap:
    """SimpleBaseline's Gaussian heatmaps (Xiao et al. 2018), optionally with DARK.

    Args:
        input_size: (width, height) of the model input.
        heatmap_size: (width, height) of the heatmaps (input / 4 for the usual heads).
        sigma: Gaussian standard deviation in heatmap pixels (2 at 64x48).
        unbiased: DARK: the Gaussian at the exact sub-pixel position when encoding, and
            the Taylor-expansion refinement when decoding.
        blur_kernel_size: DARK's blur before refinement (11 at 64x48).

    A keypoint that is encoded then decoded comes back within 0.25 heatmap pixels plus
    half a pixel of rounding (<= 2 input px at stride 4) without DARK, and within
    0.05 heatmap pixels with it.
    """

    def __init__(
        self,
        *,
        input_size: Sequence[int],
        heatmap_size: Sequence[int],
        sigma: float = 2.0,
        unbiased: bool = False,
        blur_kernel_size: int = 11,
    ):
        self.input_size = _size(input_size, "MSRAHeatmap input_size")
        self.heatmap_size = _size(heatmap_size, "MSRAHeatmap heatmap_size")
        self.sigma = float(sigma)
        self.unbiased = unbiased
        self.blur_kernel_size = int(blur_kernel_size)
        self.scale = np.array(self.heatmap_size, dtype=np.float32) / np.array(self.input_size)

    def encode(self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None) -> dict:
        """dict(heatmaps=ndarray[K, H, W], keypoint_weights=ndarray[N, K])."""
        keypoints = np.asarray(keypoints, dtype=np.float32)
        heatmaps, weights = gaussian_heatmaps(
            keypoints * self.scale,
            _visible(keypoints, keypoints_visible),
            self.heatmap_size,
            self.sigma,
            mode="unbiased" if self.unbiased else "msra",
        )
        return dict(heatmaps=heatmaps, keypoint_weights=weights)

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keypoints ndarray[1, K, 2] in input pixels, scores ndarray[1, K]) of heatmaps [K, H, W]."""
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        locations, scores = heatmap_maximum(heatmaps)
        if self.unbiased:
            locations = dark_refine(locations, heatmaps, self.blur_kernel_size)
        else:
            locations = quarter_offset(locations, heatmaps)
        return (locations / self.scale)[None], scores[None]


@TASK_UTILS.register_module()
class UDPHeatmap:
    """Unbiased data processing heatmaps (Huang et al. 2020): the input's first and
    last pixel centres map onto the heatmap's, ``x_hm = x * (W_hm - 1) / (W_in - 1)``.

    Args:
        input_size, heatmap_size: (width, height).
        sigma: Gaussian standard deviation in heatmap pixels.
        blur_kernel_size: the blur of the DARK-style refinement used in decoding.

    Decoding refines the maximum with DARK's Newton step and maps back with the exact
    inverse of the encoding scale (MMPose maps back with ``input / (heatmap - 1)``, off
    by one input pixel over the crop).
    """

    def __init__(
        self,
        *,
        input_size: Sequence[int],
        heatmap_size: Sequence[int],
        sigma: float = 2.0,
        blur_kernel_size: int = 11,
    ):
        self.input_size = _size(input_size, "UDPHeatmap input_size")
        self.heatmap_size = _size(heatmap_size, "UDPHeatmap heatmap_size")
        self.sigma = float(sigma)
        self.blur_kernel_size = int(blur_kernel_size)
        self.scale = (np.array(self.heatmap_size, dtype=np.float32) - 1) / (
            np.array(self.input_size, dtype=np.float32) - 1
        )

    def encode(self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None) -> dict:
        """dict(heatmaps=ndarray[K, H, W], keypoint_weights=ndarray[N, K])."""
        keypoints = np.asarray(keypoints, dtype=np.float32)
        heatmaps, weights = gaussian_heatmaps(
            keypoints * self.scale,
            _visible(keypoints, keypoints_visible),
            self.heatmap_size,
            self.sigma,
            mode="udp",
        )
        return dict(heatmaps=heatmaps, keypoint_weights=weights)

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keypoints ndarray[1, K, 2] in input pixels, scores ndarray[1, K])."""
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        locations, scores = heatmap_maximum(heatmaps)
        locations = dark_refine(locations, heatmaps, self.blur_kernel_size)
        return (locations / self.scale)[None], scores[None]
