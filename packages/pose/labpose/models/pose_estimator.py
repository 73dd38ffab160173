"""TopdownPoseEstimator: one box's crop -> backbone -> (neck) -> head -> keypoints."""

from __future__ import annotations

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement, InstanceData
from torch import Tensor

from labcore.errors import ConfigError
from labpose.geometry import invert_affine, transform_points, warp_matrix
from labpose.models.heads.base import build
from labpose.registry import MODELS


@MODELS.register_module()
class TopdownPoseEstimator(BaseModel):
    """Top-down pose estimation: each input is the affine crop of one box (see
    ``TopdownAffine``); the head's outputs are decoded by its codec into keypoints in
    the crop, which the inverse of the crop's affine map takes back to the image.

    Args:
        backbone, neck, head: configs (or built modules); ``neck`` may be None.
        test_cfg: ``flip_test`` (also run the horizontally flipped crop and average the
            outputs, mirrored back with the data set's ``flip_indices``) and
            ``shift_heatmap`` (move the flipped heatmap one pixel, as MMPose does for
            non-UDP crops; default True).
        data_preprocessor: default ``ImgDataPreprocessor`` with ImageNet mean and std.

    ``forward(inputs Tensor[B, 3, h, w], data_samples, mode)``: 'loss' gives the head's
    losses; 'predict' gives the samples with ``pred_instances``: ``keypoints``
    (Tensor[1, K, 2], image pixels), ``keypoint_scores`` (Tensor[1, K]), ``bboxes``
    (Tensor[1, 4] x1 y1 x2 y2, the input box), ``bbox_scores`` (Tensor[1]) and
    ``labels`` (Tensor[1], the box's category); 'tensor' gives the head's outputs.
    """

    def __init__(
        self,
        *,
        backbone,
        head,
        neck=None,
        test_cfg: dict | None = None,
        data_preprocessor=None,
        init_cfg=None,
    ):
        if data_preprocessor is None:
            data_preprocessor = dict(
                type="ImgDataPreprocessor",
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
            )
        super().__init__(data_preprocessor=build(data_preprocessor, MODELS), init_cfg=init_cfg)
        self.backbone = build(backbone, MODELS)
        self.neck = None if neck is None else build(neck, MODELS)
        self.head = build(head, MODELS)
        test_cfg = dict(test_cfg or {})
        self.flip_test = bool(test_cfg.pop("flip_test", False))
        self.shift_heatmap = bool(test_cfg.pop("shift_heatmap", True))
        if test_cfg:
            raise ConfigError(
                f"TopdownPoseEstimator test_cfg has unknown keys {sorted(test_cfg)}; it takes "
                f"flip_test and shift_heatmap."
            )

    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, ...]:
        feats = self.backbone(inputs)
        feats = (feats,) if isinstance(feats, Tensor) else tuple(feats)
        if self.neck is not None:
            feats = self.neck(feats)
            feats = (feats,) if isinstance(feats, Tensor) else tuple(feats)
        return feats

    def forward(self, inputs: Tensor, data_samples=None, mode: str = "tensor"):
        if mode == "loss":
            return self.head.loss(self.extract_feat(inputs), data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.head(self.extract_feat(inputs))
        raise ValueError(
            f"TopdownPoseEstimator.forward: mode={mode!r}; choose 'loss', 'predict' or 'tensor'"
        )

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list[BaseDataElement]) -> list[BaseDataElement]:
        outputs = self.head(self.extract_feat(inputs))
        if self.flip_test:
            flip_indices = _flip_indices(data_samples)
            flipped = self.head.flip(
                self.head(self.extract_feat(inputs.flip(-1))), flip_indices, self.shift_heatmap
            )
            if isinstance(outputs, Tensor):
                outputs = (outputs + flipped) * 0.5
            else:
                outputs = tuple((a + b) * 0.5 for a, b in zip(outputs, flipped))
        for sample, (keypoints, scores) in zip(data_samples, self.head.decode(outputs)):
            sample.pred_instances = _to_image(sample, keypoints, scores)
        return data_samples


def _flip_indices(data_samples: list[BaseDataElement]) -> list[int]:
    indices = data_samples[0].metainfo.get("flip_indices")
    if indices is None:
        raise ConfigError(
            "TopdownPoseEstimator test_cfg.flip_test=True needs the data set's flip pairs, "
            "but its metainfo has none: add `flip_pairs` to the data set's metainfo file "
            "(an empty list when no keypoint has a mirror), or set flip_test=False."
        )
    return list(indices)


def _to_image(sample: BaseDataElement, keypoints: np.ndarray, scores: np.ndarray) -> InstanceData:
    """``pred_instances`` of one sample: crop keypoints mapped back to the image."""
    meta = sample.metainfo
    matrix = warp_matrix(
        meta["input_center"], meta["input_scale"], 0.0, meta["input_size"],
        use_udp=bool(meta.get("use_udp", False)),
    )  # fmt: skip
    keypoints = transform_points(keypoints.astype(np.float64), invert_affine(matrix))
    gt = sample.get("gt_instances")
    pred = InstanceData(
        keypoints=torch.from_numpy(keypoints.astype(np.float32)),
        keypoint_scores=torch.from_numpy(np.asarray(scores, dtype=np.float32)),
    )
    if gt is not None and "bboxes" in gt:
        pred.bboxes = torch.as_tensor(gt.bboxes, dtype=torch.float32).reshape(1, 4)
        pred.bbox_scores = torch.as_tensor(gt.bbox_scores, dtype=torch.float32).reshape(1)
        pred.labels = torch.as_tensor(gt.labels, dtype=torch.int64).reshape(1)
    return pred
