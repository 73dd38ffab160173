"""Rotated anchors and max-IoU assignment agree with labdet's on unrotated boxes."""

from __future__ import annotations

import math

import torch

from labdet.models.task_modules import AnchorGenerator, MaxIoUAssigner
from labrot.models.task_modules import RotatedAnchorGenerator, RotatedMaxIoUAssigner
from labrot.structures import hbox_of

ANCHORS = dict(sizes=[[16, 24], [32, 48]], aspect_ratios=[[0.5, 1.0, 2.0]] * 2, strides=[8, 16])


def test_rotated_anchors_are_labdets_with_angle_zero():
    sizes = [(8, 10), (4, 5)]
    horizontal = AnchorGenerator(**ANCHORS).grid_anchors(sizes)
    rotated = RotatedAnchorGenerator(**ANCHORS).grid_anchors(sizes)
    for h, r in zip(horizontal, rotated):
        assert r.shape == (len(h), 5) and (r[:, 4] == 0).all()
        torch.testing.assert_close(hbox_of(r), h.float())


def test_assignment_matches_labdet_on_unrotated_boxes_and_follows_the_angle():
    anchors = torch.cat(RotatedAnchorGenerator(**ANCHORS).grid_anchors([(8, 10), (4, 5)]))
    gt = torch.tensor([[30.0, 20.0, 20.0, 10.0, 0.0], [50.0, 40.0, 40.0, 40.0, 0.0]])
    args = dict(pos_iou_thr=0.5, neg_iou_thr=0.4, allow_low_quality_matches=True)
    rotated = RotatedMaxIoUAssigner(**args).assign(anchors, gt)
    horizontal = MaxIoUAssigner(**args).assign(hbox_of(anchors), hbox_of(gt))
    assert torch.equal(rotated, horizontal)
    assert (rotated >= 0).sum() >= 2
    # a long thin box turned by 90 degrees matches the anchors of the other orientation
    thin = torch.tensor([[40.0, 32.0, 32.0, 8.0, 0.0]])
    turned = thin.clone()
    turned[0, 4] = math.pi / 2
    flat, upright = (RotatedMaxIoUAssigner(**args).assign(anchors, b) >= 0 for b in (thin, turned))
    wide = anchors[flat][:, 2] > anchors[flat][:, 3]
    tall = anchors[upright][:, 3] > anchors[upright][:, 2]
    assert wide.all() and tall.all()
