"""DynamicSoftLabelAssigner against a plain-torch reference of RTMDet's rule (soft one-hot
labels of Tensor[V, G, K], one ground truth at a time), and its edge cases."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from labdet.models.task_modules import NEGATIVE, DynamicSoftLabelAssigner
from labdet.models.task_modules.dynamic_soft_label_assigner import soft_label_class_cost


def reference_assign(points, strides, gt_boxes, gt_labels, pred_boxes, logits, *, topk=13):
    """RTMDet's dynamic soft-label assignment written out plainly."""
    num = len(points)
    matched = torch.full((num,), -1, dtype=torch.int64)
    matched_ious = torch.zeros(num, dtype=pred_boxes.dtype)
    inside = torch.zeros(num, len(gt_boxes), dtype=torch.bool)
    for g, (x0, y0, x1, y1) in enumerate(gt_boxes.tolist()):
        x, y = points[:, 0], points[:, 1]
        inside[:, g] = (x > x0) & (y > y0) & (x < x1) & (y < y1)
    valid = torch.where(inside.any(dim=1))[0]
    ious = box_iou(pred_boxes[valid], gt_boxes)
    centers = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
    distance = ((points[valid, None] - centers[None]) ** 2).sum(-1).sqrt() / strides[valid, None]
    center_cost = 10.0 ** (distance - 3.0)
    iou_cost = -torch.log(ious + 1e-7) * 3.0
    soft = F.one_hot(gt_labels, logits.shape[1]).to(logits.dtype)[None] * ious[..., None]
    valid_logits = logits[valid][:, None].expand_as(soft)
    class_cost = (
        F.binary_cross_entropy_with_logits(valid_logits, soft, reduction="none")
        * (soft - valid_logits.sigmoid()).abs() ** 2
    ).sum(-1)
    cost = class_cost + iou_cost + center_cost
    chosen = torch.zeros_like(cost, dtype=torch.bool)
    for g in range(len(gt_boxes)):
        k = max(int(ious[:, g].sort(descending=True).values[:topk].sum()), 1)
        chosen[cost[:, g].argsort()[:k], g] = True
    for v in range(len(valid)):
        if chosen[v].sum() > 1:
            best = int(cost[v].argmin())
            chosen[v] = False
            chosen[v, best] = True
        if chosen[v].any():
            g = int(chosen[v].nonzero()[0])
            matched[valid[v]] = g
            matched_ious[valid[v]] = ious[v, g]
    return matched, matched_ious


def _case(seed: int, num_gt: int, num_classes: int = 5):
    g = torch.Generator().manual_seed(seed)
    strides, points = [], []
    for s in (8, 16, 32):
        n = 64 // s
        ys, xs = torch.meshgrid(torch.arange(n) * s, torch.arange(n) * s, indexing="ij")
        points.append(torch.stack([xs.flatten(), ys.flatten()], 1).double())
        strides.append(torch.full((n * n,), float(s), dtype=torch.float64))
    points, strides = torch.cat(points), torch.cat(strides)
    xy = torch.rand(num_gt, 2, generator=g, dtype=torch.float64) * 40
    gt_boxes = torch.cat(
        [xy, xy + 8 + torch.rand(num_gt, 2, generator=g, dtype=torch.float64) * 30], 1
    )
    gt_labels = torch.randint(0, num_classes, (num_gt,), generator=g)
    distances = 2 + torch.rand(len(points), 4, generator=g, dtype=torch.float64) * 20
    pred_boxes = torch.cat([points - distances[:, :2], points + distances[:, 2:]], 1)
    logits = torch.randn(len(points), num_classes, generator=g, dtype=torch.float64)
    return points, strides, gt_boxes, gt_labels, pred_boxes, logits


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("num_gt", [1, 3, 6])
def test_assignment_matches_the_reference(seed, num_gt):
    points, strides, gt_boxes, gt_labels, pred_boxes, logits = _case(seed, num_gt)
    matched, ious = DynamicSoftLabelAssigner(topk=13).assign(
        points,
        gt_boxes,
        strides=strides,
        gt_labels=gt_labels,
        pred_boxes=pred_boxes,
        pred_logits=logits,
    )
    expected, expected_ious = reference_assign(
        points, strides, gt_boxes, gt_labels, pred_boxes, logits
    )
    assert (matched >= 0).any()
    torch.testing.assert_close(matched, expected, rtol=0, atol=0)
    torch.testing.assert_close(ious, expected_ious, rtol=0, atol=1e-6)


def test_class_cost_equals_the_soft_one_hot_sum():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([2, 0, 2])
    ious = torch.rand(7, 3, generator=g, dtype=torch.float64)
    soft = F.one_hot(labels, 4).double()[None] * ious[..., None]
    x = logits[:, None].expand_as(soft)
    expected = (
        F.binary_cross_entropy_with_logits(x, soft, reduction="none")
        * (soft - x.sigmoid()).abs() ** 2
    ).sum(-1)
    torch.testing.assert_close(soft_label_class_cost(logits, labels, ious), expected)


def test_a_point_outside_every_box_is_negative_and_no_boxes_give_all_negative():
    points = torch.tensor([[4.0, 4.0], [20.0, 20.0], [60.0, 60.0]])
    strides = torch.full((3,), 8.0)
    pred_boxes = torch.cat([points - 6, points + 6], 1)
    logits = torch.zeros(3, 2)
    assigner = DynamicSoftLabelAssigner()
    kwargs = dict(strides=strides, pred_boxes=pred_boxes, pred_logits=logits)
    matched, ious = assigner.assign(
        points, torch.tensor([[10.0, 10.0, 30.0, 30.0]]), gt_labels=torch.tensor([1]), **kwargs
    )
    assert matched.tolist() == [NEGATIVE, 0, NEGATIVE]
    assert ious[1] > 0 and ious[0] == ious[2] == 0
    matched, ious = assigner.assign(
        points, torch.zeros(0, 4), gt_labels=torch.zeros(0, dtype=torch.int64), **kwargs
    )
    assert (matched == NEGATIVE).all() and (ious == 0).all()
    # a box that contains no point leaves every point negative
    matched, _ = assigner.assign(
        points, torch.tensor([[30.0, 30.0, 40.0, 40.0]]), gt_labels=torch.tensor([0]), **kwargs
    )
    assert (matched == NEGATIVE).all()
