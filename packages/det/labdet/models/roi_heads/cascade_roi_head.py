"""Cascade R-CNN's RoI head (Cai and Vasconcelos, CVPR 2018): box stages trained at rising IoU
thresholds, each refining the boxes of the one before; with mask branches, Cascade Mask
R-CNN (and Hybrid Task Cascade's first idea: a mask branch per stage)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labcore.ops import MultiScaleRoIAlign
from labdet.models.roi_heads.roi_head import mask_targets, rcnn_detections, sample_rois
from labdet.models.utils import build, clip_boxes
from labdet.registry import MODELS, TASK_UTILS


@MODELS.register_module()
class CascadeRoIHead(nn.Module):
    """A sequence of box stages (RoIAlign -> ``box_head`` -> class-agnostic
    ``box_predictor``), optionally each with a mask branch.

    Training: stage ``t`` assigns and samples RoIs among its input boxes plus the ground
    truth with its own ``assigner`` (IoU 0.5, 0.6, 0.7 in the paper) and ``sampler``,
    learns classification and regression against its own ``bbox_coder`` (tighter
    weights at later stages), and passes its sampled, non-ground-truth RoIs, refined by
    its (detached) regression, to stage ``t + 1``. Every stage's losses are multiplied by
    its ``stage_loss_weights`` entry and reported as ``s{t}.loss_*``.

    Test: each stage refines the boxes of the one before; the class score of a box is the
    mean of every stage's softmax, its box the last stage's; masks, with mask branches,
    are the mean of every stage's mask probabilities on the final detections.

    Args:
        num_classes: number of object classes K.
        num_levels, box_roi_size, mask_roi_size, sampling_ratio: as StandardRoIHead.
        stages: one dict per stage with ``box_head``, ``box_predictor`` (class_agnostic),
            ``bbox_coder``, ``assigner``, ``sampler`` and, for masks, ``mask_head`` and
            ``mask_predictor``: configs or built objects.
        stage_loss_weights: the weight of each stage's losses.
        loss_cls, loss_bbox, loss_mask: MODELS configs or modules, shared by the stages.
        test_cfg: ``score_thr``, ``nms_iou_thr``, ``max_per_img``, ``min_box_size``,
            optionally ``soft_nms``.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_levels: int = 4,
        box_roi_size: int = 7,
        mask_roi_size: int = 14,
        sampling_ratio: int = 2,
        stages: Sequence[dict],
        stage_loss_weights: Sequence[float],
        loss_cls,
        loss_bbox,
        loss_mask=None,
        test_cfg: dict,
    ):
        super().__init__()
        if len(stages) != len(stage_loss_weights):
            raise ValueError(
                f"CascadeRoIHead: {len(stages)} stages but {len(stage_loss_weights)} "
                "stage_loss_weights; give one weight per stage"
            )
        self.num_classes = num_classes
        self.featmap_names = [str(i) for i in range(num_levels)]
        self.box_roi_pool = MultiScaleRoIAlign(
            featmap_names=self.featmap_names,
            output_size=box_roi_size,
            sampling_ratio=sampling_ratio,
        )
        self.box_heads = nn.ModuleList(build(s["box_head"], MODELS) for s in stages)
        self.box_predictors = nn.ModuleList(build(s["box_predictor"], MODELS) for s in stages)
        self.bbox_coders = [build(s["bbox_coder"], TASK_UTILS) for s in stages]
        self.assigners = [build(s["assigner"], TASK_UTILS) for s in stages]
        self.samplers = [build(s["sampler"], TASK_UTILS) for s in stages]
        self.stage_loss_weights = [float(w) for w in stage_loss_weights]
        self.with_mask = all(s.get("mask_head") is not None for s in stages)
        if self.with_mask:
            self.mask_roi_pool = MultiScaleRoIAlign(
                featmap_names=self.featmap_names,
                output_size=mask_roi_size,
                sampling_ratio=sampling_ratio,
            )
            self.mask_heads = nn.ModuleList(build(s["mask_head"], MODELS) for s in stages)
            self.mask_predictors = nn.ModuleList(build(s["mask_predictor"], MODELS) for s in stages)
            self.loss_mask = build(loss_mask, MODELS)
        self.loss_cls = build(loss_cls, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.test_cfg = dict(test_cfg)

    @property
    def num_stages(self) -> int:
        return len(self.box_heads)

    def _level_dict(self, feats: tuple[Tensor, ...]) -> dict[str, Tensor]:
        return {name: feats[i] for i, name in enumerate(self.featmap_names)}

    def _box_forward(
        self, stage: int, level_feats: dict, rois: list[Tensor], img_shapes
    ) -> tuple[Tensor, Tensor]:
        """Stage ``stage``'s class logits Tensor[R, K + 1] and deltas Tensor[R, 4]."""
        pooled = self.box_roi_pool(level_feats, rois, img_shapes)
        return self.box_predictors[stage](self.box_heads[stage](pooled))

    def _mask_logits(self, stage: int, level_feats: dict, boxes: list[Tensor], img_shapes):
        pooled = self.mask_roi_pool(level_feats, boxes, img_shapes)
        return self.mask_predictors[stage](self.mask_heads[stage](pooled))

    def loss(
        self,
        feats: tuple[Tensor, ...],
        proposals: list[Tensor],
        gt_instances: list[InstanceData],
        img_shapes: list[tuple[int, int]],
    ) -> dict:
        """Every stage's classification, box and (with masks) mask losses."""
        level_feats = self._level_dict(feats)
        losses = {}
        for t in range(self.num_stages):
            coder, weight = self.bbox_coders[t], self.stage_loss_weights[t]
            samples = [
                sample_rois(props, gt, self.assigners[t], self.samplers[t], coder)
                for props, gt in zip(proposals, gt_instances)
            ]
            rois = [s.rois for s in samples]
            labels = [s.labels for s in samples]
            box_targets = [s.box_targets for s in samples]
            matched_gts = [s.matched_gts for s in samples]
            from_gt = [s.from_gt for s in samples]
            class_logits, deltas = self._box_forward(t, level_feats, rois, img_shapes)
            all_labels = torch.cat(labels)
            positive = all_labels > 0
            avg_factor = max(len(all_labels), 1)
            losses[f"s{t}.loss_cls"] = weight * self.loss_cls(
                class_logits, all_labels, avg_factor=avg_factor
            )
            losses[f"s{t}.loss_bbox"] = weight * self.loss_bbox(
                deltas[positive], torch.cat(box_targets), avg_factor=avg_factor
            )
            if self.with_mask:
                pos_rois = [r[: len(m)] for r, m in zip(rois, matched_gts)]
                mask_logits = self._mask_logits(t, level_feats, pos_rois, img_shapes)
                size = mask_logits.shape[-1]
                targets = torch.cat(
                    [
                        mask_targets(gt.masks, matched, boxes, size)
                        for gt, matched, boxes in zip(gt_instances, matched_gts, pos_rois)
                    ]
                )
                pos_labels = all_labels[positive]
                mask_logits = mask_logits[torch.arange(len(pos_labels)), pos_labels]
                losses[f"s{t}.loss_mask"] = weight * self.loss_mask(
                    mask_logits, targets, avg_factor=max(mask_logits.numel(), 1)
                )
            if t + 1 < self.num_stages:
                with torch.no_grad():
                    refined = coder.decode(deltas.detach(), torch.cat(rois))
                proposals = [
                    clip_boxes(boxes, shape)[~is_gt]
                    for boxes, is_gt, shape in zip(
                        refined.split([len(r) for r in rois]), from_gt, img_shapes
                    )
                ]
        return losses

    def predict(
        self, feats: tuple[Tensor, ...], proposals: list[Tensor], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image in input-image coordinates; with masks, ``mask_probs``
        Tensor[N, M, M] holds each detection's mask probabilities inside its box."""
        level_feats = self._level_dict(feats)
        num_per_image = [len(p) for p in proposals]
        rois, stage_probs = proposals, []
        for t in range(self.num_stages):
            class_logits, deltas = self._box_forward(t, level_feats, rois, img_shapes)
            stage_probs.append(F.softmax(class_logits, -1))
            boxes = self.bbox_coders[t].decode(deltas, torch.cat(rois))
            rois = [
                clip_boxes(b, shape) for b, shape in zip(boxes.split(num_per_image), img_shapes)
            ]
        probs = torch.stack(stage_probs).mean(dim=0)
        results = rcnn_detections(
            torch.cat(rois)[:, None], probs, num_per_image, img_shapes, self.test_cfg
        )
        if self.with_mask:
            boxes = [r.bboxes for r in results]
            labels = torch.cat([r.labels for r in results]) + 1
            mask_probs = torch.stack(
                [
                    self._mask_logits(t, level_feats, boxes, img_shapes)[
                        torch.arange(len(labels)), labels
                    ].sigmoid()
                    for t in range(self.num_stages)
                ]
            ).mean(dim=0)
            for result, probs_i in zip(results, mask_probs.split([len(r) for r in results])):
                result.mask_probs = probs_i
        return results
