"""RTMDet head (Lyu et al., 2022): conv towers shared by every level with a batch norm of
each level's own, class logits and box edge distances from one point per location,
trained with dynamic soft-label assignment, quality focal loss and GIoU."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labcore.models.layers import build_activation_layer, build_norm_layer
from labdet.models.dense_heads.postprocess import decode_dense_detections
from labdet.models.task_modules.box_coders import DistancePointBoxCoder
from labdet.models.utils import build, concat_levels, permute_to_N_HWA_K
from labdet.registry import MODELS, TASK_UTILS


def grid_points(
    feature_sizes: Sequence[tuple[int, int]], strides: Sequence[int], device
) -> list[Tensor]:
    """Points of each level: Tensor[H_i * W_i, 2] (x, y) = (col * s_i, row * s_i),
    row-major, the order of :func:`permute_to_N_HWA_K` (MMDetection's point generator at
    offset 0). ``points.repeat(1, 2)`` gives them as zero-size boxes (x, y, x, y), the
    anchors that :class:`DistancePointBoxCoder` and the shared decode take."""
    points = []
    for (height, width), stride in zip(feature_sizes, strides):
        ys = torch.arange(height, dtype=torch.float32, device=device) * stride
        xs = torch.arange(width, dtype=torch.float32, device=device) * stride
        y, x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack([x.reshape(-1), y.reshape(-1)], dim=1))
    return points


class SharedConvSeparateNormTower(nn.Module):
    """``num_convs`` 3x3 convs (without bias) shared by every level, each followed by the
    level's own norm and the activation.

    forward(x Tensor[B, in_channels, H, W], level) -> Tensor[B, channels, H, W].
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_convs: int,
        num_levels: int,
        *,
        norm_cfg: dict,
        act_cfg: dict,
    ):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1, bias=False)
            for i in range(num_convs)
        )
        self.norms = nn.ModuleList(
            nn.ModuleList(build_norm_layer(norm_cfg, channels) for _ in range(num_convs))
            for _ in range(num_levels)
        )
        self.act = build_activation_layer(act_cfg)

    def forward(self, x: Tensor, level: int) -> Tensor:
        for conv, norm in zip(self.convs, self.norms[level]):
            x = self.act(norm(conv(x)))
        return x


