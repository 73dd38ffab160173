"""Test-time decoding shared by every dense head: per-level top-k -> decode -> clip ->
class-wise NMS (or Soft-NMS), in one place.

A dense head's ``forward`` gives per-level maps; its ``predict`` turns them into per-level
score and regression tensors (:func:`labdet.models.utils.permute_to_N_HWA_K`) and calls
:func:`decode_dense_detections` with its box coder's ``decode``. The heads differ in how
they score a location (sigmoid, sigmoid x centerness, ...), never in this loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from labdet.models.suppression import suppress_with_test_cfg
from labdet.models.utils import clip_boxes


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


def decode_dense_detections(
    level_scores: Sequence[Tensor],
    level_regression: Sequence[Tensor],
    level_anchors: Sequence[Tensor],
    img_shapes: Sequence[tuple[int, int]],
    *,
    decode: Callable[[Tensor, Tensor], Tensor],
    test_cfg: dict,
) -> list[InstanceData]:
    """Detections of a dense head, per image, in input-image coordinates.

    For each image and level: keep the ``topk_candidates`` (anchor, class) pairs scoring
    above ``score_thr``, decode their regression against their anchors with ``decode``,
    clip to the image's ``img_shape``; then over all levels suppress class by class
    (:func:`labdet.models.suppression.suppress_with_test_cfg`: ``nms_iou_thr``, ``max_per_img``, optional
    ``soft_nms``).

    Args:
        level_scores: per level Tensor[B, N_i, K], each (anchor, class) pair's score.
        level_regression: per level Tensor[B, N_i, R], what ``decode`` takes per anchor.
        level_anchors: per level Tensor[N_i, 4] (x1, y1, x2, y2), shared by the batch.
        img_shapes: (h, w) of each image inside the padded batch.
        decode: ``decode(regression Tensor[M, R], anchors Tensor[M, 4]) -> Tensor[M, 4]``.
        test_cfg: ``score_thr``, ``topk_candidates``, ``nms_iou_thr``, ``max_per_img``,
            optionally ``soft_nms``.

    Returns:
        One InstanceData(bboxes Tensor[D, 4], scores Tensor[D], labels Tensor[D]) per
        image, best first.
    """
    results = []
    for i, img_shape in enumerate(img_shapes):
        boxes, scores, labels = [], [], []
        for level_score, level_reg, anchors in zip(level_scores, level_regression, level_anchors):
            top_scores, anchor_idx, top_labels = top_candidates(
                level_score[i],
                score_thr=test_cfg["score_thr"],
                topk=test_cfg["topk_candidates"],
            )
            decoded = decode(level_reg[i][anchor_idx], anchors[anchor_idx])
            boxes.append(clip_boxes(decoded, img_shape))
            scores.append(top_scores)
            labels.append(top_labels)
        results.append(
            suppress_with_test_cfg(torch.cat(boxes), torch.cat(scores), torch.cat(labels), test_cfg)
        )
    return results
