"""RTMDet: the head's shapes, its point grid and shared convs, and the full models' parameter
counts against MMDetection's published ones."""

from __future__ import annotations

import math

import pytest
import torch
from mmengine.structures import InstanceData

from labcore.engine.config import load_config
from labdet.models.dense_heads.rtmdet_head import RTMDetSepBNHead, grid_points
from labdet.models.utils import permute_to_N_HWA_K
from labdet.registry import MODELS


def num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _head(**kwargs) -> RTMDetSepBNHead:
    cfg = load_config("labdet::rtmdet/rtmdet_tiny_shapes.py").model.bbox_head
    cfg.update(in_channels=64, feat_channels=64, **kwargs)
    return MODELS.build(cfg)


# MMDetection's configs/rtmdet README, Params(M): RTMDet-s 8.89, m 24.71, l 52.3 (to the
# digits printed); tiny is printed as 4.8, a truncation of its 4.896M.
@pytest.mark.parametrize(
    ("config", "published", "digits"),
    [
        ("rtmdet_tiny_8xb32-300e_coco.py", 4.8, None),
        ("rtmdet_s_8xb32-300e_coco.py", 8.89, 2),
        ("rtmdet_m_8xb32-300e_coco.py", 24.71, 2),
        ("rtmdet_l_8xb32-300e_coco.py", 52.3, 1),
    ],
)
def test_parameter_count_matches_mmdetection(config, published, digits):
    cfg = load_config(f"labdet::rtmdet/{config}")
    with torch.device("meta"):
        model = MODELS.build(cfg.model)
    millions = num_params(model) / 1e6
    if digits is None:
        assert math.floor(millions * 10) / 10 == published, millions
    else:
        assert round(millions, digits) == published, millions


def test_tiny_parameter_count_is_exact():
    cfg = load_config("labdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py")
    with torch.device("meta"):
        model = MODELS.build(cfg.model)
    assert num_params(model) == 4_896_168


def test_forward_shapes_and_distances_in_pixels():
    torch.manual_seed(0)
    head = _head(exp_on_reg=False)
    feats = [torch.randn(2, 64, s, s) for s in (16, 8, 4)]
    cls_logits, distances = head(feats)
    assert [tuple(c.shape) for c in cls_logits] == [(2, 8, s, s) for s in (16, 8, 4)]
    assert [tuple(d.shape) for d in distances] == [(2, 4, s, s) for s in (16, 8, 4)]
    # distances are the 1x1 predictor's output times the stride (no exp for tiny / s / m)
    level = 2
    raw = head.rtm_reg[level](head.reg_tower(feats[level], level))
    torch.testing.assert_close(distances[level], raw * 32)
    exp_head = _head(exp_on_reg=True)
    exp_head.load_state_dict(head.state_dict())
    torch.testing.assert_close(exp_head(feats)[1][level], raw.exp() * 32)


def test_towers_share_convs_and_keep_a_norm_per_level():
    head = _head()
    assert len(head.cls_tower.convs) == 2 and len(head.cls_tower.norms) == 3
    assert all(conv.bias is None for conv in head.cls_tower.convs)
    norms = [id(n) for level in head.reg_tower.norms for n in level]
    assert len(set(norms)) == 6
    # the head's parameters: 2 towers x (convs once + 3 levels of norms) + 3 levels of predictors
    conv = 64 * 64 * 9
    expected = 2 * (2 * conv + 3 * 2 * 2 * 64) + 3 * (64 * 8 + 8 + 64 * 4 + 4)
    assert num_params(head) == expected


def test_points_follow_the_flattened_maps():
    points = grid_points([(2, 3), (1, 2)], [8, 16], "cpu")
    assert points[0].tolist() == [[0, 0], [8, 0], [16, 0], [0, 8], [8, 8], [16, 8]]
    assert points[1].tolist() == [[0, 0], [16, 0]]
    x = torch.arange(6.0).view(1, 1, 2, 3)
    assert permute_to_N_HWA_K(x, 1).flatten().tolist() == list(range(6))


def test_loss_without_objects_is_finite_and_predict_decodes_from_the_points():
    torch.manual_seed(0)
    head = _head()
    feats = [torch.randn(2, 64, s, s) for s in (16, 8, 4)]
    empty = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.int64))
    one = InstanceData(bboxes=torch.tensor([[20.0, 24.0, 70.0, 90.0]]), labels=torch.tensor([3]))
    losses = head.loss(feats, [empty, one])
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    losses = head.loss(feats, [empty, empty])
    assert losses["loss_bbox"] == 0

    head.eval()
    head.test_cfg.update(score_thr=0.0, topk_candidates=100)
    with torch.no_grad():
        results = head.predict(feats, [(128, 128), (100, 120)])
        cls_logits, distances = head(feats)
    scores = torch.cat([permute_to_N_HWA_K(c, 8)[0] for c in cls_logits]).sigmoid()
    point, label = divmod(int(scores.argmax()), 8)
    d = torch.cat([permute_to_N_HWA_K(x, 4)[0] for x in distances])[point]
    xy = torch.cat(head.points(feats))[point]
    expected = torch.cat([xy - d[:2], xy + d[2:]]).clamp(min=0, max=128)
    assert results[0].scores[0] == scores.max() and results[0].labels[0] == label
    torch.testing.assert_close(results[0].bboxes[0], expected)
    for result, (h, w) in zip(results, [(128, 128), (100, 120)]):
        assert 0 < len(result.bboxes) <= 100
        assert (result.bboxes[:, 0::2] <= w).all() and (result.bboxes[:, 1::2] <= h).all()
