"""The dense heads' shared decoding: top-k per level, decode, clip, class-wise suppression."""

from __future__ import annotations

import torch

from labdet.models.dense_heads.postprocess import decode_dense_detections

CFG = dict(score_thr=0.1, topk_candidates=1, nms_iou_thr=0.5, max_per_img=10)


def _decode_by_offset(regression, anchors):
    return anchors + regression


def test_top_k_is_per_level_and_boxes_are_clipped():
    # level 0: two anchors, one class; level 1: one anchor
    scores = [torch.tensor([[[0.3], [0.9]]]), torch.tensor([[[0.5]]])]
    regression = [torch.zeros(1, 2, 4), torch.tensor([[[0.0, 0.0, 50.0, 50.0]]])]
    anchors = [
        torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]]),
        torch.tensor([[40.0, 40.0, 60.0, 60.0]]),
    ]
    (result,) = decode_dense_detections(
        scores, regression, anchors, [(64, 80)], decode=_decode_by_offset, test_cfg=CFG
    )
    # the best of each level survives (0.9 from level 0, 0.5 from level 1), best first,
    # the second one clipped to the 64 x 80 image
    torch.testing.assert_close(result.scores, torch.tensor([0.9, 0.5]))
    torch.testing.assert_close(
        result.bboxes, torch.tensor([[20.0, 20.0, 30.0, 30.0], [40.0, 40.0, 80.0, 64.0]])
    )


def test_suppression_is_class_wise_and_below_threshold_scores_go():
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    scores = [torch.tensor([[[0.8, 0.7, 0.05]]])]  # one anchor, three classes
    cfg = dict(CFG, topk_candidates=5)
    (result,) = decode_dense_detections(
        scores, [torch.zeros(1, 1, 4)], [box], [(32, 32)], decode=_decode_by_offset, test_cfg=cfg
    )
    # the same box for classes 0 and 1 is kept twice; class 2 is under score_thr
    assert result.labels.tolist() == [0, 1]
    torch.testing.assert_close(result.bboxes, box.expand(2, 4))


def test_images_without_candidates_give_empty_detections():
    scores = [torch.zeros(2, 3, 4)]
    (a, b) = decode_dense_detections(
        scores,
        [torch.zeros(2, 3, 4)],
        [torch.zeros(3, 4)],
        [(8, 8), (8, 8)],
        decode=_decode_by_offset,
        test_cfg=CFG,
    )
    assert a.bboxes.shape == (0, 4) and len(b.scores) == 0
