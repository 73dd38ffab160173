"""Class-wise suppression: hard NMS as torchvision's, Soft-NMS against a plain-torch greedy
reference, and the test-time ``soft_nms`` option of every NMS-based detector end to end."""

from __future__ import annotations

import math

import pytest
import torch
from mmengine.structures import BaseDataElement

from labcore.engine.config import load_config
from labcore.errors import ConfigError
from labcore.ops import batched_nms, box_iou
from labdet.models.suppression import nms_per_class
from labdet.registry import MODELS


def _reference_soft_nms(boxes, scores, labels, *, sigma, min_score):
    """Greedy Gaussian Soft-NMS per class: take the best remaining box, decay the others of
    its class by exp(-iou^2 / sigma), drop those below ``min_score``."""
    scores = scores.clone().double()
    alive = scores >= min_score
    keep, kept_scores = [], []
    while alive.any():
        masked = torch.where(alive, scores, torch.tensor(-1.0, dtype=scores.dtype))
        best = int(masked.argmax())
        keep.append(best)
        kept_scores.append(float(scores[best]))
        alive[best] = False
        same = alive & (labels == labels[best])
        iou = box_iou(boxes[best : best + 1].double(), boxes.double())[0]
        scores[same] *= torch.exp(-(iou[same] ** 2) / sigma)
        alive &= scores >= min_score
    return torch.tensor(keep, dtype=torch.int64), torch.tensor(kept_scores, dtype=torch.float64)


def _random_detections(seed: int, n: int = 40):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 60
    boxes = torch.cat([xy, xy + 8 + torch.rand(n, 2, generator=g) * 30], dim=1)
    return boxes, torch.rand(n, generator=g), torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize("seed", range(5))
def test_soft_nms_matches_a_greedy_reference(seed):
    boxes, scores, labels = _random_detections(seed)
    result = nms_per_class(
        boxes,
        scores,
        labels,
        nms_iou_thr=0.5,
        max_per_img=100,
        soft_nms=dict(method="gaussian", sigma=0.5, min_score=0.05),
    )
    keep, kept_scores = _reference_soft_nms(boxes, scores, labels, sigma=0.5, min_score=0.05)
    torch.testing.assert_close(result.bboxes, boxes[keep])
    torch.testing.assert_close(result.scores.double(), kept_scores, atol=1e-6, rtol=0)
    assert torch.equal(result.labels, labels[keep])


def test_hard_nms_is_torchvisions_batched_nms():
    boxes, scores, labels = _random_detections(0)
    result = nms_per_class(boxes, scores, labels, nms_iou_thr=0.5, max_per_img=7)
    keep = batched_nms(boxes, scores, labels, 0.5)[:7]
    assert torch.equal(result.bboxes, boxes[keep]) and torch.equal(result.scores, scores[keep])


def test_unknown_soft_nms_option_is_named():
    boxes, scores, labels = _random_detections(0)
    with pytest.raises(ConfigError, match="'sigmas'"):
        nms_per_class(
            boxes, scores, labels, nms_iou_thr=0.5, max_per_img=5, soft_nms=dict(sigmas=0.5)
        )


# (config, head whose test_cfg holds the final suppression)
NMS_DETECTORS = [
    ("labdet::retinanet/retinanet_r18_fpn_shapes.py", "bbox_head"),
    ("labdet::fcos/fcos_r18_fpn_shapes.py", "bbox_head"),
    ("labdet::atss/atss_r18_fpn_shapes.py", "bbox_head"),
    ("labdet::gfl/gfl_r18_fpn_shapes.py", "bbox_head"),
    ("labdet::faster_rcnn/faster-rcnn_r18_fpn_shapes.py", "roi_head"),
    ("labdet::mask_rcnn/mask-rcnn_r18_fpn_shapes.py", "roi_head"),
    ("labdet::cascade_rcnn/cascade-rcnn_r18_fpn_shapes.py", "roi_head"),
]


@pytest.mark.parametrize(("config", "head"), NMS_DETECTORS)
@torch.no_grad()
def test_soft_nms_is_a_test_time_option_of_every_detector(config, head):
    """Soft-NMS keeps the best detection and at least as many boxes as hard NMS; every score
    is decayed, never raised."""
    cfg = load_config(config).model
    cfg[head].test_cfg.update(score_thr=0.0, max_per_img=100)
    torch.manual_seed(0)
    hard = MODELS.build(cfg).eval()
    cfg[head].test_cfg.soft_nms = dict(method="gaussian", sigma=0.5, min_score=1e-4)
    soft = MODELS.build(cfg).eval()
    soft.load_state_dict(hard.state_dict())
    image = torch.randint(0, 256, (3, 96, 96), dtype=torch.uint8)
    meta = dict(img_shape=(96, 96), ori_shape=(96, 96), scale_factor=(1.0, 1.0))
    (a,) = hard.test_step(dict(inputs=[image], data_samples=[BaseDataElement(metainfo=meta)]))
    (b,) = soft.test_step(dict(inputs=[image], data_samples=[BaseDataElement(metainfo=meta)]))
    a, b = a.pred_instances, b.pred_instances
    assert len(a) > 0 and len(b) >= len(a)
    torch.testing.assert_close(b.bboxes[0], a.bboxes[0])
    assert math.isclose(float(b.scores[0]), float(a.scores[0]), rel_tol=1e-5)
    assert (b.scores[:-1] >= b.scores[1:]).all()
