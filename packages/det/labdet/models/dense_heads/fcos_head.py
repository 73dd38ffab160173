"""FCOS head (Tian et al., ICCV 2019): per-point classification, box distances and centerness."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labdet.models.dense_heads.centerness import centerness_target
from labdet.models.dense_heads.conv_tower import conv_tower, init_head_convs
from labdet.models.dense_heads.postprocess import decode_dense_detections
from labdet.models.utils import build, concat_levels, permute_to_N_HWA_K
from labdet.registry import MODELS, TASK_UTILS


@MODELS.register_module()
class FCOSHead(nn.Module):
    """Anchor-free head: ``cls_convs -> cls_logits``; ``reg_convs -> bbox_reg, centerness``.

    Each location of each level predicts K class logits, four non-negative distances to the
    box edges (ReLU; in units of the level's anchor size when the coder normalises) and one
    centerness logit computed from the regression branch. Test score is
    ``sqrt(sigmoid(cls) * sigmoid(centerness))``. Conv towers use GroupNorm(``num_groups``).

    Args: as :class:`RetinaHead`, plus ``num_groups`` of the towers' GroupNorm and
    ``loss_centerness`` (binary cross entropy on logits).

    forward(feats) returns (cls_logits, bbox_reg, centerness): lists of Tensor[B, K, H_i, W_i],
    Tensor[B, 4, H_i, W_i] and Tensor[B, 1, H_i, W_i].
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
        if self.anchor_generator.num_anchors_per_location != [1] * len(
            self.anchor_generator.strides
        ):
            raise ValueError(
                "FCOSHead needs one anchor per location: give each level one size and ratio"
            )
        self.cls_convs = conv_tower(in_channels, feat_channels, stacked_convs, num_groups)
        self.cls_logits = nn.Conv2d(feat_channels, num_classes, 3, padding=1)
        self.reg_convs = conv_tower(in_channels, feat_channels, stacked_convs, num_groups)
        self.bbox_reg = nn.Conv2d(feat_channels, 4, 3, padding=1)
        self.centerness = nn.Conv2d(feat_channels, 1, 3, padding=1)
        init_head_convs(self)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: tuple[Tensor, ...]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        cls_logits, bbox_reg, centerness = [], [], []
        for x in feats:
            cls_logits.append(self.cls_logits(self.cls_convs(x)))
            reg_feat = self.reg_convs(x)
            bbox_reg.append(F.relu(self.bbox_reg(reg_feat)))
            centerness.append(self.centerness(reg_feat))
        return cls_logits, bbox_reg, centerness

    def anchors(self, feats: tuple[Tensor, ...]) -> list[Tensor]:
        return self.anchor_generator.grid_anchors([x.shape[-2:] for x in feats], feats[0].device)

    def loss(self, feats: tuple[Tensor, ...], gt_instances: list[InstanceData]) -> dict:
        """Focal classification, GIoU box and centerness losses, averaged over positives."""
        cls_logits, bbox_reg, centerness = self(feats)
        level_anchors = self.anchors(feats)
        num_per_level = [len(a) for a in level_anchors]
        anchors = torch.cat(level_anchors)
        cls_logits = concat_levels(cls_logits, self.num_classes)
        bbox_reg = concat_levels(bbox_reg, 4)
        centerness = concat_levels(centerness, 1)
        cls_targets, pos_pred, pos_gt, pos_ctr, pos_ctr_targets = [], [], [], [], []
        for i, gt in enumerate(gt_instances):
            matched = self.assigner.assign(anchors, gt.bboxes, num_anchors_per_level=num_per_level)
            positive = matched >= 0
            targets = torch.zeros_like(cls_logits[i])
            targets[positive, gt.labels[matched[positive]]] = 1.0
            cls_targets.append(targets)
            matched_boxes = gt.bboxes[matched[positive]]
            pos_anchors = anchors[positive]
            pos_pred.append(self.bbox_coder.decode(bbox_reg[i][positive], pos_anchors))
            pos_gt.append(matched_boxes)
            pos_ctr.append(centerness[i][positive, 0])
            pos_ctr_targets.append(
                centerness_target(self.bbox_coder.encode(matched_boxes, pos_anchors))
            )
        avg_factor = max(sum(len(b) for b in pos_gt), 1)
        return dict(
            loss_cls=self.loss_cls(
                cls_logits.flatten(0, 1), torch.cat(cls_targets), avg_factor=avg_factor
            ),
            loss_bbox=self.loss_bbox(torch.cat(pos_pred), torch.cat(pos_gt), avg_factor=avg_factor),
            loss_centerness=self.loss_centerness(
                torch.cat(pos_ctr), torch.cat(pos_ctr_targets), avg_factor=avg_factor
            ),
        )

    def predict(
        self, feats: tuple[Tensor, ...], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image in input-image coordinates, clipped to each ``img_shape``:
        ``sqrt(sigmoid(cls) * sigmoid(centerness))`` through :func:`decode_dense_detections`."""
        cls_logits, bbox_reg, centerness = self(feats)
        scores = [
            torch.sqrt(
                permute_to_N_HWA_K(logits, self.num_classes).sigmoid()
                * permute_to_N_HWA_K(ctr, 1).sigmoid()
            )
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
