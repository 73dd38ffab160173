"""Test-time post-processing shared by the dense heads: per-level top-k, then class-wise NMS."""

from __future__ import annotations

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from labcore.ops import batched_nms


def top_candidates(scores: Tensor, *, score_thr: float, topk: int) -> tuple[Tensor, Tensor, Tensor]:
    """The best (anchor, class) pairs of one level of one image.

    Args:
        scores: Tensor[N, K], the class scores of the level's N anchors.
        score_thr: pairs must score strictly above this.
        topk: at most this many pairs are kept, best first.

    Returns:
        (scores Tensor[M], anchor indices Tensor[M], labels Tensor[M]), M <= topk.
    """
    num_classes = scores.shape[1]
    flat = scores.flatten()
    keep = flat > score_thr
    flat = flat[keep]
    candidate_idx = torch.where(keep)[0]
    flat, order = flat.topk(min(topk, flat.numel()))
    candidate_idx = candidate_idx[order]
    anchor_idx = torch.div(candidate_idx, num_classes, rounding_mode="floor")
    return flat, anchor_idx, candidate_idx % num_classes


def nms_per_class(
    boxes: Tensor, scores: Tensor, labels: Tensor, *, nms_iou_thr: float, max_per_img: int
) -> InstanceData:
    """Class-wise NMS over one image's detections (Tensor[M, 4], Tensor[M], Tensor[M]).

    Returns the ``max_per_img`` highest-scoring survivors as InstanceData(bboxes, scores,
    labels), best first.
    """
    keep = batched_nms(boxes, scores, labels, nms_iou_thr)[:max_per_img]
    return InstanceData(bboxes=boxes[keep], scores=scores[keep], labels=labels[keep])
