"""Object keypoint similarity (OKS) and OKS-based non-maximum suppression."""

from __future__ import annotations

import numpy as np


def oks(
    keypoints: np.ndarray,
    others: np.ndarray,
    area: float,
    other_areas: np.ndarray,
    sigmas: np.ndarray,
) -> np.ndarray:
    """OKS of one pose ``keypoints`` (ndarray[K, 2]) with each of ``others`` (ndarray[M, K, 2]),
    on the mean of the two areas, as MMPose's oks_iou: ``mean_k exp(-d_k^2 / (2 s^2 k_k^2))``
    with ``s^2`` the mean area and ``k_k = 2 sigma_k``. Returns ndarray[M]."""
    variances = (np.asarray(sigmas) * 2) ** 2
    squared = ((others - keypoints[None]) ** 2).sum(axis=-1)  # [M, K]
    mean_area = (area + np.asarray(other_areas)) / 2 + np.spacing(1)
    e = squared / variances[None] / mean_area[:, None] / 2
    return np.exp(-e).mean(axis=1)


def oks_nms(
    keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, sigmas, threshold: float = 0.9
) -> list[int]:
    """Indices of the poses kept by greedy NMS on OKS, best score first.

    A pose is dropped when its OKS with a kept, better-scoring pose exceeds
    ``threshold``. ``keypoints`` ndarray[N, K, 2], ``scores`` and ``areas`` ndarray[N].
    """
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep: list[int] = []
    while order:
        best, order = order[0], order[1:]
        keep.append(int(best))
        if not order:
            break
        rest = np.asarray(order)
        similarity = oks(keypoints[best], keypoints[rest], areas[best], areas[rest], sigmas)
        order = [int(i) for i in rest[similarity <= threshold]]
    return keep
