"""Rotated RoI head of Oriented R-CNN: pool each rotated proposal, classify it, refine it."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor, nn

from labcore.ops import roi_align_rotated
from labdet.models.roi_heads.roi_head import sample_rois
from labdet.models.utils import build
from labrot.models.postprocess import batched_nms_rotated
from labrot.registry import MODELS, TASK_UTILS


@MODELS.register_module()
class RotatedSingleRoIExtractor(nn.Module):
    """Each rotated RoI pooled from one FPN level with :func:`labcore.ops.roi_align_rotated`
    (MMRotate's ``RotatedSingleRoIExtractor``).

    A RoI of ``w x h`` goes to level ``floor(log2(sqrt(w h) / finest_scale))``, clamped to
    the levels there are: with ``finest_scale = 56`` RoIs under 112 px go to the first
    level, 112-224 px to the second, and so on (MMDetection's rule). The op takes angles
    with the corner formula of :func:`labcore.ops.box_iou_rotated` (mmcv's
    ``clockwise=True``), the convention of labrot's boxes, so RoIs pass unchanged.

    Args:
        featmap_strides: stride of each level, finest first.
        output_size: pooled side S.
        sampling_ratio: bilinear samples per bin along each side (0: adaptive).
        finest_scale: the scale that maps to the second level's lower bound, halved.

    forward(feats: tuple of Tensor[B, C, H_i, W_i], rois: list over images of Tensor[R_b, 5]
    (cx, cy, w, h, angle) in input pixels) returns Tensor[sum R_b, C, S, S], RoIs in the
    order given.
    """

    def __init__(
        self,
        *,
        featmap_strides: Sequence[int],
        output_size: int = 7,
        sampling_ratio: int = 2,
        finest_scale: float = 56.0,
    ):
        super().__init__()
        self.featmap_strides = tuple(int(s) for s in featmap_strides)
        self.output_size = output_size
        self.sampling_ratio = sampling_ratio
        self.finest_scale = finest_scale

    def map_levels(self, rois: Tensor) -> Tensor:
        """Level index Tensor[R] int64 of each rotated RoI (Tensor[R, 5])."""
        scale = torch.sqrt(rois[:, 2] * rois[:, 3])
        levels = torch.floor(torch.log2(scale / self.finest_scale + 1e-6))
        return levels.clamp(0, len(self.featmap_strides) - 1).long()

    def forward(self, feats: tuple[Tensor, ...], rois: list[Tensor]) -> Tensor:
        batch_rois = torch.cat(
            [torch.cat((torch.full_like(r[:, :1], b), r), dim=1) for b, r in enumerate(rois)]
        )  # [R, 6] (batch index, cx, cy, w, h, angle)
        num_levels = len(self.featmap_strides)
        feats = feats[:num_levels]
        out = feats[0].new_zeros(
            (len(batch_rois), feats[0].shape[1], self.output_size, self.output_size)
        )
        levels = self.map_levels(batch_rois[:, 1:])
        for level, (feat, stride) in enumerate(zip(feats, self.featmap_strides)):
            index = torch.where(levels == level)[0]
            if len(index):
                out[index] = roi_align_rotated(
                    feat,
                    batch_rois[index].to(feat.dtype),
                    self.output_size,
                    spatial_scale=1.0 / stride,
                    sampling_ratio=self.sampling_ratio,
                    aligned=True,
                )
        return out


@MODELS.register_module()
class RotatedRoIHead(nn.Module):
    """Oriented R-CNN's second stage: rotated RoI features, a box head, class scores and one
    class-agnostic rotated delta per RoI.

    The parts are labdet's where they exist: ``box_head`` a shared 2-FC head
    (``TwoMLPHead``), ``box_predictor`` a ``FastRCNNPredictor`` with
    ``class_agnostic=True, box_dim=5`` (index 0 is background), ``sampler`` its
    ``RandomSampler``, the losses its ``CrossEntropyLoss`` and ``SmoothL1Loss``; labrot
    gives the ``roi_extractor`` (:class:`RotatedSingleRoIExtractor`), ``assigner``
    (``RotatedMaxIoUAssigner``) and ``bbox_coder`` (``DeltaXYWHABoxCoder``, whose
    ``angle_version`` names the detections).

    Training adds the ground truths to the proposals (as MMDetection's ``add_gt_as_proposals``),
    assigns and samples them, and averages both losses over the sampled RoIs. Testing keeps
    every (RoI, class) pair scoring at least ``test_cfg.score_thr``, suppresses each class
    with rotated NMS at ``nms_iou_thr`` and keeps ``max_per_img``.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        roi_extractor,
        box_head,
        box_predictor,
        bbox_coder,
        assigner,
        sampler,
        loss_cls,
        loss_bbox,
        test_cfg: dict,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.roi_extractor = build(roi_extractor, MODELS)
        self.box_head = build(box_head, MODELS)
        self.box_predictor = build(box_predictor, MODELS)
        self.bbox_coder = build(bbox_coder, TASK_UTILS)
        self.assigner = build(assigner, TASK_UTILS)
        self.sampler = build(sampler, TASK_UTILS)
        self.loss_cls = build(loss_cls, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.test_cfg = dict(test_cfg)

    def forward(self, feats: tuple[Tensor, ...], rois: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Class logits Tensor[R, K + 1] and rotated deltas Tensor[R, 5] of the RoIs
        (a list over images of Tensor[R_b, 5])."""
        return self.box_predictor(self.box_head(self.roi_extractor(feats, rois)))

    def loss(
        self,
        feats: tuple[Tensor, ...],
        proposals: list[Tensor],
        gt_instances: list[InstanceData],
        img_shapes: list[tuple[int, int]],
    ) -> dict:
        """``loss_cls`` and ``loss_bbox`` over the sampled RoIs; ``proposals`` are
        Tensor[P_b, 5] per image and ``gt_instances`` hold ``bboxes`` Tensor[G, 5]."""
        samples = [
            sample_rois(props.detach(), gt, self.assigner, self.sampler, self.bbox_coder)
            for props, gt in zip(proposals, gt_instances)
        ]
        rois = [s.rois for s in samples]
        labels = [s.labels for s in samples]
        box_targets = [s.box_targets for s in samples]
        class_logits, box_deltas = self(feats, rois)
        all_labels = torch.cat(labels)
        positive = all_labels > 0
        avg_factor = max(len(all_labels), 1)
        return dict(
            loss_cls=self.loss_cls(class_logits, all_labels, avg_factor=avg_factor),
            loss_bbox=self.loss_bbox(
                box_deltas[positive], torch.cat(box_targets), avg_factor=avg_factor
            ),
        )

    def predict(
        self, feats: tuple[Tensor, ...], proposals: list[Tensor], img_shapes: list[tuple[int, int]]
    ) -> list[InstanceData]:
        """Detections per image: InstanceData(bboxes Tensor[D, 5] in input-image pixels and
        the coder's angle convention, scores Tensor[D], labels Tensor[D]), best first."""
        class_logits, box_deltas = self(feats, proposals)
        boxes = self.bbox_coder.decode(box_deltas, torch.cat(proposals))  # [N, 5]
        probs = F.softmax(class_logits, dim=-1)[:, 1:]  # [N, K]
        cfg = self.test_cfg
        results = []
        sizes = [len(p) for p in proposals]
        for img_boxes, img_probs in zip(boxes.split(sizes), probs.split(sizes)):
            roi_idx, labels = torch.where(img_probs >= cfg["score_thr"])
            det_boxes, scores = img_boxes[roi_idx], img_probs[roi_idx, labels]
            keep = batched_nms_rotated(det_boxes, scores, labels, cfg["nms_iou_thr"])
            keep = keep[: cfg["max_per_img"]]
            results.append(
                InstanceData(bboxes=det_boxes[keep], scores=scores[keep], labels=labels[keep])
            )
        return results
