"""DeformableDETRHead's losses against a plain-torch reference on fixed predictions: its own
Hungarian matching (scipy on a cost matrix written here), torchvision's sigmoid focal loss,
L1 on normalised cxcywh and GIoU on pixel boxes, each divided by the number of ground-truth
boxes, for every decoder layer and the two-stage encoder proposals."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import InstanceData
from scipy.optimize import linear_sum_assignment
from torchvision.ops import generalized_box_iou, sigmoid_focal_loss

from labdet.registry import MODELS

NUM_CLASSES = 3
IMG_SHAPES = [(60, 80), (50, 70), (64, 64)]


def _head():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type="DeformableDETRHead",
            num_classes=NUM_CLASSES,
            embed_dims=16,
            num_pred_layer=3,
            share_pred_layer=False,
            as_two_stage=True,
            assigner=dict(
                type="HungarianAssigner",
                match_costs=[
                    dict(type="FocalLossCost", weight=2.0),
                    dict(type="BBoxL1Cost", weight=5.0),
                    dict(type="GIoUCost", weight=2.0),
                ],
            ),
            loss_cls=dict(type="FocalLoss", alpha=0.25, gamma=2.0, loss_weight=2.0),
            loss_bbox=dict(type="L1Loss", loss_weight=5.0),
            loss_iou=dict(type="GIoULoss", loss_weight=2.0),
            test_cfg=dict(max_per_img=10),
        )
    )
    for branch in head.reg_branches:  # away from the zero init, so boxes differ by query
        torch.nn.init.normal_(branch[-1].weight, std=0.3)
    return head


def _ground_truth():
    g = torch.Generator().manual_seed(3)
    out = []
    for num, (h, w) in zip([3, 0, 2], IMG_SHAPES):
        xy = torch.rand(num, 2, generator=g) * torch.tensor([w, h]) * 0.6
        wh = torch.rand(num, 2, generator=g) * 15 + 5
        labels = torch.randint(0, NUM_CLASSES, (num,), generator=g)
        out.append(InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=labels))
    return out


def _reference_losses(logits, boxes, gts, shapes) -> dict:
    """Plain torch: match by total cost (2 focal + 5 L1 + 2 (-GIoU)), then the losses."""
    targets = torch.zeros_like(logits)
    pred_l1, target_l1, pred_px, target_px = [], [], [], []
    for i, (gt, (h, w)) in enumerate(zip(gts, shapes)):
        x1, y1, x2, y2 = gt.bboxes.unbind(-1)
        gt_norm = torch.stack(
            [(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h], -1
        )
        cx, cy, bw, bh = boxes[i].unbind(-1)
        pred_pixels = torch.stack(
            [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], -1
        )
        if len(gt_norm) == 0:
            continue
        p = logits[i].sigmoid()[:, gt.labels]
        focal = 0.25 * (1 - p) ** 2 * -(p + 1e-12).log() - 0.75 * p**2 * -(1 - p + 1e-12).log()
        l1 = (boxes[i][:, None] - gt_norm[None]).abs().sum(-1)
        giou = generalized_box_iou(pred_pixels, gt.bboxes)
        cost = 2 * focal + 5 * l1 - 2 * giou
        rows, cols = linear_sum_assignment(cost.detach().numpy())
        rows, cols = torch.as_tensor(rows), torch.as_tensor(cols)
        targets[i, rows, gt.labels[cols]] = 1
        pred_l1.append(boxes[i][rows])
        target_l1.append(gt_norm[cols])
        pred_px.append(pred_pixels[rows])
        target_px.append(gt.bboxes[cols])
    num_boxes = max(sum(len(g) for g in gts), 1)
    pred_l1, target_l1 = torch.cat(pred_l1), torch.cat(target_l1)
    pred_px, target_px = torch.cat(pred_px), torch.cat(target_px)
    return dict(
        loss_cls=2
        * sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2, reduction="sum")
        / num_boxes,
        loss_bbox=5 * (pred_l1 - target_l1).abs().sum() / num_boxes,
        loss_iou=2 * (1 - torch.diag(generalized_box_iou(pred_px, target_px))).sum() / num_boxes,
    )


def test_losses_of_every_layer_and_the_proposals_match_the_reference():
    head = _head()
    g = torch.Generator().manual_seed(1)
    batch, queries = len(IMG_SHAPES), 8
    hidden = torch.randn(2, batch, queries, 16, generator=g)
    references = [
        torch.rand(batch, queries, 2, generator=g),  # the first layer's reference points
        torch.rand(batch, queries, 4, generator=g) * 0.5 + 0.2,  # refined boxes
    ]
    enc_outputs = (
        torch.randn(batch, 20, NUM_CLASSES, generator=g),
        torch.rand(batch, 20, 4, generator=g) * 0.5 + 0.2,
    )
    gts = _ground_truth()
    losses = head.loss(hidden, references, gts, IMG_SHAPES, enc_outputs=enc_outputs)

    logits, boxes = head(hidden, references)
    expected = {}
    for layer, prefix in enumerate(["d0.", ""]):
        for key, value in _reference_losses(logits[layer], boxes[layer], gts, IMG_SHAPES).items():
            expected[prefix + key] = value
    agnostic = [InstanceData(bboxes=gt.bboxes, labels=torch.zeros_like(gt.labels)) for gt in gts]
    for key, value in _reference_losses(*enc_outputs, agnostic, IMG_SHAPES).items():
        expected["enc_" + key] = value

    assert set(losses) == set(expected)
    for key, value in expected.items():
        assert losses[key].item() == pytest.approx(value.item(), rel=1e-5), key


def test_no_ground_truth_gives_a_classification_loss_only():
    head = _head()
    hidden = torch.randn(2, 1, 5, 16)
    references = [torch.rand(1, 5, 2), torch.rand(1, 5, 4)]
    empty = [InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))]
    losses = head.loss(hidden, references, empty, [(32, 32)])
    logits, _ = head(hidden, references)
    expected = 2 * sigmoid_focal_loss(logits[-1], torch.zeros_like(logits[-1]), reduction="sum")
    assert losses["loss_cls"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert losses["loss_bbox"].item() == 0 and losses["loss_iou"].item() == 0
    sum(losses.values()).backward()


def test_predictions_are_the_top_scores_over_queries_and_classes():
    head = _head()
    hidden = torch.randn(2, 1, 6, 16)
    references = [torch.rand(1, 6, 2), torch.rand(1, 6, 4) * 0.5 + 0.2]
    (result,) = head.predict(hidden, references, [(40, 50)])
    logits, boxes = head(hidden, references)
    scores = logits[-1, 0].sigmoid()
    top = scores.flatten().sort(descending=True).values[:10]
    torch.testing.assert_close(result.scores, top)
    for score, label, box in zip(result.scores, result.labels, result.bboxes):
        query = (scores[:, label] == score).nonzero()[0, 0]
        cx, cy, w, h = boxes[-1, 0, query].tolist()
        expected = torch.tensor(
            [(cx - w / 2) * 50, (cy - h / 2) * 40, (cx + w / 2) * 50, (cy + h / 2) * 40]
        )
        expected = torch.minimum(expected.clamp(min=0), torch.tensor([50.0, 40, 50, 40]))
        torch.testing.assert_close(box, expected)