@MODELS.register_module()
class RTMDetSepBNHead(nn.Module):
    """``cls_tower -> rtm_cls[level]`` (class logits); ``reg_tower -> rtm_reg[level]``
    (l, t, r, b distances, ``exp`` first when ``exp_on_reg``, times the level's stride).

    The towers' convs are shared by the levels, their norms and the 1x1 predictors are the
    level's own (MMDetection's ``RTMDetSepBNHead`` with ``share_conv=True``). One point
    per location at ``(col * stride, row * stride)``. Training: the ``assigner``
    (DynamicSoftLabelAssigner) matches points to ground truths from the detached
    predictions; quality focal loss against the IoU of each positive's box at its class
    (0 elsewhere), GIoU on the positives' boxes weighted by that IoU; both divided by the
    sum of the positives' IoUs (at least 1). Test score: ``sigmoid(cls)``.

    Args:
        num_classes: object classes (no background class).
        in_channels: channels of every input level.
        feat_channels: channels of the towers.
        stacked_convs: convs per tower.
        strides: stride of each level, finest first.
        exp_on_reg: predict log-distances (RTMDet-l/x) instead of distances (tiny/s/m).
        norm_cfg, act_cfg: the towers' norm and activation.
        assigner: TASK_UTILS config or object (DynamicSoftLabelAssigner).
        loss_cls, loss_bbox: MODELS configs or modules (QualityFocalLoss, GIoULoss).
        test_cfg: ``score_thr``, ``nms_iou_thr``, ``topk_candidates`` (per level),
            ``max_per_img``, optionally ``soft_nms``.
        prior_prob: initial foreground probability of the class logits.

    forward(feats) returns (cls_logits, distances): lists of Tensor[B, K, H_i, W_i] and
    Tensor[B, 4, H_i, W_i] (l, t, r, b in pixels).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        feat_channels: int = 256,
        stacked_convs: int = 2,
        strides: Sequence[int] = (8, 16, 32),
        exp_on_reg: bool = False,
        norm_cfg: dict,
        act_cfg: dict,
        assigner,
        loss_cls,
        loss_bbox,
        test_cfg: dict,
        prior_prob: float = 0.01,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.strides = [int(s) for s in strides]
        self.exp_on_reg = exp_on_reg
        self.assigner = build(assigner, TASK_UTILS)
        self.loss_cls = build(loss_cls, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.test_cfg = dict(test_cfg)
        self.box_coder = DistancePointBoxCoder(normalize_by_size=False)
        tower = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        num_levels = len(self.strides)
        self.cls_tower = SharedConvSeparateNormTower(
            in_channels, feat_channels, stacked_convs, num_levels, **tower
        )
        self.reg_tower = SharedConvSeparateNormTower(
            in_channels, feat_channels, stacked_convs, num_levels, **tower
        )
        self.rtm_cls = nn.ModuleList(
            nn.Conv2d(feat_channels, num_classes, 1) for _ in range(num_levels)
        )
        self.rtm_reg = nn.ModuleList(nn.Conv2d(feat_channels, 4, 1) for _ in range(num_levels))
        # MMDetection's initialisation: Normal(0, 0.01) convs, the focal-loss prior bias
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for conv in self.rtm_cls:
            nn.init.constant_(conv.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        if len(feats) != len(self.strides):
            raise ValueError(
                f"RTMDetSepBNHead was built for {len(self.strides)} levels "
                f"(strides={self.strides}) but the neck gives {len(feats)}"
            )
        cls_logits, distances = [], []
        for level, (x, stride) in enumerate(zip(feats, self.strides)):
            cls_logits.append(self.rtm_cls[level](self.cls_tower(x, level)))
            reg = self.rtm_reg[level](self.reg_tower(x, level))
            distances.append((reg.exp() if self.exp_on_reg else reg) * stride)
        return cls_logits, distances

    def points(self, feats: Sequence[Tensor]) -> list[Tensor]:
        return grid_points([x.shape[-2:] for x in feats], self.strides, feats[0].device)

    def loss(self, feats: Sequence[Tensor], gt_instances: list[InstanceData]) -> dict:
        cls_logits, distances = self(feats)
        level_points = self.points(feats)
        points = torch.cat(level_points)
        strides = torch.cat(
            [points.new_full((len(p),), float(s)) for p, s in zip(level_points, self.strides)]
        )
        cls_logits = concat_levels(cls_logits, self.num_classes)  # [B, N, K]
        boxes = self.box_coder.decode(concat_levels(distances, 4), points.repeat(1, 2))
        cls_targets, pred_boxes, target_boxes, weights = [], [], [], []
        for i, gt in enumerate(gt_instances):
            matched, ious = self.assigner.assign(
                points,
                gt.bboxes,
                strides=strides,
                gt_labels=gt.labels,
                pred_boxes=boxes[i].detach(),
                pred_logits=cls_logits[i].detach(),
            )
            positive = torch.where(matched >= 0)[0]
            quality = torch.zeros_like(cls_logits[i])
            quality[positive, gt.labels[matched[positive]]] = ious[positive]
            cls_targets.append(quality)
            pred_boxes.append(boxes[i][positive])
            target_boxes.append(gt.bboxes[matched[positive]])
            weights.append(ious[positive])
        weights = torch.cat(weights)
        avg_factor = weights.sum().clamp(min=1.0)
        return dict(
            loss_cls=self.loss_cls(
                cls_logits.flatten(0, 1), torch.cat(cls_targets), avg_factor=avg_factor
            ),
            loss_bbox=self.loss_bbox(
                torch.cat(pred_boxes),
                torch.cat(target_boxes),
                weight=weights,
                avg_factor=avg_factor,
            ),
        )

    def predict(
        self, feats: Sequence[Tensor], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image in input-image coordinates, clipped to each ``img_shape``."""
        cls_logits, distances = self(feats)
        return decode_dense_detections(
            [permute_to_N_HWA_K(x, self.num_classes).sigmoid() for x in cls_logits],
            [permute_to_N_HWA_K(d, 4) for d in distances],
            [p.repeat(1, 2) for p in self.points(feats)],
            img_shapes,
            decode=self.box_coder.decode,
            test_cfg=self.test_cfg,
        )
