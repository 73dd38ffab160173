"""DINOHead's denoising losses against a plain-torch reference on fixed predictions (each
positive slot supervised by the ground truth it was made from, every other slot as
background, all over the number of positive slots), and the split of its losses between
denoising and matching queries."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import InstanceData
from torchvision.ops import generalized_box_iou, sigmoid_focal_loss

from labdet.registry import MODELS

NUM_CLASSES = 3
IMG_SHAPES = [(60, 80), (50, 70)]


def _head():
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type="DINOHead",
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
            loss_cls=dict(type="FocalLoss", alpha=0.25, gamma=2.0, loss_weight=1.0),
            loss_bbox=dict(type="L1Loss", loss_weight=5.0),
            loss_iou=dict(type="GIoULoss", loss_weight=2.0),
            test_cfg=dict(max_per_img=10),
        )
    )


def _ground_truth():
    g = torch.Generator().manual_seed(2)
    out = []
    for num, (h, w) in zip([3, 1], IMG_SHAPES):
        xy = torch.rand(num, 2, generator=g) * torch.tensor([w, h]) * 0.5
        wh = torch.rand(num, 2, generator=g) * 15 + 5
        labels = torch.randint(0, NUM_CLASSES, (num,), generator=g)
        out.append(InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=labels))
    return out


def test_denoising_losses_match_the_reference():
    head = _head()
    gts = _ground_truth()
    groups, most = 2, 3
    num_dn = 2 * most * groups
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(2, num_dn, NUM_CLASSES, generator=g)
    boxes = torch.rand(2, num_dn, 4, generator=g) * 0.4 + 0.2
    losses = head.denoising_losses(logits, boxes, gts, IMG_SHAPES, groups)

    targets = torch.zeros_like(logits)
    l1, giou, num_pos = 0.0, 0.0, 0
    for i, (gt, (h, w)) in enumerate(zip(gts, IMG_SHAPES)):
        for group in range(groups):
            for j in range(len(gt)):
                slot = group * 2 * most + j
                targets[i, slot, gt.labels[j]] = 1
                x1, y1, x2, y2 = gt.bboxes[j].tolist()
                truth = torch.tensor(
                    [(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h]
                )
                l1 += (boxes[i, slot] - truth).abs().sum()
                cx, cy, bw, bh = boxes[i, slot].tolist()
                pred = torch.tensor(
                    [[(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]]
                )
                giou += 1 - generalized_box_iou(pred, gt.bboxes[j : j + 1])[0, 0]
                num_pos += 1
    expected = dict(
        loss_cls=sigmoid_focal_loss(logits, targets, reduction="sum") / num_pos,
        loss_bbox=5 * l1 / num_pos,
        loss_iou=2 * giou / num_pos,
    )
    for key, value in expected.items():
        assert losses[key].item() == pytest.approx(float(value), rel=1e-5), key


def test_loss_splits_denoising_and_matching_queries():
    head = _head()
    gts = _ground_truth()
    groups, most, queries = 2, 3, 5
    num_dn = 2 * most * groups
    g = torch.Generator().manual_seed(7)
    hidden = torch.randn(2, 2, num_dn + queries, 16, generator=g)
    references = [torch.rand(2, num_dn + queries, 4, generator=g) * 0.5 + 0.2 for _ in range(3)]
    enc = (
        torch.randn(2, queries, NUM_CLASSES, generator=g),
        torch.rand(2, queries, 4, generator=g) * 0.5 + 0.2,
    )
    dn_meta = dict(num_denoising_queries=num_dn, num_denoising_groups=groups)
    losses = head.loss(hidden, references, gts, IMG_SHAPES, enc_outputs=enc, dn_meta=dn_meta)
    names = ("loss_cls", "loss_bbox", "loss_iou")
    assert set(losses) == {p + k for p in ("", "d0.", "dn_", "d0.dn_", "enc_") for k in names}
    logits, boxes = head(hidden, references)
    matched = head.matched_losses(logits[1, :, num_dn:], boxes[1, :, num_dn:], gts, IMG_SHAPES)
    denoising = head.denoising_losses(
        logits[0, :, :num_dn], boxes[0, :, :num_dn], gts, IMG_SHAPES, groups
    )
    encoder = head.matched_losses(*enc, gts, IMG_SHAPES)  # with the ground truth's classes
    for key in names:
        torch.testing.assert_close(losses[key], matched[key])
        torch.testing.assert_close(losses["d0.dn_" + key], denoising[key])
        torch.testing.assert_close(losses["enc_" + key], encoder[key])
