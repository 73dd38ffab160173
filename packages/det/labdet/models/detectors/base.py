"""Detector skeletons: one-stage (backbone, neck, dense head) and two-stage (+ RPN, RoI head)."""

from __future__ import annotations

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement, InstanceData
from torch import Tensor

from labdet.models.roi_heads.mask_heads import paste_masks
from labdet.models.utils import build
from labdet.registry import MODELS


def img_shapes_of(
    inputs: Tensor, data_samples: list[BaseDataElement] | None
) -> list[tuple[int, int]]:
    """Each image's (h, w) inside the padded batch: ``img_shape`` metainfo, or the batch shape."""
    if not data_samples:
        return [tuple(inputs.shape[-2:])] * len(inputs)
    return [tuple(s.metainfo.get("img_shape", inputs.shape[-2:]))[:2] for s in data_samples]


def to_original_image(
    result: InstanceData, sample: BaseDataElement, mask_thr: float = 0.5
) -> InstanceData:
    """Scale boxes back to the original image (undoing the resize by ``scale_factor`` (w, h))
    and paste mask probabilities, if any, into BoolTensor[N, H, W] masks at ``ori_shape``."""
    scale_w, scale_h = sample.metainfo.get("scale_factor", (1.0, 1.0))
    scale = result.bboxes.new_tensor([scale_w, scale_h, scale_w, scale_h])
    out = InstanceData(bboxes=result.bboxes / scale, scores=result.scores, labels=result.labels)
    if "mask_probs" in result:
        ori_shape = tuple(sample.metainfo.get("ori_shape", sample.metainfo.get("img_shape")))[:2]
        out.masks = paste_masks(result.mask_probs, out.bboxes, ori_shape) >= mask_thr
    return out


class _Detector(BaseModel):
    """What one- and two-stage detectors share: building parts, the forward dispatch and
    turning head outputs into data samples."""

    def __init__(self, *, backbone, neck, data_preprocessor=None, init_cfg=None):
        if data_preprocessor is None:
            data_preprocessor = dict(type="DetDataPreprocessor")
        super().__init__(data_preprocessor=build(data_preprocessor, MODELS), init_cfg=init_cfg)
        self.backbone = build(backbone, MODELS)
        self.neck = build(neck, MODELS)

    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """Neck outputs for a batch Tensor[B, 3, H, W]: a tuple of Tensor[B, C, H_i, W_i]."""
        return tuple(self.neck(self.backbone(inputs)))

    def forward(
        self,
        inputs: Tensor,
        data_samples: list[BaseDataElement] | None = None,
        mode: str = "tensor",
    ):
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.extract_feat(inputs)
        raise ValueError(
            f"{type(self).__name__}.forward: mode={mode!r}; choose 'loss', 'predict' or 'tensor'"
        )

    def _attach_predictions(
        self,
        results: list[InstanceData],
        inputs: Tensor,
        data_samples: list[BaseDataElement] | None,
    ) -> list[BaseDataElement]:
        if data_samples is None:
            data_samples = [
                BaseDataElement(metainfo=dict(img_shape=tuple(inputs.shape[-2:]))) for _ in results
            ]
        for sample, result in zip(data_samples, results):
            sample.pred_instances = to_original_image(result, sample)
        return data_samples


class SingleStageDetector(_Detector):
    """Backbone -> neck -> dense head (e.g. RetinaNet, FCOS).

    forward(inputs Tensor[B, 3, H, W], data_samples, mode): ``'loss'`` returns a dict of
    losses (data samples carry ``gt_instances``), ``'predict'`` returns the data samples
    with ``pred_instances`` in original-image coordinates, ``'tensor'`` the neck features.
    """

    def __init__(self, *, backbone, neck, bbox_head, data_preprocessor=None, init_cfg=None):
        super().__init__(
            backbone=backbone, neck=neck, data_preprocessor=data_preprocessor, init_cfg=init_cfg
        )
        self.bbox_head = build(bbox_head, MODELS)

    def loss(self, inputs: Tensor, data_samples: list[BaseDataElement]) -> dict:
        feats = self.extract_feat(inputs)
        return self.bbox_head.loss(feats, [s.gt_instances for s in data_samples])

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list[BaseDataElement] | None = None):
        feats = self.extract_feat(inputs)
        results = self.bbox_head.predict(feats, img_shapes_of(inputs, data_samples))
        return self._attach_predictions(results, inputs, data_samples)


class TwoStageDetector(_Detector):
    """Backbone -> neck -> RPN proposals -> RoI head (e.g. Faster R-CNN, Mask R-CNN).

    forward modes as :class:`SingleStageDetector`.
    """

    def __init__(
        self, *, backbone, neck, rpn_head, roi_head, data_preprocessor=None, init_cfg=None
    ):
        super().__init__(
            backbone=backbone, neck=neck, data_preprocessor=data_preprocessor, init_cfg=init_cfg
        )
        self.rpn_head = build(rpn_head, MODELS)
        self.roi_head = build(roi_head, MODELS)

    def loss(self, inputs: Tensor, data_samples: list[BaseDataElement]) -> dict:
        feats = self.extract_feat(inputs)
        img_shapes = img_shapes_of(inputs, data_samples)
        gt_instances = [s.gt_instances for s in data_samples]
        losses, proposals = self.rpn_head.loss_and_proposals(feats, gt_instances, img_shapes)
        losses.update(self.roi_head.loss(feats, proposals, gt_instances, img_shapes))
        return losses

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list[BaseDataElement] | None = None):
        feats = self.extract_feat(inputs)
        img_shapes = img_shapes_of(inputs, data_samples)
        proposals = self.rpn_head.predict(feats, img_shapes)
        results = self.roi_head.predict(feats, proposals, img_shapes)
        return self._attach_predictions(results, inputs, data_samples)
