"""Region Proposal Network head (Ren et al., NeurIPS 2015)."""

from __future__ import annotations

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labcore.ops import batched_nms
from labdet.models.utils import build, clip_boxes, concat_levels, nonsmall_box_indices
from labdet.registry import MODELS, TASK_UTILS


@MODELS.register_module()
class RPNHead(nn.Module):
    """Class-agnostic objectness and box deltas per anchor, then proposals by NMS.

    ``conv`` (``num_convs`` x (3x3 + ReLU), flat: conv ``i`` at index ``2 i``) feeds two 1x1
    convs: ``cls_logits`` (A objectness logits) and ``bbox_pred`` (4 A deltas).

    Args:
        in_channels: channels of the neck's feature maps (also the convs' width).
        num_convs: 3x3 convs before the predictions (1; 2 in torchvision's v2 Faster R-CNN).
        anchor_generator, bbox_coder, assigner, sampler: TASK_UTILS configs or objects.
        loss_objectness, loss_bbox: MODELS configs or modules; both are averaged over
            the sampled anchors.
        train_cfg, test_cfg: ``pre_nms_top_n`` (per level), ``post_nms_top_n`` (per
            image), ``nms_iou_thr``, ``score_thr``, ``min_box_size``.

    A subclass whose coder regresses another number of deltas per anchor sets
    ``delta_dim`` (labrot's oriented RPN: 6) and overrides ``_proposals``.
    """

    delta_dim = 4

    def __init__(
        self,
        *,
        in_channels: int,
        anchor_generator,
        bbox_coder,
        assigner,
        sampler,
        loss_objectness,
        loss_bbox,
        train_cfg: dict,
        test_cfg: dict,
        num_convs: int = 1,
    ):
        super().__init__()
        self.anchor_generator = build(anchor_generator, TASK_UTILS)
        self.bbox_coder = build(bbox_coder, TASK_UTILS)
        self.assigner = build(assigner, TASK_UTILS)
        self.sampler = build(sampler, TASK_UTILS)
        self.loss_objectness = build(loss_objectness, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.train_cfg = dict(train_cfg)
        self.test_cfg = dict(test_cfg)
        num_anchors = self.anchor_generator.num_anchors_per_location[0]
        layers: list[nn.Module] = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(in_channels, in_channels, 3, padding=1), nn.ReLU(inplace=True)]
        self.conv = nn.Sequential(*layers)
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, 1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * self.delta_dim, 1)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.01)
                nn.init.constant_(layer.bias, 0)

    def forward(self, feats: tuple[Tensor, ...]) -> tuple[list[Tensor], list[Tensor]]:
        """Lists of Tensor[B, A, H_i, W_i] (objectness) and Tensor[B, D A, H_i, W_i] (deltas,
        D = ``delta_dim``)."""
        objectness, deltas = [], []
        for x in feats:
            t = self.conv(x)
            objectness.append(self.cls_logits(t))
            deltas.append(self.bbox_pred(t))
        return objectness, deltas

    def loss_and_proposals(
        self,
        feats: tuple[Tensor, ...],
        gt_instances: list[InstanceData],
        img_shapes: list[tuple[int, int]],
    ) -> tuple[dict, list[Tensor]]:
        """RPN losses and the (detached) proposals per image for the RoI head."""
        objectness, deltas = self(feats)
        level_anchors = self.anchor_generator.grid_anchors(
            [x.shape[-2:] for x in feats], feats[0].device
        )
        proposals = self._proposals(objectness, deltas, level_anchors, img_shapes, self.train_cfg)
        anchors = torch.cat(level_anchors)
        flat_objectness = concat_levels(objectness, 1)[..., 0]  # [B, N]
        flat_deltas = concat_levels(deltas, self.delta_dim)  # [B, N, D]
        logits, labels, pos_deltas, pos_targets = [], [], [], []
        for i, gt in enumerate(gt_instances):
            matched = self.assigner.assign(anchors, gt.bboxes)
            pos_idx, neg_idx = self.sampler.sample(matched)
            sampled = torch.cat([pos_idx, neg_idx])
            logits.append(flat_objectness[i][sampled])
            labels.append(
                (torch.arange(len(sampled), device=sampled.device) < len(pos_idx)).float()
            )
            pos_deltas.append(flat_deltas[i][pos_idx])
            pos_targets.append(
                self.bbox_coder.encode(gt.bboxes[matched[pos_idx]], anchors[pos_idx])
            )
        avg_factor = max(sum(len(s) for s in labels), 1)
        losses = dict(
            loss_rpn_objectness=self.loss_objectness(
                torch.cat(logits), torch.cat(labels), avg_factor=avg_factor
            ),
            loss_rpn_bbox=self.loss_bbox(
                torch.cat(pos_deltas), torch.cat(pos_targets), avg_factor=avg_factor
            ),
        )
        return losses, proposals

    def predict(self, feats: tuple[Tensor, ...], img_shapes: list[tuple[int, int]]) -> list[Tensor]:
        """Proposals per image: Tensor[P_i, 4] in input-image coordinates, best first."""
        objectness, deltas = self(feats)
        level_anchors = self.anchor_generator.grid_anchors(
            [x.shape[-2:] for x in feats], feats[0].device
        )
        return self._proposals(objectness, deltas, level_anchors, img_shapes, self.test_cfg)

    @torch.no_grad()
    def _proposals(
        self,
        objectness: list[Tensor],
        deltas: list[Tensor],
        level_anchors: list[Tensor],
        img_shapes: list[tuple[int, int]],
        cfg: dict,
    ) -> list[Tensor]:
        """Per level keep the ``pre_nms_top_n`` best anchors, decode, clip, drop tiny and
        low-scoring boxes, NMS within each level, keep ``post_nms_top_n`` per image."""
        proposals = []
        for i, img_shape in enumerate(img_shapes):
            boxes, scores, levels = [], [], []
            for level, (obj, dlt, anchors) in enumerate(zip(objectness, deltas, level_anchors)):
                level_logits = concat_levels([obj[i : i + 1]], 1)[0, :, 0]
                top_logits, top_idx = level_logits.topk(
                    min(cfg["pre_nms_top_n"], len(level_logits))
                )
                level_deltas = concat_levels([dlt[i : i + 1]], 4)[0][top_idx]
                boxes.append(self.bbox_coder.decode(level_deltas, anchors[top_idx]))
                scores.append(top_logits.sigmoid())
                levels.append(torch.full_like(top_idx, level))
            boxes = clip_boxes(torch.cat(boxes), img_shape)
            scores, levels = torch.cat(scores), torch.cat(levels)
            keep = nonsmall_box_indices(boxes, cfg["min_box_size"])
            boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
            keep = torch.where(scores >= cfg["score_thr"])[0]
            boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
            keep = batched_nms(boxes, scores, levels, cfg["nms_iou_thr"])[: cfg["post_nms_top_n"]]
            proposals.append(boxes[keep])
        return proposals
