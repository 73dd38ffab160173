"""HungarianAssigner against brute force over every one-to-one matching of small sets, and
its match costs against plain formulas."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torchvision.ops import box_convert

from labdet.models.losses import generalized_box_iou
from labdet.models.task_modules import (
    NEGATIVE,
    BBoxL1Cost,
    FocalLossCost,
    GIoUCost,
    HungarianAssigner,
)

IMG_SHAPE = (60, 80)


def _inputs(num_preds: int, num_gts: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)

    def boxes(n):
        centers = torch.rand(n, 2, generator=g) * 0.6 + 0.2
        sizes = torch.rand(n, 2, generator=g) * 0.3 + 0.05
        return torch.cat([centers, sizes], dim=1)

    return dict(
        pred_logits=torch.randn(num_preds, 5, generator=g),
        pred_boxes=boxes(num_preds),
        gt_labels=torch.randint(0, 5, (num_gts,), generator=g),
        gt_boxes=boxes(num_gts),
        img_shape=IMG_SHAPE,
    )


def _assigner() -> HungarianAssigner:
    return HungarianAssigner(
        match_costs=[FocalLossCost(weight=2.0), BBoxL1Cost(weight=5.0), GIoUCost(weight=2.0)]
    )


def _brute_force_minimum(cost: torch.Tensor) -> float:
    """The least total cost of matching min(Q, G) pairs one-to-one, over every matching."""
    num_preds, num_gts = cost.shape
    if num_gts <= num_preds:
        return min(
            sum(cost[p, g].item() for g, p in enumerate(preds))
            for preds in itertools.permutations(range(num_preds), num_gts)
        )
    return min(
        sum(cost[p, g].item() for p, g in enumerate(gts))
        for gts in itertools.permutations(range(num_gts), num_preds)
    )


@pytest.mark.parametrize(("num_preds", "num_gts"), [(6, 3), (5, 5), (7, 1), (3, 5)])
@pytest.mark.parametrize("seed", range(4))
def test_matching_has_the_brute_force_minimum_cost(num_preds, num_gts, seed):
    inputs = _inputs(num_preds, num_gts, seed)
    assigner = _assigner()
    matched = assigner.assign(**inputs)
    cost = assigner.cost_matrix(**inputs)

    positives = torch.where(matched >= 0)[0]
    assert len(positives) == min(num_preds, num_gts)
    assert len(set(matched[positives].tolist())) == len(positives)  # one-to-one
    assert (matched[matched < 0] == NEGATIVE).all()
    total = sum(cost[p, matched[p]].item() for p in positives.tolist())
    assert total == pytest.approx(_brute_force_minimum(cost), abs=1e-5)


def test_no_ground_truth_makes_every_prediction_background():
    matched = _assigner().assign(**_inputs(4, 0, seed=0))
    assert matched.tolist() == [NEGATIVE] * 4


def test_costs_against_plain_formulas():
    inputs = _inputs(4, 3, seed=1)
    prob = inputs["pred_logits"].sigmoid()
    alpha, gamma = 0.25, 2.0
    height, width = IMG_SHAPE
    scale = torch.tensor([width, height, width, height], dtype=torch.float32)
    pred_xyxy = box_convert(inputs["pred_boxes"], "cxcywh", "xyxy") * scale
    gt_xyxy = box_convert(inputs["gt_boxes"], "cxcywh", "xyxy") * scale
    focal, l1, giou = (
        FocalLossCost(weight=2.0)(**inputs),
        BBoxL1Cost(weight=5.0)(**inputs),
        GIoUCost(weight=3.0)(**inputs),
    )
    for q in range(4):
        for g in range(3):
            p = prob[q, inputs["gt_labels"][g]].item()
            expected = alpha * (1 - p) ** gamma * -math.log(p) - (1 - alpha) * p**gamma * -math.log(
                1 - p
            )
            assert focal[q, g].item() == pytest.approx(2.0 * expected, rel=1e-5)
            distance = (inputs["pred_boxes"][q] - inputs["gt_boxes"][g]).abs().sum().item()
            assert l1[q, g].item() == pytest.approx(5.0 * distance, rel=1e-5)
            pair = generalized_box_iou(pred_xyxy[q : q + 1], gt_xyxy[g : g + 1]).item()
            assert giou[q, g].item() == pytest.approx(-3.0 * pair, rel=1e-4, abs=1e-6)
