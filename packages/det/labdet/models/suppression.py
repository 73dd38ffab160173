"""Class-wise suppression of one image's detections: hard NMS or Soft-NMS, the final step
of every NMS-based detector (dense heads and RoI heads alike)."""

from __future__ import annotations

from mmengine.structures import InstanceData
from torch import Tensor

from labcore.errors import ConfigError
from labcore.ops import batched_nms, batched_soft_nms

SOFT_NMS_OPTIONS = ("method", "sigma", "min_score", "iou_threshold")


def nms_per_class(
    boxes: Tensor,
    scores: Tensor,
    labels: Tensor,
    *,
    nms_iou_thr: float,
    max_per_img: int,
    soft_nms: dict | None = None,
) -> InstanceData:
    """Class-wise suppression over one image's detections (Tensor[M, 4], Tensor[M], Tensor[M]).

    Hard NMS at ``nms_iou_thr`` by default. With ``soft_nms`` (keyword arguments of
    :func:`labcore.ops.batched_soft_nms`: ``method`` 'linear' or 'gaussian', ``sigma``,
    ``min_score``, ``iou_threshold``, which defaults to ``nms_iou_thr``) overlapping boxes
    have their scores decayed instead of being dropped, and the decayed scores are returned.

    Returns the ``max_per_img`` highest-scoring survivors as InstanceData(bboxes, scores,
    labels), best first.
    """
    if soft_nms is None:
        keep = batched_nms(boxes, scores, labels, nms_iou_thr)[:max_per_img]
        return InstanceData(bboxes=boxes[keep], scores=scores[keep], labels=labels[keep])
    unknown = sorted(set(soft_nms) - set(SOFT_NMS_OPTIONS))
    if unknown:
        raise ConfigError(
            f"test_cfg.soft_nms: unknown option(s) {unknown}; use only {list(SOFT_NMS_OPTIONS)}, "
            "e.g. soft_nms=dict(method='gaussian', sigma=0.5, min_score=0.001)"
        )
    options = dict(soft_nms)
    options.setdefault("iou_threshold", nms_iou_thr)
    keep, decayed = batched_soft_nms(boxes, scores, labels, **options)
    keep, decayed = keep[:max_per_img], decayed[:max_per_img]
    return InstanceData(bboxes=boxes[keep], scores=decayed, labels=labels[keep])


def suppress_with_test_cfg(
    boxes: Tensor, scores: Tensor, labels: Tensor, test_cfg: dict
) -> InstanceData:
    """:func:`nms_per_class` with ``nms_iou_thr``, ``max_per_img`` and the optional
    ``soft_nms`` taken from a head's ``test_cfg``."""
    return nms_per_class(
        boxes,
        scores,
        labels,
        nms_iou_thr=test_cfg["nms_iou_thr"],
        max_per_img=test_cfg["max_per_img"],
        soft_nms=test_cfg.get("soft_nms"),
    )
