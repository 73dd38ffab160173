"""GFL head (Li et al., NeurIPS 2020, "Generalized Focal Loss"): a joint class-quality score
learnt by quality focal loss, and box edges as discrete distributions (integral regression)
learnt by distribution focal loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labcore.ops import bbox_overlaps
from labdet.models.dense_heads.centerness import edge_distances
from labdet.models.dense_heads.conv_tower import conv_tower, init_head_convs
from labdet.models.dense_heads.postprocess import decode_dense_detections
from labdet.models.dense_heads.scale import Scale
from labdet.models.utils import build, concat_levels, permute_to_N_HWA_K
from labdet.registry import MODELS, TASK_UTILS


def integral(bin_logits: Tensor, reg_max: int) -> Tensor:
    """Expected value of each edge's distribution: Tensor[..., 4 (reg_max + 1)] of bin logits
    -> Tensor[..., 4] distances in bins (softmax over the ``reg_max + 1`` bins 0..reg_max)."""
    probs = F.softmax(bin_logits.unflatten(-1, (4, reg_max + 1)), dim=-1)
    bins = torch.arange(reg_max + 1, dtype=probs.dtype, device=probs.device)
    return probs @ bins


def boxes_at_distances(points: Tensor, distances: Tensor) -> Tensor:
    """Boxes Tensor[N, 4] whose edges lie at ``distances`` (Tensor[N, 4], l t r b) from
    ``points`` (Tensor[N, 2])."""
    return torch.cat([points - distances[:, :2], points + distances[:, 2:]], dim=1)


@MODELS.register_module()
class GFLHead(nn.Module):
    """``cls_convs -> cls_logits`` (class x quality); ``reg_convs -> Scale_i(bbox_reg)``.

    One anchor per location, used only to select training samples (``assigner``, ATSS) and
    as the point the four edge distributions are measured from, in units of the level's
    stride. Training: quality focal loss against the IoU of each positive's decoded box at
    its class (0 elsewhere), averaged over positives; GIoU on decoded boxes and
    distribution focal loss on the edge bins, both weighted by each positive's highest
    predicted score and averaged over the sum of those weights (DFL also over the 4 edges).
    Test score: ``sigmoid(cls)``.

    Args:
        num_classes, in_channels, feat_channels, stacked_convs, prior_prob: as RetinaHead.
        num_groups: GroupNorm groups of the towers (convs without bias).
        reg_max: the largest distance bin; each edge has ``reg_max + 1`` bins.
        anchor_generator, assigner: TASK_UTILS configs or objects (one anchor per location).
        loss_cls, loss_bbox, loss_dfl: MODELS configs or modules (QualityFocalLoss,
            GIoULoss, DistributionFocalLoss).
        test_cfg: ``score_thr``, ``nms_iou_thr``, ``topk_candidates``, ``max_per_img``,
            optionally ``soft_nms``.

    forward(feats) returns (cls_logits, bbox_reg): lists of Tensor[B, K, H_i, W_i] and
    Tensor[B, 4 (reg_max + 1), H_i, W_i].
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        feat_channels: int = 256,
        stacked_convs: int = 4,
        num_groups: int = 32,
        reg_max: int = 16,
        anchor_generator,
        assigner,
        loss_cls,
        loss_bbox,
        loss_dfl,
        test_cfg: dict,
        prior_prob: float = 0.01,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.reg_max = reg_max
        self.anchor_generator = build(anchor_generator, TASK_UTILS)
        self.assigner = build(assigner, TASK_UTILS)
        self.loss_cls = build(loss_cls, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.loss_dfl = build(loss_dfl, MODELS)
        self.test_cfg = dict(test_cfg)
        if self.anchor_generator.num_anchors_per_location != [1] * len(
            self.anchor_generator.strides
        ):
            raise ValueError(
                "GFLHead needs one anchor per location: give each level one size and ratio"
            )
        self.cls_convs = conv_tower(
            in_channels, feat_channels, stacked_convs, num_groups, conv_bias=False
        )
        self.reg_convs = conv_tower(
            in_channels, feat_channels, stacked_convs, num_groups, conv_bias=False
        )
        self.cls_logits = nn.Conv2d(feat_channels, num_classes, 3, padding=1)
        self.bbox_reg = nn.Conv2d(feat_channels, 4 * (reg_max + 1), 3, padding=1)
        self.scales = nn.ModuleList(Scale(1.0) for _ in self.anchor_generator.strides)
        init_head_convs(self)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: tuple[Tensor, ...]) -> tuple[list[Tensor], list[Tensor]]:
        cls_logits = [self.cls_logits(self.cls_convs(x)) for x in feats]
        bbox_reg = [scale(self.bbox_reg(self.reg_convs(x))) for x, scale in zip(feats, self.scales)]
        return cls_logits, bbox_reg

    def anchors(self, feats: tuple[Tensor, ...]) -> list[Tensor]:
        return self.anchor_generator.grid_anchors([x.shape[-2:] for x in feats], feats[0].device)

    def loss(self, feats: tuple[Tensor, ...], gt_instances: list[InstanceData]) -> dict:
        cls_logits, bbox_reg = self(feats)
        level_anchors = self.anchors(feats)
        num_per_level = [len(a) for a in level_anchors]
        anchors = torch.cat(level_anchors)
        strides = torch.cat(
            [
                anchors.new_full((n,), float(s))
                for n, s in zip(num_per_level, self.anchor_generator.strides)
            ]
        )
        points = (anchors[:, :2] + anchors[:, 2:]) / 2 / strides[:, None]  # in strides
        bins = self.reg_max + 1
        cls_logits = concat_levels(cls_logits, self.num_classes)
        bbox_reg = concat_levels(bbox_reg, 4 * bins)
        cls_targets, pred_boxes, target_boxes = [], [], []
        bin_logits, bin_targets, weights = [], [], []
        for i, gt in enumerate(gt_instances):
            matched = self.assigner.assign(anchors, gt.bboxes, num_anchors_per_level=num_per_level)
            positive = matched >= 0
            pos_points = points[positive]
            targets = gt.bboxes[matched[positive]] / strides[positive, None]
            reg = bbox_reg[i][positive]
            boxes = boxes_at_distances(pos_points, integral(reg, self.reg_max))
            quality = torch.zeros_like(cls_logits[i])
            iou = bbox_overlaps(boxes.detach(), targets, aligned=True).clamp(min=0)
            quality[positive, gt.labels[matched[positive]]] = iou
            cls_targets.append(quality)
            pred_boxes.append(boxes)
            target_boxes.append(targets)
            bin_logits.append(reg.reshape(-1, bins))
            bin_targets.append(
                edge_distances(pos_points, targets).clamp(min=0, max=self.reg_max - 0.01).flatten()
            )
            weights.append(cls_logits[i][positive].detach().sigmoid().max(dim=1).values)
        num_pos = max(sum(len(b) for b in pred_boxes), 1)
        weights = torch.cat(weights)
        weight_sum = weights.sum().clamp(min=1.0)
        return dict(
            loss_cls=self.loss_cls(
                cls_logits.flatten(0, 1), torch.cat(cls_targets), avg_factor=num_pos
            ),
            loss_bbox=self.loss_bbox(
                torch.cat(pred_boxes),
                torch.cat(target_boxes),
                weight=weights,
                avg_factor=weight_sum,
            ),
            loss_dfl=self.loss_dfl(
                torch.cat(bin_logits),
                torch.cat(bin_targets),
                weight=weights.repeat_interleave(4),
                avg_factor=4 * weight_sum,
            ),
        )

    def predict(
        self, feats: tuple[Tensor, ...], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image in input-image coordinates, clipped to each ``img_shape``."""
        cls_logits, bbox_reg = self(feats)
        bins = 4 * (self.reg_max + 1)
        distances = [
            integral(permute_to_N_HWA_K(reg, bins), self.reg_max) * stride
            for reg, stride in zip(bbox_reg, self.anchor_generator.strides)
        ]
        return decode_dense_detections(
            [permute_to_N_HWA_K(x, self.num_classes).sigmoid() for x in cls_logits],
            distances,
            self.anchors(feats),
            img_shapes,
            decode=lambda d, anchors: boxes_at_distances((anchors[:, :2] + anchors[:, 2:]) / 2, d),
            test_cfg=self.test_cfg,
        )
