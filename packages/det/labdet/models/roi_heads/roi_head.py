"""RoI head of Faster / Mask R-CNN: pool each proposal, classify it, refine its box, segment it."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labcore.ops import MultiScaleRoIAlign, roi_align
from labdet.models.suppression import suppress_with_test_cfg
from labdet.models.utils import build, clip_boxes, nonsmall_box_indices
from labdet.registry import MODELS, TASK_UTILS


class SampledRoIs(NamedTuple):
    """One image's training RoIs, from :func:`sample_rois`."""

    rois: Tensor  # [S, D] the sampled RoIs, positives first
    labels: Tensor  # [S] 0 background, k + 1 for class k
    box_targets: Tensor  # [P, D'] the coder's targets of the P positives
    matched_gts: Tensor  # [P] the ground truth each positive matched
    from_gt: Tensor  # [S] True where the RoI is one of the appended ground truths


def sample_rois(proposals: Tensor, gt: InstanceData, assigner, sampler, bbox_coder) -> SampledRoIs:
    """The training RoIs of one image, as every R-CNN head (and labrot's rotated one)
    draws them: the ground-truth boxes are appended to the proposals Tensor[P, D], all are
    assigned to ``gt.bboxes`` and sampled, and the positives get their box targets."""
    candidates = torch.cat([proposals, gt.bboxes.to(proposals.dtype)])
    matched = assigner.assign(candidates, gt.bboxes)
    pos_idx, neg_idx = sampler.sample(matched)
    sampled = torch.cat([pos_idx, neg_idx])
    labels = torch.zeros(len(sampled), dtype=torch.int64, device=candidates.device)
    labels[: len(pos_idx)] = gt.labels[matched[pos_idx]] + 1
    return SampledRoIs(
        rois=candidates[sampled],
        labels=labels,
        box_targets=bbox_coder.encode(gt.bboxes[matched[pos_idx]], candidates[pos_idx]),
        matched_gts=matched[pos_idx],
        from_gt=sampled >= len(proposals),
    )


def mask_targets(gt_masks: Tensor, matched: Tensor, boxes: Tensor, size: int) -> Tensor:
    """Ground-truth masks (Tensor[G, H, W]) of the ``matched`` ground truths (Tensor[P])
    resampled into ``boxes`` (Tensor[P, 4]): Tensor[P, size, size]."""
    if len(boxes) == 0:
        return boxes.new_zeros((0, size, size))
    rois = torch.cat([matched[:, None].to(boxes.dtype), boxes], dim=1)
    return roi_align(gt_masks[:, None].to(boxes.dtype), rois, (size, size), 1.0)[:, 0]


def rcnn_detections(
    boxes: Tensor,
    probs: Tensor,
    num_per_image: list[int],
    img_shapes: list[tuple[int, int]],
    test_cfg: dict,
) -> list[InstanceData]:
    """Final detections of an R-CNN box branch, per image.

    Args:
        boxes: Tensor[N, C, 4], decoded boxes of the N RoIs of the batch, one per class
            (C = K + 1, background first) or one for all classes (C = 1).
        probs: Tensor[N, K + 1], softmax class probabilities, background first.
        num_per_image: how many of the N RoIs belong to each image, in order.
        img_shapes: (h, w) of each image; boxes are clipped to it.
        test_cfg: ``score_thr``, ``min_box_size``, ``nms_iou_thr``, ``max_per_img``,
            optionally ``soft_nms``.

    Every (RoI, object class) pair scoring above ``score_thr`` whose box is at least
    ``min_box_size`` wide and high is a candidate; then class-wise suppression.
    """
    num_classes = probs.shape[1] - 1
    boxes = boxes.expand(len(boxes), num_classes + 1, 4)
    results = []
    for img_boxes, img_scores, img_shape in zip(
        boxes.split(num_per_image), probs.split(num_per_image), img_shapes
    ):
        img_boxes = clip_boxes(img_boxes, img_shape)[:, 1:].reshape(-1, 4)
        img_scores = img_scores[:, 1:]
        img_labels = torch.arange(num_classes, device=img_scores.device).expand_as(img_scores)
        img_scores, img_labels = img_scores.reshape(-1), img_labels.reshape(-1)
        keep = torch.where(img_scores > test_cfg["score_thr"])[0]
        img_boxes, img_scores, img_labels = img_boxes[keep], img_scores[keep], img_labels[keep]
        keep = nonsmall_box_indices(img_boxes, test_cfg["min_box_size"])
        img_boxes, img_scores, img_labels = img_boxes[keep], img_scores[keep], img_labels[keep]
        results.append(suppress_with_test_cfg(img_boxes, img_scores, img_labels, test_cfg))
    return results


