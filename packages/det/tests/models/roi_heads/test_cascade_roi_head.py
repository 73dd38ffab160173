"""Cascade R-CNN's RoI head: stage IoU thresholds and loss weights, refinement between stages,
and the test-time mean of the stages' scores."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import InstanceData

from labcore.engine.config import load_config
from labcore.ops import box_iou
from labdet.registry import MODELS

CONFIG = "labdet::cascade_rcnn/cascade-rcnn_r18_fpn_shapes.py"


def _head(**overrides):
    cfg = load_config(CONFIG).model.roi_head
    cfg.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _inputs():
    g = torch.Generator().manual_seed(0)
    feats = tuple(torch.randn(1, 64, 96 // s, 96 // s, generator=g) for s in (4, 8, 16, 32))
    gt = InstanceData(
        bboxes=torch.tensor([[10.0, 12.0, 50.0, 60.0], [40.0, 30.0, 90.0, 70.0]]),
        labels=torch.tensor([1, 5]),
    )
    jitter = torch.randn(60, 4, generator=g) * 6
    proposals = torch.cat([gt.bboxes.repeat(30, 1) + jitter]).clamp(0, 96)
    proposals[:, 2:] = torch.maximum(proposals[:, 2:], proposals[:, :2] + 2)
    return feats, [proposals], [gt], [(96, 96)]


def test_stages_train_at_rising_iou_thresholds():
    head = _head()
    assert head.num_stages == 3
    assert [a.pos_iou_thr for a in head.assigners] == [0.5, 0.6, 0.7]
    assert head.stage_loss_weights == [1.0, 0.5, 0.25]


def test_stage_loss_weights_scale_each_stages_losses():
    feats, proposals, gts, shapes = _inputs()
    torch.manual_seed(1)
    weighted = _head().loss(feats, proposals, gts, shapes)
    torch.manual_seed(1)
    plain = _head(stage_loss_weights=[1.0, 1.0, 1.0]).loss(feats, proposals, gts, shapes)
    assert set(weighted) == {f"s{t}.loss_{k}" for t in range(3) for k in ("cls", "bbox")}
    for t, w in enumerate([1.0, 0.5, 0.25]):
        for k in ("cls", "bbox"):
            key = f"s{t}.loss_{k}"
            torch.testing.assert_close(weighted[key], w * plain[key])
            assert plain[key] > 0


def test_one_weight_per_stage_is_required():
    with pytest.raises(ValueError, match="3 stages but 2 stage_loss_weights"):
        _head(stage_loss_weights=[1.0, 0.5])


@torch.no_grad()
def test_prediction_averages_the_stages_scores_on_refined_boxes():
    """Run the stages by hand: each refines the boxes of the one before, the score is the mean
    of the three softmaxes, the box the last stage's."""
    head = _head(test_cfg=dict(score_thr=0.0, nms_iou_thr=1.0, max_per_img=10_000, min_box_size=0))
    feats, proposals, _, shapes = _inputs()
    levels = {str(i): f for i, f in enumerate(feats)}
    rois, probs = proposals[0], []
    for t in range(3):
        pooled = head.box_roi_pool(levels, [rois], shapes)
        logits, deltas = head.box_predictors[t](head.box_heads[t](pooled))
        probs.append(logits.softmax(-1))
        rois = head.bbox_coders[t].decode(deltas, rois).clamp(0, 96)
    mean = torch.stack(probs).mean(0)[:, 1:]
    (result,) = head.predict(feats, proposals, shapes)
    # nms_iou_thr=1 keeps every (box, class) pair: compare the best-scoring ones
    best = mean.flatten().topk(20)
    torch.testing.assert_close(result.scores[:20], best.values)
    torch.testing.assert_close(result.bboxes[:20], rois[best.indices // 8])
    assert torch.equal(result.labels[:20], best.indices % 8)


@pytest.mark.slow
def test_the_cascade_learns_to_localise_on_fixed_features(one_thread):
    """Trained on one image's fixed features and jittered proposals, the three stages learn
    to put a box of the right class on each object at IoU > 0.7 (the last stage's
    threshold), and every stage's losses fall."""
    head = _head(test_cfg=dict(score_thr=0.05, nms_iou_thr=0.5, max_per_img=100, min_box_size=0))
    feats, proposals, gts, shapes = _inputs()
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    torch.manual_seed(2)
    first = None
    for _ in range(60):
        losses = head.loss(feats, proposals, gts, shapes)
        first = first or {k: v.item() for k, v in losses.items()}
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    for key, value in losses.items():
        assert value.item() < 0.5 * first[key], key
    with torch.no_grad():
        (result,) = head.predict(feats, proposals, shapes)
    for box, label in zip(gts[0].bboxes, gts[0].labels):
        same_class = result.bboxes[result.labels == label]
        assert len(same_class) and box_iou(box[None], same_class).max() > 0.7
