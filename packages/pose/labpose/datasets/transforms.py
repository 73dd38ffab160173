"""Top-down pose transforms: keep the image, the box and the keypoints consistent.

They act on the ``results`` dict of one item of :class:`CocoKeypointDataset` (keys
there) after ``LoadImageFromFile`` (``img`` uint8 ndarray[H, W, 3] RGB, ``img_shape``):

    GetBBoxCenterScale -> RandomFlip -> RandomHalfBody -> RandomBBoxTransform
    -> TopdownAffine -> [GenerateTarget] -> PackPoseInputs

GenerateTarget is optional: without it the head encodes the targets with its own codec,
so benchmark protocols can fix the pipeline while each model keeps its target encoding.

``bbox_center`` and ``bbox_scale`` (ndarray[1, 2]) describe the crop box, ``bbox_rotation``
(ndarray[1], degrees) its rotation; ``keypoints`` (ndarray[1, K, 2]) are image pixels
until TopdownAffine maps them into the crop (``transformed_keypoints``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.structures import BaseDataElement, InstanceData

from labcore.errors import ConfigError
from labpose.geometry import fix_aspect_ratio, transform_points, warp_image, warp_matrix
from labpose.registry import TASK_UTILS, TRANSFORMS


@TRANSFORMS.register_module()
class GetBBoxCenterScale:
    """``bbox`` (ndarray[1, 4] x1 y1 x2 y2) -> ``bbox_center`` and ``bbox_scale``
    (width and height times ``padding``; 1.25 leaves a margin around the person)."""

    def __init__(self, *, padding: float = 1.25):
        self.padding = padding

    def __call__(self, results: dict) -> dict:
        bbox = np.asarray(results["bbox"], dtype=np.float32).reshape(-1, 4)
        results["bbox_center"] = (bbox[:, :2] + bbox[:, 2:]) * 0.5
        results["bbox_scale"] = (bbox[:, 2:] - bbox[:, :2]) * self.padding
        return results


@TRANSFORMS.register_module()
class RandomFlip:
    """Mirror the image, the box and the keypoints left-right with probability ``prob``,
    swapping left and right keypoints by the data set's ``flip_indices``.

    A pixel at x moves to ``W - 1 - x``, for keypoints and the box centre alike.

    Raises:
        ConfigError: the data set declares no flip pairs (``flip_indices`` is None): a
            flip would mislabel every left and right keypoint.
    """

    def __init__(self, *, prob: float = 0.5):
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        indices = results.get("flip_indices")
        if indices is None:
            raise ConfigError(
                "RandomFlip needs the data set's flip pairs, but its keypoint metainfo has no "
                "`flip_pairs`: add them to the metainfo file (an empty list when no keypoint "
                "has a mirror image), or remove RandomFlip from the pipeline."
            )
        results["flip"] = bool(np.random.rand() < self.prob)
        if not results["flip"]:
            return results
        width = results["img"].shape[1]
        results["img"] = np.ascontiguousarray(results["img"][:, ::-1])
        center = results["bbox_center"].copy()
        center[:, 0] = width - 1 - center[:, 0]
        results["bbox_center"] = center
        bbox = np.asarray(results["bbox"], dtype=np.float32).copy()
        bbox[:, [0, 2]] = width - 1 - bbox[:, [2, 0]]
        results["bbox"] = bbox
        keypoints = results["keypoints"][:, indices].copy()
        keypoints[..., 0] = width - 1 - keypoints[..., 0]
        results["keypoints"] = keypoints
        results["keypoints_visible"] = results["keypoints_visible"][:, indices].copy()
        return results


@TRANSFORMS.register_module()
class RandomHalfBody:
    """With probability ``prob``, shrink the box to the upper or the lower body's
    labelled keypoints (the data set's ``upper_body_ids`` / ``lower_body_ids``).

    Only instances with at least ``min_total_keypoints`` labelled keypoints are
    changed, and a half needs ``min_upper_keypoints`` / ``min_lower_keypoints``.
    The new box is the keypoints' extent times ``padding``, around their mean.
    """

    def __init__(
        self,
        *,
        min_total_keypoints: int = 9,
        min_upper_keypoints: int = 2,
        min_lower_keypoints: int = 3,
        padding: float = 1.5,
        prob: float = 0.3,
    ):
        self.min_total_keypoints = min_total_keypoints
        self.min_upper_keypoints = min_upper_keypoints
        self.min_lower_keypoints = min_lower_keypoints
        self.padding = padding
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        upper, lower = results.get("upper_body_ids") or [], results.get("lower_body_ids") or []
        if not upper and not lower:
            raise ConfigError(
                "RandomHalfBody needs upper_body and lower_body in the data set's keypoint "
                "metainfo; add them there, or remove RandomHalfBody from the pipeline."
            )
        for i, visible in enumerate(results["keypoints_visible"]):
            if visible.sum() < self.min_total_keypoints or np.random.rand() > self.prob:
                continue
            upper_ids = [k for k in upper if visible[k] > 0]
            lower_ids = [k for k in lower if visible[k] > 0]
            prefer_upper = np.random.rand() < 0.5
            upper_ok = len(upper_ids) >= self.min_upper_keypoints
            lower_ok = len(lower_ids) >= self.min_lower_keypoints
            if not upper_ok and not lower_ok:
                continue
            ids = upper_ids if (upper_ok and (prefer_upper or not lower_ok)) else lower_ids
            points = results["keypoints"][i, ids]
            results["bbox_center"][i] = points.mean(axis=0)
            results["bbox_scale"][i] = (points.max(axis=0) - points.min(axis=0)) * self.padding
        return results


@TRANSFORMS.register_module()
class RandomBBoxTransform:
    """Randomly shift, scale and rotate the crop box (truncated normal draws, as MMPose).

    Args:
        shift_factor, shift_prob: shift by up to ``shift_factor`` of the box size.
        scale_factor, scale_prob: multiply the size by a draw in ``scale_factor`` (low, high).
        rotate_factor, rotate_prob: rotate by up to ``rotate_factor`` degrees.
    """

    def __init__(
        self,
        *,
        shift_factor: float = 0.16,
        shift_prob: float = 0.3,
        scale_factor: Sequence[float] = (0.5, 1.5),
        scale_prob: float = 1.0,
        rotate_factor: float = 80.0,
        rotate_prob: float = 0.6,
    ):
        self.shift_factor, self.shift_prob = shift_factor, shift_prob
        self.scale_factor, self.scale_prob = tuple(scale_factor), scale_prob
        self.rotate_factor, self.rotate_prob = rotate_factor, rotate_prob

    @staticmethod
    def _truncnorm(size) -> np.ndarray:
        """Standard normal draws truncated to [-1, 1] (by redrawing the ones outside)."""
        values = np.random.randn(*np.atleast_1d(size))
        outside = np.abs(values) > 1
        while outside.any():
            values[outside] = np.random.randn(int(outside.sum()))
            outside = np.abs(values) > 1
        return values.astype(np.float32)

    def __call__(self, results: dict) -> dict:
        num = len(results["bbox_center"])
        offset = self._truncnorm((num, 2)) * self.shift_factor
        offset = np.where(np.random.rand(num, 1) < self.shift_prob, offset, 0.0)
        low, high = self.scale_factor
        scale = self._truncnorm((num, 1)) * (high - low) * 0.5 + (high + low) * 0.5
        scale = np.where(np.random.rand(num, 1) < self.scale_prob, scale, 1.0)
        rotation = self._truncnorm((num,)) * self.rotate_factor
        rotation = np.where(np.random.rand(num) < self.rotate_prob, rotation, 0.0)
        results["bbox_center"] = results["bbox_center"] + offset * results["bbox_scale"]
        results["bbox_scale"] = results["bbox_scale"] * scale
        results["bbox_rotation"] = rotation.astype(np.float32)
        return results


@TRANSFORMS.register_module()
class TopdownAffine:
    """Crop the box out of the image into ``input_size`` (width, height).

    The box is first widened or heightened to the input's aspect ratio; the image is
    warped bilinearly (zeros outside it) and the keypoints mapped by the same matrix
    into ``transformed_keypoints``. ``input_center``, ``input_scale`` and ``use_udp``
    are recorded so that predictions can be mapped back.

    Args:
        input_size: (width, height) of the model input, e.g. (192, 256).
        use_udp: the UDP convention of :mod:`labpose.geometry`.
    """

    def __init__(self, *, input_size: Sequence[int], use_udp: bool = False):
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.use_udp = use_udp

    def __call__(self, results: dict) -> dict:
        width, height = self.input_size
        scale = fix_aspect_ratio(results["bbox_scale"], width / height)
        center = results["bbox_center"]
        rotation = results.get("bbox_rotation", np.zeros(len(center), dtype=np.float32))
        matrix = warp_matrix(
            center[0], scale[0], float(rotation[0]), self.input_size, use_udp=self.use_udp
        )
        results["img"] = warp_image(results["img"], matrix, self.input_size)
        results["img_shape"] = (height, width)
        results["bbox_scale"] = scale
        results["transformed_keypoints"] = transform_points(results["keypoints"], matrix)
        results["input_size"] = self.input_size
        results["input_center"] = center[0].astype(np.float64)
        results["input_scale"] = scale[0].astype(np.float64)
        results["use_udp"] = self.use_udp
        return results


@TRANSFORMS.register_module()
class GenerateTarget:
    """Encode ``transformed_keypoints`` with ``encoder`` (a codec config, e.g.
    ``dict(type='MSRAHeatmap', ...)``) into ``results['targets']``: the codec's
    outputs (heatmaps, SimCC labels or coordinates, and ``keypoint_weights``)."""

    def __init__(self, *, encoder):
        self.encoder = TASK_UTILS.build(encoder) if isinstance(encoder, dict) else encoder

    def __call__(self, results: dict) -> dict:
        encoded = self.encoder.encode(
            results["transformed_keypoints"], results["keypoints_visible"]
        )
        if "heatmaps" in encoded:
            encoded["heatmaps"] = encoded["heatmaps"][None]  # one instance per sample
        results["targets"] = encoded
        return results


META_KEYS = (
    "img_id", "img_path", "id", "category_id", "ori_shape", "img_shape", "input_size",
    "input_center", "input_scale", "use_udp", "flip", "flip_indices", "area",
)  # fmt: skip


@TRANSFORMS.register_module()
class PackPoseInputs:
    """Pack a sample as ``dict(inputs=uint8 Tensor[3, h, w], data_samples=BaseDataElement)``.

    The data sample holds metainfo (:data:`META_KEYS` when present), ``gt_instances``
    (``bboxes`` Tensor[1, 4], ``bbox_scores``, ``labels``, ``keypoints`` Tensor[1, K, 2] in
    image pixels, ``keypoints_visible`` Tensor[1, K], after TopdownAffine
    ``transformed_keypoints`` Tensor[1, K, 2] in the crop) and, after GenerateTarget,
    ``gt_targets`` (the codec's targets as tensors, each with a leading instance axis).
    Without GenerateTarget the head encodes the targets with its own codec.
    """

    def __call__(self, results: dict) -> dict:
        image = np.ascontiguousarray(results["img"])
        inputs = torch.from_numpy(image).permute(2, 0, 1).contiguous()
        sample = BaseDataElement(metainfo={k: results[k] for k in META_KEYS if k in results})
        sample.gt_instances = InstanceData(
            bboxes=torch.as_tensor(np.asarray(results["bbox"], dtype=np.float32)).reshape(-1, 4),
            bbox_scores=torch.as_tensor(np.asarray(results["bbox_score"], dtype=np.float32)),
            labels=torch.as_tensor([int(results.get("bbox_label", 0))]),
            keypoints=torch.as_tensor(np.asarray(results["keypoints"], dtype=np.float32)),
            keypoints_visible=torch.as_tensor(
                np.asarray(results["keypoints_visible"], dtype=np.float32)
            ),
        )
        if "transformed_keypoints" in results:
            sample.gt_instances.transformed_keypoints = torch.as_tensor(
                np.asarray(results["transformed_keypoints"], dtype=np.float32)
            )
        if "targets" in results:
            sample.gt_targets = BaseDataElement(
                **{k: torch.from_numpy(np.asarray(v)) for k, v in results["targets"].items()}
            )
        return dict(inputs=inputs, data_samples=sample)
