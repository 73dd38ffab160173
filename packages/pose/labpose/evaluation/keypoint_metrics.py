"""Keypoint accuracy without OKS sigmas: PCK, AUC of PCK, end-point error.

Each metric compares every sample's ``pred_instances.keypoints`` (Tensor[1, K, 2], image
pixels) with its ``gt_instances.keypoints``, over the labelled keypoints
(``gt_instances.keypoints_visible`` > 0).
"""

from __future__ import annotations

import numpy as np
from mmengine.evaluator import BaseMetric

from labcore.errors import ConfigError
from labpose.registry import METRICS


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def pck_per_keypoint(distances: np.ndarray, mask: np.ndarray, threshold: float) -> np.ndarray:
    """For each keypoint, the fraction of its labelled instances with ``distance <
    threshold`` (``distances`` and ``mask`` ndarray[N, K]); -1 where none is labelled."""
    counts = mask.sum(axis=0)
    hits = ((distances < threshold) & mask).sum(axis=0)
    return np.where(counts > 0, hits / np.maximum(counts, 1), -1.0)


def mean_pck(distances: np.ndarray, mask: np.ndarray, threshold: float) -> float:
    """The mean over keypoints (that are labelled somewhere) of :func:`pck_per_keypoint`."""
    per_keypoint = pck_per_keypoint(distances, mask, threshold)
    valid = per_keypoint[per_keypoint >= 0]
    return float(valid.mean()) if valid.size else 0.0


class _KeypointDistanceMetric(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            sample = sample.to_dict() if hasattr(sample, "to_dict") else sample
            pred = sample["pred_instances"]
            gt = sample["gt_instances"]
            bbox = _numpy(gt["bboxes"]).reshape(-1, 4)[0]
            self.results.append(
                dict(
                    pred=_numpy(pred["keypoints"]).reshape(-1, 2).astype(np.float64),
                    gt=_numpy(gt["keypoints"]).reshape(-1, 2).astype(np.float64),
                    mask=_numpy(gt["keypoints_visible"]).reshape(-1) > 0,
                    bbox_size=float(np.max(bbox[2:] - bbox[:2])),
                )
            )

    @staticmethod
    def _stack(results: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        distances = np.stack([np.linalg.norm(r["pred"] - r["gt"], axis=1) for r in results])
        mask = np.stack([r["mask"] for r in results])
        sizes = np.array([r["bbox_size"] for r in results])
        return distances, mask, sizes


@METRICS.register_module()
class PCKAccuracy(_KeypointDistanceMetric):
    """Percentage of correct keypoints: distance below ``thr`` times the box's longer
    side (PCK@0.05 by default), the mean over keypoints. Key ``PCK``."""

    default_prefix = ""

    def __init__(self, *, thr: float = 0.05, collect_device="cpu", prefix=None, collect_dir=None):
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.thr = thr

    def compute_metrics(self, results: list) -> dict[str, float]:
        distances, mask, sizes = self._stack(results)
        if (sizes <= 0).any():
            raise ConfigError("PCKAccuracy needs boxes of positive size in gt_instances.bboxes.")
        return dict(PCK=mean_pck(distances / sizes[:, None], mask, self.thr))


@METRICS.register_module()
class AUC(_KeypointDistanceMetric):
    """Area under the PCK curve for thresholds ``i / num_thrs * norm_factor`` pixels,
    i = 0 .. num_thrs - 1 (MMPose's AUC; 30 px by default). Key ``AUC``."""

    default_prefix = ""

    def __init__(
        self, *, norm_factor: float = 30.0, num_thrs: int = 20, collect_device="cpu",
        prefix=None, collect_dir=None,
    ):  # fmt: skip
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.norm_factor, self.num_thrs = norm_factor, num_thrs

    def compute_metrics(self, results: list) -> dict[str, float]:
        distances, mask, _ = self._stack(results)
        normalised = distances / self.norm_factor
        curve = [mean_pck(normalised, mask, i / self.num_thrs) for i in range(self.num_thrs)]
        return dict(AUC=float(np.mean(curve)))


@METRICS.register_module()
class EPE(_KeypointDistanceMetric):
    """End-point error: the mean distance in pixels over labelled keypoints. Key ``EPE``."""

    default_prefix = ""

    def compute_metrics(self, results: list) -> dict[str, float]:
        distances, mask, _ = self._stack(results)
        return dict(EPE=float(distances[mask].mean()) if mask.any() else 0.0)
