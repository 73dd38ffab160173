"""Oriented R-CNN's parts: the oriented RPN's proposals, the rotated RoI extractor's level
mapping and pooling, the rotated RoI head's losses and detections."""

from __future__ import annotations

import math

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from labcore.engine.config import load_config
from labcore.ops import roi_align_rotated
from labrot.models.roi_heads import RotatedSingleRoIExtractor
from labrot.models.task_modules import MidpointOffsetBoxCoder
from labrot.registry import MODELS
from labrot.structures import rbox_to_poly

TINY = "labrot::oriented_rcnn/oriented-rcnn_r18_fpn_shapes_le90.py"


@pytest.fixture(scope="module")
def tiny_model_cfg():
    return load_config(TINY).model


def build(cfg):
    """A labrot part built as a labrot config builds it: in scope ``labrot``, so labdet's
    builders inside it find labrot's coders and assigners."""
    with DefaultScope.overwrite_default_scope("labrot"):
        return MODELS.build(cfg)


def reference_midpoint_polygon(deltas: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Oriented R-CNN's decoding written out per box: Tensor[N, 4, 2] corners of the
    rectangle whose half-diagonals point from the outer box's centre to the two decoded
    vertices, both with the length of the longer one."""
    corners = []
    for (dx, dy, dw, dh, da, db), (x1, y1, x2, y2) in zip(deltas.tolist(), anchors.tolist()):
        pw, ph = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2 + dx * pw, (y1 + y2) / 2 + dy * ph
        w, h = pw * math.exp(dw), ph * math.exp(dh)
        top = (da * w, -h / 2)  # from the centre to the vertex on the top edge
        right = (w / 2, db * h)  # to the vertex on the right edge
        length = max(math.hypot(*top), math.hypot(*right))
        points = []
        for vx, vy in (top, right):
            norm = math.hypot(vx, vy)
            ux, uy = vx / norm * length, vy / norm * length
            points += [(cx + ux, cy + uy), (cx - ux, cy - uy)]
        corners.append(points)
    return torch.tensor(corners, dtype=torch.float64)


def assert_same_corners(polygons: torch.Tensor, reference: torch.Tensor):
    """Each box's 4 corners (Tensor[N, 8] against Tensor[N, 4, 2]) equal as sets."""
    corners = polygons.view(-1, 4, 2).to(torch.float64)
    distance = torch.cdist(reference, corners)  # [N, 4, 4]
    assert distance.min(dim=2).values.max() < 1e-3
    assert distance.min(dim=1).values.max() < 1e-3


def test_midpoint_offset_decode_matches_plain_reference():
    generator = torch.Generator().manual_seed(0)
    xy = torch.rand(64, 2, generator=generator) * 100
    wh = torch.rand(64, 2, generator=generator) * 50 + 5
    anchors = torch.cat((xy, xy + wh), dim=1).double()
    deltas = torch.cat(
        (
            torch.randn(64, 4, generator=generator) * 0.3,
            torch.rand(64, 2, generator=generator) - 0.5,
        ),
        dim=1,
    ).double()
    boxes = MidpointOffsetBoxCoder(angle_version="le90").decode(deltas, anchors)
    assert_same_corners(rbox_to_poly(boxes), reference_midpoint_polygon(deltas, anchors))


def test_oriented_rpn_proposals_are_decoded_anchors_by_score(tiny_model_cfg):
    head = build(tiny_model_cfg.rpn_head)
    torch.manual_seed(0)
    feats = (torch.randn(1, 64, 4, 4),)
    objectness, deltas = head(feats)
    assert objectness[0].shape == (1, 3, 4, 4) and deltas[0].shape == (1, 18, 4, 4)
    sizes = [(4 // 2**i or 1, 4 // 2**i or 1) for i in range(5)]
    anchors = head.anchor_generator.grid_anchors(sizes)[:1]  # level 0 (stride 4)
    # every anchor survives: no score floor, no size floor, NMS that never suppresses
    cfg = dict(pre_nms_top_n=1000, post_nms_top_n=1000, nms_iou_thr=1.0, score_thr=0.0)
    cfg["min_box_size"] = 0
    deltas = [torch.randn(1, 18, 4, 4) * 0.2]
    (proposals,) = head._proposals(objectness, deltas, anchors, [(128, 128)], cfg)
    # anchor a at location (i, j) reads channels [6 a, 6 a + 6) of deltas[:, :, i, j]
    flat_deltas = deltas[0][0].view(3, 6, 4, 4).permute(2, 3, 0, 1).reshape(-1, 6)
    flat_scores = objectness[0][0].permute(1, 2, 0).reshape(-1)
    order = flat_scores.argsort(descending=True)
    expected = head.bbox_coder.decode(flat_deltas[order], anchors[0][order])
    assert proposals.shape == (48, 5)
    torch.testing.assert_close(proposals, expected)
    assert_same_corners(
        rbox_to_poly(proposals),
        reference_midpoint_polygon(
            (flat_deltas[order] / flat_deltas.new_tensor(head.bbox_coder.weights)).double(),
            anchors[0][order].double(),
        ),
    )


def test_roi_extractor_maps_rois_to_levels_by_scale():
    extractor = RotatedSingleRoIExtractor(featmap_strides=[4, 8, 16, 32], finest_scale=56)
    sides = torch.tensor([20.0, 111.0, 113.0, 223.0, 225.0, 447.0, 449.0, 2000.0])
    rois = torch.stack(
        (torch.full_like(sides, 50), torch.full_like(sides, 50), sides, sides, sides * 0), 1
    )
    assert extractor.map_levels(rois).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    # a 400 x 100 box has the scale of a 200 x 200 one
    assert extractor.map_levels(torch.tensor([[50.0, 50.0, 400.0, 100.0, 0.7]])).item() == 1


def test_roi_extractor_pools_each_roi_from_its_level():
    extractor = RotatedSingleRoIExtractor(featmap_strides=[4, 8], output_size=7)
    torch.manual_seed(0)
    feats = (torch.randn(2, 3, 32, 32), torch.randn(2, 3, 16, 16))
    rois = [
        torch.tensor([[40.0, 50.0, 30.0, 12.0, 0.4]]),
        torch.tensor([[60.0, 60.0, 150.0, 120.0, -1.0], [20.0, 30.0, 10.0, 8.0, 0.0]]),
    ]
    pooled = extractor(feats, rois)
    assert pooled.shape == (3, 3, 7, 7)
    expected = [
        roi_align_rotated(feats[0], torch.tensor([[0.0, 40, 50, 30, 12, 0.4]]), 7, 1 / 4, 2),
        roi_align_rotated(feats[1], torch.tensor([[1.0, 60, 60, 150, 120, -1.0]]), 7, 1 / 8, 2),
        roi_align_rotated(feats[0], torch.tensor([[1.0, 20, 30, 10, 8, 0.0]]), 7, 1 / 4, 2),
    ]
    torch.testing.assert_close(pooled, torch.cat(expected))


def test_rotated_roi_head_loss_shapes_and_detections(tiny_model_cfg):
    torch.manual_seed(0)
    head = build(tiny_model_cfg.roi_head)
    feats = tuple(torch.randn(2, 64, 32 // 2**i, 32 // 2**i) for i in range(5))
    proposals = [torch.tensor([[40.0, 50.0, 28.0, 14.0, 0.3], [90.0, 80.0, 30.0, 30.0, 0.0]])] * 2
    class_logits, deltas = head(feats, proposals)
    assert class_logits.shape == (4, 9) and deltas.shape == (4, 5)
    gts = [
        InstanceData(
            bboxes=torch.tensor([[40.0, 50.0, 30.0, 12.0, 0.4]]), labels=torch.tensor([3])
        ),
        InstanceData(bboxes=torch.zeros((0, 5)), labels=torch.zeros((0,), dtype=torch.long)),
    ]
    losses = head.loss(feats, proposals, gts, [(128, 128)] * 2)
    assert set(losses) == {"loss_cls", "loss_bbox"}
    assert all(v.shape == () and torch.isfinite(v) for v in losses.values())
    assert losses["loss_bbox"] > 0
    sum(losses.values()).backward()
    assert head.box_predictor.bbox_pred.weight.grad.abs().sum() > 0
    head.test_cfg["score_thr"] = 0.0
    with torch.no_grad():
        results = head.predict(feats, proposals, [(128, 128)] * 2)
    assert len(results) == 2
    assert results[0].bboxes.shape[1] == 5 and len(results[0]) == len(results[0].labels)
    assert set(results[0].labels.tolist()) <= set(range(8))
