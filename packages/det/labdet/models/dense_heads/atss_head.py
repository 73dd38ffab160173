"""ATSS head (Zhang et al., CVPR 2020): one anchor per location, adaptive training sample
selection, GIoU on decoded boxes weighted by centerness."""

from __future__ import annotations

import math

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labdet.models.dense_heads.centerness import centerness_target, edge_distances
from labdet.models.dense_heads.conv_tower import conv_tower, init_head_convs
from labdet.models.dense_heads.postprocess import decode_dense_detections
from labdet.models.dense_heads.scale import Scale
from labdet.models.utils import build, concat_levels, permute_to_N_HWA_K
from labdet.registry import MODELS, TASK_UTILS


@MODELS.register_module()
class ATSSHead(nn.Module):
    """``cls_convs -> cls_logits``; ``reg_convs -> Scale_i(bbox_reg), centerness``.

    The towers are convs without bias + GroupNorm(``num_groups``) + ReLU, shared by the
    levels; each level scales its box deltas by a learnable scalar. Training: the
    ``assigner`` (ATSSAssigner) picks the positive anchors; focal loss over all anchors and
    centerness BCE over the positives are averaged over the positives, the box loss
    (GIoU on decoded boxes) is weighted by each positive's centerness target and averaged
    over their sum. Test score: ``sigmoid(cls) * sigmoid(centerness)``.

    Args:
        num_classes, in_channels, feat_channels, stacked_convs, prior_prob: as RetinaHead.
        num_groups: GroupNorm groups of the towers.
        anchor_generator, bbox_coder, assigner: TASK_UTILS configs or objects.
        loss_cls, loss_bbox, loss_centerness: MODELS configs or modules.
        test_cfg: ``score_thr``, ``nms_iou_thr``, ``topk_candidates``, ``max_per_img``,
            optionally ``soft_nms``.

    forward(feats) returns (cls_logits, bbox_reg, centerness): lists of Tensor[B, A*K, H_i,
    W_i], Tensor[B, A*4, H_i, W_i] and Tensor[B, A, H_i, W_i].
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        feat_channels: int = 256,
        stacked_convs: int = 4,
        num_groups: int = 32,
        anchor_generator,
        bbox_coder,
        assigner,
        loss_cls,
        loss_bbox,
        loss_centerness,
        test_cfg: dict,
        prior_prob: float = 0.01,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.anchor_generator = build(anchor_generator, TASK_UTILS)
        self.bbox_coder = build(bbox_coder, TASK_UTILS)
        self.assigner = build(assigner, TASK_UTILS)
        self.loss_cls = build(loss_cls, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.loss_centerness = build(loss_centerness, MODELS)
        self.test_cfg = dict(test_cfg)
        num_anchors = self.anchor_generator.num_anchors_per_location[0]
        self.cls_convs = conv_tower(
            in_channels, feat_channels, stacked_convs, num_groups, conv_bias=False
        )
        self.reg_convs = conv_tower(
            in_channels, feat_channels, stacked_convs, num_groups, conv_bias=False
        )
        self.cls_logits = nn.Conv2d(feat_channels, num_anchors * num_classes, 3, padding=1)
        self.bbox_reg = nn.Conv2d(feat_channels, num_anchors * 4, 3, padding=1)
        self.centerness = nn.Conv2d(feat_channels, num_anchors, 3, padding=1)
        self.scales = nn.ModuleList(Scale(1.0) for _ in self.anchor_generator.strides)
        init_head_convs(self)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: tuple[Tensor, ...]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        cls_logits, bbox_reg, centerness = [], [], []
        for x, scale in zip(feats, self.scales):
            cls_logits.append(self.cls_logits(self.cls_convs(x)))
            reg_feat = self.reg_convs(x)
            bbox_reg.append(scale(self.bbox_reg(reg_feat)))
            centerness.append(self.centerness(reg_feat))
        return cls_logits, bbox_reg, centerness

    def anchors(self, feats: tuple[Tensor, ...]) -> list[Tensor]:
        return self.anchor_generator.grid_anchors([x.shape[-2:] for x in feats], feats[0].device)

    def loss(self, feats: tuple[Tensor, ...], gt_instances: list[InstanceData]) -> dict:
        cls_logits, bbox_reg, centerness = self(feats)
        level_anchors = self.anchors(feats)
        num_per_level = [len(a) for a in level_anchors]
        anchors = torch.cat(level_anchors)
        anchor_centers = (anchors[:, :2] + anchors[:, 2:]) / 2
        cls_logits = concat_levels(cls_logits, self.num_classes)
        bbox_reg = concat_levels(bbox_reg, 4)
        centerness = concat_levels(centerness, 1)
        cls_targets, pos_boxes, pos_gt, pos_ctr, ctr_targets = [], [], [], [], []
        for i, gt in enumerate(gt_instances):
            matched = self.assigner.assign(anchors, gt.bboxes, num_anchors_per_level=num_per_level)
            positive = matched >= 0
            targets = torch.zeros_like(cls_logits[i])
            targets[positive, gt.labels[matched[positive]]] = 1.0
            cls_targets.append(targets)
            matched_boxes = gt.bboxes[matched[positive]]
            pos_boxes.append(self.bbox_coder.decode(bbox_reg[i][positive], anchors[positive]))
            pos_gt.append(matched_boxes)
            pos_ctr.append(centerness[i][positive, 0])
            ctr_targets.append(
                centerness_target(edge_distances(anchor_centers[positive], matched_boxes))
            )
        num_pos = max(sum(len(b) for b in pos_gt), 1)
        ctr_targets = torch.cat(ctr_targets)
        return dict(
            loss_cls=self.loss_cls(
                cls_logits.flatten(0, 1), torch.cat(cls_targets), avg_factor=num_pos
            ),
            loss_bbox=self.loss_bbox(
                torch.cat(pos_boxes),
                torch.cat(pos_gt),
                weight=ctr_targets,
                avg_factor=ctr_targets.sum().clamp(min=1.0),
            ),
            loss_centerness=self.loss_centerness(
                torch.cat(pos_ctr), ctr_targets, avg_factor=num_pos
            ),
        )

    def predict(
        self, feats: tuple[Tensor, ...], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image in input-image coordinates, clipped to each ``img_shape``."""
        cls_logits, bbox_reg, centerness = self(feats)
        scores = [
            permute_to_N_HWA_K(logits, self.num_classes).sigmoid()
            * permute_to_N_HWA_K(ctr, 1).sigmoid()
            for logits, ctr in zip(cls_logits, centerness)
        ]
        return decode_dense_detections(
            scores,
            [permute_to_N_HWA_K(x, 4) for x in bbox_reg],
            self.anchors(feats),
            img_shapes,
            decode=self.bbox_coder.decode,
            test_cfg=self.test_cfg,
        )