@MODELS.register_module()
class StandardRoIHead(nn.Module):
    """Box branch (RoIAlign -> ``box_head`` -> ``box_predictor``) and optional mask branch
    (RoIAlign -> ``mask_head`` -> ``mask_predictor``).

    RoI features come from the first ``num_levels`` feature levels through
    ``MultiScaleRoIAlign`` (each box pooled from the level that suits its size).

    Training: ground-truth boxes join the proposals, ``assigner`` and ``sampler`` pick the
    RoIs, classification is softmax cross entropy (background index 0) and regression uses
    the deltas of the true class only; masks are learnt on positive RoIs against the
    ground-truth mask resampled into the RoI.

    Args:
        num_classes: number of object classes K.
        num_levels: feature levels used for pooling.
        box_roi_size, mask_roi_size, sampling_ratio: RoIAlign settings.
        box_head, box_predictor, mask_head, mask_predictor: MODELS configs or modules
            (no mask branch when ``mask_head`` is None).
        bbox_coder, assigner, sampler: TASK_UTILS configs or objects.
        loss_cls, loss_bbox, loss_mask: MODELS configs or modules.
        test_cfg: ``score_thr``, ``nms_iou_thr``, ``max_per_img``, ``min_box_size`` and
            optionally ``soft_nms`` (Soft-NMS instead of NMS; see
            :func:`labdet.models.suppression.nms_per_class`).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_levels: int = 4,
        box_roi_size: int = 7,
        mask_roi_size: int = 14,
        sampling_ratio: int = 2,
        box_head,
        box_predictor,
        mask_head=None,
        mask_predictor=None,
        bbox_coder,
        assigner,
        sampler,
        loss_cls,
        loss_bbox,
        loss_mask=None,
        test_cfg: dict,
    ):
        super().__init__()
        self.num_classes = num_classes
        names = [str(i) for i in range(num_levels)]
        self.featmap_names = names
        self.box_roi_pool = MultiScaleRoIAlign(
            featmap_names=names, output_size=box_roi_size, sampling_ratio=sampling_ratio
        )
        self.box_head = build(box_head, MODELS)
        self.box_predictor = build(box_predictor, MODELS)
        self.with_mask = mask_head is not None
        if self.with_mask:
            self.mask_roi_pool = MultiScaleRoIAlign(
                featmap_names=names, output_size=mask_roi_size, sampling_ratio=sampling_ratio
            )
            self.mask_head = build(mask_head, MODELS)
            self.mask_predictor = build(mask_predictor, MODELS)
            self.loss_mask = build(loss_mask, MODELS)
        self.bbox_coder = build(bbox_coder, TASK_UTILS)
        self.assigner = build(assigner, TASK_UTILS)
        self.sampler = build(sampler, TASK_UTILS)
        self.loss_cls = build(loss_cls, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.test_cfg = dict(test_cfg)

    def _level_dict(self, feats: tuple[Tensor, ...]) -> dict[str, Tensor]:
        return {name: feats[i] for i, name in enumerate(self.featmap_names)}

    def loss(
        self,
        feats: tuple[Tensor, ...],
        proposals: list[Tensor],
        gt_instances: list[InstanceData],
        img_shapes: list[tuple[int, int]],
    ) -> dict:
        """Classification, box and (with masks) mask losses over sampled RoIs."""
        samples = [
            sample_rois(props, gt, self.assigner, self.sampler, self.bbox_coder)
            for props, gt in zip(proposals, gt_instances)
        ]
        rois = [s.rois for s in samples]
        labels = [s.labels for s in samples]
        box_targets = [s.box_targets for s in samples]
        matched_gts = [s.matched_gts for s in samples]
        level_feats = self._level_dict(feats)
        roi_feats = self.box_head(self.box_roi_pool(level_feats, rois, img_shapes))
        class_logits, box_deltas = self.box_predictor(roi_feats)
        all_labels = torch.cat(labels)
        positive = torch.where(all_labels > 0)[0]
        pos_deltas = box_deltas.view(len(all_labels), box_deltas.shape[-1] // 4, 4)[
            positive, all_labels[positive]
        ]
        avg_factor = max(len(all_labels), 1)
        losses = dict(
            loss_cls=self.loss_cls(class_logits, all_labels, avg_factor=avg_factor),
            loss_bbox=self.loss_bbox(pos_deltas, torch.cat(box_targets), avg_factor=avg_factor),
        )
        if self.with_mask:
            num_pos = [int((lab > 0).sum()) for lab in labels]
            pos_rois = [r[:n] for r, n in zip(rois, num_pos)]
            mask_logits = self.mask_predictor(
                self.mask_head(self.mask_roi_pool(level_feats, pos_rois, img_shapes))
            )
            size = mask_logits.shape[-1]
            targets = [
                mask_targets(gt.masks, matched, boxes, size)
                for gt, matched, boxes in zip(gt_instances, matched_gts, pos_rois)
            ]
            pos_labels = all_labels[positive]
            mask_logits = mask_logits[torch.arange(len(pos_labels)), pos_labels]
            losses["loss_mask"] = self.loss_mask(
                mask_logits, torch.cat(targets), avg_factor=max(mask_logits.numel(), 1)
            )
        return losses

    def predict(
        self, feats: tuple[Tensor, ...], proposals: list[Tensor], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image in input-image coordinates; with masks, ``mask_probs``
        Tensor[N, M, M] holds each detection's mask probabilities inside its box."""
        level_feats = self._level_dict(feats)
        roi_feats = self.box_head(self.box_roi_pool(level_feats, proposals, img_shapes))
        class_logits, box_deltas = self.box_predictor(roi_feats)
        boxes = self.bbox_coder.decode(box_deltas, torch.cat(proposals))
        boxes = boxes.view(len(boxes), box_deltas.shape[-1] // 4, 4)  # [N, K + 1, 4]
        probs = F.softmax(class_logits, -1)
        results = rcnn_detections(
            boxes, probs, [len(p) for p in proposals], img_shapes, self.test_cfg
        )
        if self.with_mask:
            mask_feats = self.mask_roi_pool(level_feats, [r.bboxes for r in results], img_shapes)
            mask_logits = self.mask_predictor(self.mask_head(mask_feats))
            labels = torch.cat([r.labels for r in results])
            mask_probs = mask_logits[torch.arange(len(labels)), labels + 1].sigmoid()
            for result, probs_i in zip(results, mask_probs.split([len(r) for r in results])):
                result.mask_probs = probs_i
        return results
