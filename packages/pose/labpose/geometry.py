"""Geometry of top-down pose estimation: the affine map from an image to a box's crop.

Coordinates are in pixels with pixel ``i`` centred at ``i`` (the convention of image
warping), x to the right, y down. A box is given by its centre and its size ``scale``
(width, height, in image pixels) and a rotation in degrees (counter-clockwise as seen
in the image). :func:`warp_matrix` maps the box onto an ``output_size`` (width, height)
crop; :func:`transform_points` applies it or its inverse to keypoints.

Two conventions, as in MMPose:

- regular: the box spans the crop edge to edge, ``x' = s R (x - c) + size / 2`` with
  ``s = size_w / scale_w``;
- UDP (unbiased data processing, Huang et al. 2020): the box's extent maps to the first
  and last pixel centres, ``x' = s R (x - c) + (size - 1) / 2`` with
  ``s = (size_w - 1) / scale_w``, so that flipping and resizing are exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow ``scale`` (ndarray[..., 2], w h) in one direction to width / height = ``aspect_ratio``."""
    scale = np.asarray(scale, dtype=np.float32)
    w, h = scale[..., 0], scale[..., 1]
    wider = w > h * aspect_ratio
    return np.stack(
        [np.where(wider, w, h * aspect_ratio), np.where(wider, w / aspect_ratio, h)], axis=-1
    ).astype(np.float32)


def warp_matrix(
    center: Sequence[float],
    scale: Sequence[float],
    rotation: float,
    output_size: Sequence[int],
    *,
    use_udp: bool = False,
) -> np.ndarray:
    """The 2x3 affine matrix (float64) from image pixels to crop pixels.

    Args:
        center: (x, y) of the box centre in the image.
        scale: (w, h) of the box in image pixels; the crop's aspect ratio should already
            be applied (:func:`fix_aspect_ratio`), otherwise the width sets the scale.
        rotation: degrees; the crop shows the image turned by ``-rotation``.
        output_size: (width, height) of the crop.
        use_udp: the UDP convention (module docstring).
    """
    out_w, out_h = float(output_size[0]), float(output_size[1])
    if use_udp:
        s = (out_w - 1.0) / float(scale[0])
        offset = np.array([(out_w - 1.0) / 2.0, (out_h - 1.0) / 2.0])
    else:
        s = out_w / float(scale[0])
        offset = np.array([out_w / 2.0, out_h / 2.0])
    theta = np.deg2rad(rotation)
    cos, sin = np.cos(theta), np.sin(theta)
    linear = s * np.array([[cos, sin], [-sin, cos]])
    translation = offset - linear @ np.asarray(center, dtype=np.float64)
    return np.concatenate([linear, translation[:, None]], axis=1)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The 2x3 inverse of a 2x3 affine matrix."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``points`` (ndarray[..., 2]) mapped by the 2x3 affine ``matrix``, same dtype."""
    points = np.asarray(points)
    mapped = points.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    return mapped.astype(points.dtype if points.dtype.kind == "f" else np.float64)


def warp_image(image: np.ndarray, matrix: np.ndarray, output_size: Sequence[int]) -> np.ndarray:
    """The crop of ``image`` (uint8 ndarray[H, W, C]) under ``matrix`` (image -> crop),
    sampled bilinearly with zeros outside the image, as ``cv2.warpAffine``; returns
    uint8 ndarray[out_h, out_w, C]."""
    out_w, out_h = int(output_size[0]), int(output_size[1])
    height, width = image.shape[:2]
    inverse = torch.from_numpy(invert_affine(matrix)).float()
    ys, xs = torch.meshgrid(
        torch.arange(out_h, dtype=torch.float32),
        torch.arange(out_w, dtype=torch.float32),
        indexing="ij",
    )
    grid = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1) @ inverse.T  # [h, w, 2] in image px
    # grid_sample with align_corners=True puts -1 and 1 on the centres of the edge pixels.
    grid[..., 0] = grid[..., 0] * (2.0 / max(width - 1, 1)) - 1.0
    grid[..., 1] = grid[..., 1] * (2.0 / max(height - 1, 1)) - 1.0
    source = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    crop = F.grid_sample(
        source, grid[None], mode="bilinear", padding_mode="zeros", align_corners=True
    )
    return crop[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def flip_indices(names: Sequence[str], flip_pairs: Sequence[Sequence[str]]) -> list[int]:
    """For each keypoint, the index of its mirror image under a horizontal flip.

    ``flip_pairs`` lists pairs of names (``('left_eye', 'right_eye')``); a keypoint in no
    pair is its own mirror."""
    index = {name: i for i, name in enumerate(names)}
    mirror = list(range(len(names)))
    for first, second in flip_pairs:
        mirror[index[first]], mirror[index[second]] = index[second], index[first]
    return mirror
