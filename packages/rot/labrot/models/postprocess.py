"""Test-time suppression of rotated detections, and merging detections of image patches."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from labcore.ops import nms_rotated
from labrot.structures import PatchName


def batched_nms_rotated(boxes: Tensor, scores: Tensor, labels: Tensor, iou_thr: float) -> Tensor:
    """Class-wise rotated NMS: indices (Tensor[K] int64, best first) of the kept ``boxes``.

    Args:
        boxes: Tensor[N, 5] (cx, cy, w, h, angle).
        scores: Tensor[N].
        labels: Tensor[N] int64; boxes of different labels never suppress each other.
        iou_thr: a box whose rotated IoU with a kept, higher-scored box of its label
            exceeds this is dropped.

    Boxes of each label are moved apart by an offset larger than every box's reach (the
    trick of torchvision's ``batched_nms``), so one call of
    :func:`labcore.ops.nms_rotated` suppresses all labels at once.
    """
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    boxes = boxes.detach()
    reach = boxes[:, :2].abs().max() + boxes[:, 2:4].max() + 1
    shifted = boxes.clone()
    shifted[:, :2] += (labels.to(boxes.dtype) * 2 * reach)[:, None]
    return nms_rotated(shifted, scores.detach().to(boxes.dtype), iou_thr)


MERGE_IOU_THR = 0.1
"""Rotated-IoU threshold of the NMS that merges patch detections (MMRotate's
``DOTAMetric(iou_thr=0.1)``)."""


def patch_to_image(boxes: Tensor, patch: PatchName) -> Tensor:
    """Rotated boxes Tensor[N, 5] in the pixels of ``patch`` moved into its full image:
    centres shifted by the patch's corner, then centres and sizes divided by its rate."""
    moved = boxes.clone()
    moved[:, 0] += patch.x
    moved[:, 1] += patch.y
    moved[:, :4] /= patch.rate
    return moved


def merge_patch_detections(
    detections: Iterable[tuple[str, Tensor, Tensor, Tensor]],
    *,
    iou_thr: float = MERGE_IOU_THR,
) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
    """Detections of image patches merged into detections of their full images.

    Args:
        detections: per patch ``(name, boxes Tensor[N, 5] (cx, cy, w, h, angle) in the
            patch's pixels, scores Tensor[N], labels Tensor[N] int64)``; ``name`` is the
            patch's ``<image>__<rate>__<x>___<y>`` (:class:`~labrot.structures.PatchName`).
        iou_thr: class-wise rotated NMS over all patches of an image drops a box whose
            rotated IoU with a better one of its class exceeds this (objects seen by two
            overlapping patches, or at two rates, are kept once).

    Returns:
        ``{image: (boxes Tensor[K, 5], scores Tensor[K], labels Tensor[K])}`` in the full
        image's pixels, best first, images in the order they first appear.
    """
    collected: dict[str, list[tuple[Tensor, Tensor, Tensor]]] = {}
    for name, boxes, scores, labels in detections:
        patch = PatchName.parse(name)
        boxes = patch_to_image(boxes.detach().reshape(-1, 5), patch)
        collected.setdefault(patch.image, []).append((boxes, scores.detach(), labels))
    merged = {}
    for image, parts in collected.items():
        boxes, scores, labels = (torch.cat(t) for t in zip(*parts))
        keep = batched_nms_rotated(boxes, scores, labels.long(), iou_thr)
        merged[image] = (boxes[keep], scores[keep], labels[keep])
    return merged
