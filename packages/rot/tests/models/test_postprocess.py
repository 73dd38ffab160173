"""Class-wise rotated NMS."""

from __future__ import annotations

import torch

from labrot.models.postprocess import batched_nms_rotated


def test_boxes_of_different_labels_do_not_suppress_each_other():
    box = [50.0, 50.0, 40.0, 10.0, 0.3]
    boxes = torch.tensor([box, box, [51.0, 50.0, 40.0, 10.0, 0.32], [10.0, 10.0, 5.0, 5.0, 0.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.tensor([0, 1, 0, 0])
    keep = batched_nms_rotated(boxes, scores, labels, 0.5)
    assert keep.tolist() == [0, 1, 3]  # box 2 overlaps box 0 of its own label
    # a turned copy barely overlaps: kept
    turned = torch.tensor([box, [50.0, 50.0, 40.0, 10.0, 0.3 + 1.5]])
    assert batched_nms_rotated(turned, scores[:2], labels[:2] * 0, 0.5).tolist() == [0, 1]
    assert batched_nms_rotated(boxes[:0], scores[:0], labels[:0], 0.5).numel() == 0
