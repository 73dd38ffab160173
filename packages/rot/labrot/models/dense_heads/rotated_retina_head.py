"""Rotated RetinaNet head: labdet's RetinaHead regressing (dx, dy, dw, dh, da) per anchor."""

from __future__ import annotations

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labdet.models.dense_heads.postprocess import top_candidates
from labdet.models.dense_heads.retina_head import RetinaHead
from labdet.models.task_modules.assigners import IGNORE
from labdet.models.utils import concat_levels
from labrot.models.postprocess import batched_nms_rotated
from labrot.registry import MODELS

BOX_DIM = 5  # (cx, cy, w, h, angle)


@MODELS.register_module()
class RotatedRetinaHead(RetinaHead):
    """labdet's :class:`~labdet.models.dense_heads.retina_head.RetinaHead` (towers, focal-loss
    prior, classification branch) whose regression branch predicts five numbers per anchor.

    It takes RetinaHead's arguments; the parts come from labrot's configs: rotated anchors
    (``RotatedAnchorGenerator``), the rotated delta coder (``DeltaXYWHABoxCoder``, which
    fixes the angle convention of the detections), and max-IoU assignment on rotated IoU
    (``RotatedMaxIoUAssigner``). At test time the best-scoring pairs of each level are
    decoded and suppressed class by class with :func:`labcore.ops.nms_rotated`.

    forward(feats: tuple of Tensor[B, C, H_i, W_i]) returns (cls_logits, bbox_reg): lists
    of Tensor[B, A*K, H_i, W_i] and Tensor[B, A*5, H_i, W_i].
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        num_anchors = self.anchor_generator.num_anchors_per_location[0]
        feat_channels = self.bbox_reg.in_channels
        self.bbox_reg = nn.Conv2d(feat_channels, num_anchors * BOX_DIM, 3, padding=1)
        nn.init.normal_(self.bbox_reg.weight, std=0.01)
        nn.init.constant_(self.bbox_reg.bias, 0)

    def loss(self, feats: tuple[Tensor, ...], gt_instances: list[InstanceData]) -> dict:
        """Focal classification loss and rotated-delta regression loss, both averaged over
        the positive anchors; ``gt_instances`` hold ``bboxes`` Tensor[G, 5] and ``labels``."""
        cls_logits, bbox_reg = self(feats)
        anchors = torch.cat(self.anchors(feats))
        cls_logits = concat_levels(cls_logits, self.num_classes)  # [B, N, K]
        bbox_reg = concat_levels(bbox_reg, BOX_DIM)  # [B, N, 5]
        logits_kept, targets_kept, deltas_kept, deltas_target = [], [], [], []
        num_pos = 0
        for logits, deltas, gt in zip(cls_logits, bbox_reg, gt_instances):
            matched = self.assigner.assign(anchors, gt.bboxes)
            positive = matched >= 0
            num_pos += int(positive.sum())
            targets = torch.zeros_like(logits)
            targets[positive, gt.labels[matched[positive]]] = 1.0
            valid = matched != IGNORE
            logits_kept.append(logits[valid])
            targets_kept.append(targets[valid])
            deltas_kept.append(deltas[positive])
            deltas_target.append(
                self.bbox_coder.encode(gt.bboxes[matched[positive]], anchors[positive])
            )
        avg_factor = max(num_pos, 1)
        loss_cls = self.loss_cls(
            torch.cat(logits_kept), torch.cat(targets_kept), avg_factor=avg_factor
        )
        loss_bbox = self.loss_bbox(
            torch.cat(deltas_kept), torch.cat(deltas_target), avg_factor=avg_factor
        )
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)

    def predict(
        self, feats: tuple[Tensor, ...], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image: InstanceData(bboxes Tensor[D, 5] in input-image pixels and
        the coder's angle convention, scores Tensor[D], labels Tensor[D]), best first."""
        cls_logits, bbox_reg = self(feats)
        level_anchors = self.anchors(feats)
        level_scores = [concat_levels([x], self.num_classes).sigmoid() for x in cls_logits]
        level_deltas = [concat_levels([x], BOX_DIM) for x in bbox_reg]
        cfg = self.test_cfg
        results = []
        for i in range(len(img_shapes)):
            boxes, scores, labels = [], [], []
            for level_score, deltas, anchors in zip(level_scores, level_deltas, level_anchors):
                top_scores, anchor_idx, top_labels = top_candidates(
                    level_score[i], score_thr=cfg["score_thr"], topk=cfg["topk_candidates"]
                )
                boxes.append(self.bbox_coder.decode(deltas[i][anchor_idx], anchors[anchor_idx]))
                scores.append(top_scores)
                labels.append(top_labels)
            boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
            keep = batched_nms_rotated(boxes, scores, labels, cfg["nms_iou_thr"])
            keep = keep[: cfg["max_per_img"]]
            results.append(
                InstanceData(bboxes=boxes[keep], scores=scores[keep], labels=labels[keep])
            )
        return results
