"""Rotated detectors: labdet's one- and two-stage skeletons whose predictions are rotated boxes."""

from __future__ import annotations

import torch
from mmengine.structures import BaseDataElement, InstanceData
from torch import Tensor

from labdet.models.detectors.base import SingleStageDetector, TwoStageDetector, img_shapes_of
from labrot.registry import MODELS
from labrot.structures import poly_to_rbox, rbox_to_poly


def rotated_to_original_image(
    result: InstanceData, sample: BaseDataElement, angle_version: str
) -> InstanceData:
    """Undo the resize by ``scale_factor`` (w, h) on rotated ``result.bboxes`` (Tensor[D, 5]):
    the corners are scaled back and the smallest rectangle around them is kept, named in
    ``angle_version`` (for an equal scale of both axes that is the box scaled exactly)."""
    scale_w, scale_h = sample.metainfo.get("scale_factor", (1.0, 1.0))
    boxes = result.bboxes
    if (scale_w, scale_h) != (1.0, 1.0) and len(boxes):
        polys = rbox_to_poly(boxes) / boxes.new_tensor([scale_w, scale_h] * 4)
        boxes = poly_to_rbox(polys, angle_version)
    return InstanceData(bboxes=boxes, scores=result.scores, labels=result.labels)


@MODELS.register_module()
class RotatedRetinaNet(SingleStageDetector):
    """Rotated RetinaNet (MMRotate's baseline): labdet's one-stage skeleton (backbone, FPN)
    with a :class:`~labrot.models.dense_heads.RotatedRetinaHead`.

    ``predict`` returns data samples whose ``pred_instances.bboxes`` are Tensor[D, 5]
    rotated boxes in original-image pixels, in the head coder's ``angle_version``.
    """

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list[BaseDataElement] | None = None):
        feats = self.extract_feat(inputs)
        results = self.bbox_head.predict(feats, img_shapes_of(inputs, data_samples))
        if data_samples is None:
            data_samples = [
                BaseDataElement(metainfo=dict(img_shape=tuple(inputs.shape[-2:]))) for _ in results
            ]
        angle_version = self.bbox_head.bbox_coder.angle_version
        for sample, result in zip(data_samples, results):
            sample.pred_instances = rotated_to_original_image(result, sample, angle_version)
        return data_samples


@MODELS.register_module()
class OrientedRCNN(TwoStageDetector):
    """Oriented R-CNN (Xie et al., ICCV 2021): labdet's two-stage skeleton (backbone, FPN,
    RPN proposals, RoI head) with an :class:`~labrot.models.dense_heads.OrientedRPNHead`
    whose proposals are rotated boxes and a :class:`~labrot.models.roi_heads.RotatedRoIHead`.

    ``predict`` returns data samples whose ``pred_instances.bboxes`` are Tensor[D, 5]
    rotated boxes in original-image pixels, in the RoI head coder's ``angle_version``.
    """

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
        angle_version = self.roi_head.bbox_coder.angle_version
        for sample, result in zip(data_samples, results):
            sample.pred_instances = rotated_to_original_image(result, sample, angle_version)
        return data_samples
