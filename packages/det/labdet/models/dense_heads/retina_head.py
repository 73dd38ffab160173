"""RetinaNet head (Lin et al., ICCV 2017): a classification and a box-regression branch."""

from __future__ import annotations

import math

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labdet.models.dense_heads.conv_tower import conv_tower, init_head_convs
from labdet.models.dense_heads.postprocess import decode_dense_detections
from labdet.models.task_modules.assigners import IGNORE
from labdet.models.utils import build, concat_levels, permute_to_N_HWA_K
from labdet.registry import MODELS, TASK_UTILS


@MODELS.register_module()
class RetinaHead(nn.Module):
    """Dense anchor-based head: ``cls_convs -> cls_logits`` and ``reg_convs -> bbox_reg``.

    The same weights run on every feature level. The classification bias starts at
    ``-log((1 - prior_prob) / prior_prob)`` so that every anchor first predicts background
    with probability ``1 - prior_prob`` (the focal-loss prior).

    Args:
        num_classes: number of object classes K (sigmoid outputs, no background class).
        in_channels: channels of the neck's feature maps.
        feat_channels: channels of the convs in each branch.
        stacked_convs: convs in each branch before the prediction layer.
        anchor_generator, bbox_coder, assigner: TASK_UTILS configs or objects.
        loss_cls, loss_bbox: MODELS configs or modules (e.g. FocalLoss, L1Loss).
        test_cfg: ``score_thr``, ``nms_iou_thr``, ``topk_candidates``, ``max_per_img``, and
            optionally ``soft_nms`` (Soft-NMS instead of NMS; see
            :func:`labdet.models.suppression.nms_per_class`).
        prior_prob: the foreground probability every anchor starts from.
        num_groups: GroupNorm groups after each tower conv; 0 (the original head, as
            torchvision's ``retinanet_resnet50_fpn``) for none.
        conv_bias: whether the tower convs have a bias (False in torchvision's
            ``retinanet_resnet50_fpn_v2``, whose GroupNorm shifts instead).
        reg_decoded_bbox: ``loss_bbox`` compares decoded boxes with the ground truth
            (e.g. GIoULoss, as torchvision's v2) instead of deltas with encoded targets.

    forward(feats: tuple of Tensor[B, C, H_i, W_i]) returns (cls_logits, bbox_reg): lists
    of Tensor[B, A*K, H_i, W_i] and Tensor[B, A*4, H_i, W_i].
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        feat_channels: int = 256,
        stacked_convs: int = 4,
        anchor_generator,
        bbox_coder,
        assigner,
        loss_cls,
        loss_bbox,
        test_cfg: dict,
        prior_prob: float = 0.01,
        num_groups: int = 0,
        conv_bias: bool = True,
        reg_decoded_bbox: bool = False,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.anchor_generator = build(anchor_generator, TASK_UTILS)
        self.bbox_coder = build(bbox_coder, TASK_UTILS)
        self.assigner = build(assigner, TASK_UTILS)
        self.loss_cls = build(loss_cls, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.test_cfg = dict(test_cfg)
        self.reg_decoded_bbox = reg_decoded_bbox
        num_anchors = self.anchor_generator.num_anchors_per_location[0]
        self.cls_convs = conv_tower(
            in_channels, feat_channels, stacked_convs, num_groups, conv_bias=conv_bias
        )
        self.cls_logits = nn.Conv2d(feat_channels, num_anchors * num_classes, 3, padding=1)
        self.reg_convs = conv_tower(
            in_channels, feat_channels, stacked_convs, num_groups, conv_bias=conv_bias
        )
        self.bbox_reg = nn.Conv2d(feat_channels, num_anchors * 4, 3, padding=1)
        init_head_convs(self)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: tuple[Tensor, ...]) -> tuple[list[Tensor], list[Tensor]]:
        cls_logits = [self.cls_logits(self.cls_convs(x)) for x in feats]
        bbox_reg = [self.bbox_reg(self.reg_convs(x)) for x in feats]
        return cls_logits, bbox_reg

    def anchors(self, feats: tuple[Tensor, ...]) -> list[Tensor]:
        return self.anchor_generator.grid_anchors([x.shape[-2:] for x in feats], feats[0].device)

    def loss(self, feats: tuple[Tensor, ...], gt_instances: list[InstanceData]) -> dict:
        """Focal classification loss and box regression loss, both averaged over positives."""
        cls_logits, bbox_reg = self(feats)
        anchors = torch.cat(self.anchors(feats))
        cls_logits = concat_levels(cls_logits, self.num_classes)  # [B, N, K]
        bbox_reg = concat_levels(bbox_reg, 4)  # [B, N, 4]
        cls_terms, reg_terms, reg_targets = [], [], []
        num_pos = 0
        for logits, deltas, gt in zip(cls_logits, bbox_reg, gt_instances):
            matched = self.assigner.assign(anchors, gt.bboxes)
            positive = matched >= 0
            num_pos += int(positive.sum())
            targets = torch.zeros_like(logits)
            targets[positive, gt.labels[matched[positive]]] = 1.0
            valid = matched != IGNORE
            cls_terms.append((logits[valid], targets[valid]))
            matched_boxes = gt.bboxes[matched[positive]]
            if self.reg_decoded_bbox:
                reg_terms.append(self.bbox_coder.decode(deltas[positive], anchors[positive]))
                reg_targets.append(matched_boxes)
            else:
                reg_terms.append(deltas[positive])
                reg_targets.append(self.bbox_coder.encode(matched_boxes, anchors[positive]))
        avg_factor = max(num_pos, 1)
        loss_cls = self.loss_cls(
            torch.cat([c[0] for c in cls_terms]),
            torch.cat([c[1] for c in cls_terms]),
            avg_factor=avg_factor,
        )
        loss_bbox = self.loss_bbox(
            torch.cat(reg_terms), torch.cat(reg_targets), avg_factor=avg_factor
        )
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)

    def predict(
        self, feats: tuple[Tensor, ...], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image in input-image coordinates, clipped to each ``img_shape``:
        sigmoid class scores through :func:`decode_dense_detections`."""
        cls_logits, bbox_reg = self(feats)
        return decode_dense_detections(
            [permute_to_N_HWA_K(x, self.num_classes).sigmoid() for x in cls_logits],
            [permute_to_N_HWA_K(x, 4) for x in bbox_reg],
            self.anchors(feats),
            img_shapes,
            decode=self.bbox_coder.decode,
            test_cfg=self.test_cfg,
        )
