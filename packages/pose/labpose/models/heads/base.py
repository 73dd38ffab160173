"""What every pose head shares: building its parts, reading targets, decoding.

A head maps backbone features to outputs (heatmaps, SimCC vectors or coordinates),
computes its loss against the targets that ``GenerateTarget`` wrote into each data
sample (``sample.gt_targets``), flips outputs of a flipped input back, and decodes
outputs into keypoints in the model's input space with its codec.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement
from torch import Tensor

from labcore.errors import LabError
from labpose.registry import MODELS, TASK_UTILS


def build(cfg_or_obj, registry):
    """Build a config dict from ``registry``; pass a built object through."""
    if isinstance(cfg_or_obj, dict):
        return registry.build(cfg_or_obj)
    return cfg_or_obj


def _sample_targets(sample: BaseDataElement, codec) -> dict:
    targets = sample.get("gt_targets")
    if targets is not None:
        return {key: torch.as_tensor(value) for key, value in targets.items()}
    gt = sample.get("gt_instances")
    if gt is None or "transformed_keypoints" not in gt:
        raise LabError(
            "The pose head needs each training sample's keypoints in the crop "
            "(gt_instances.transformed_keypoints): put TopdownAffine and PackPoseInputs "
            "into the train pipeline."
        )
    encoded = codec.encode(
        gt.transformed_keypoints.detach().cpu().numpy(), gt.keypoints_visible.detach().cpu().numpy()
    )
    if "heatmaps" in encoded:
        encoded["heatmaps"] = encoded["heatmaps"][None]  # one instance per sample
    return {key: torch.from_numpy(np.asarray(value)) for key, value in encoded.items()}


def batch_targets(samples: Sequence[BaseDataElement], codec) -> dict[str, Tensor]:
    """The training targets of a batch of top-down samples, Tensor[B, ...] per key.

    Each sample's ``gt_targets`` (written by GenerateTarget) when present; otherwise
    ``codec`` encodes its ``gt_instances.transformed_keypoints`` here, so a protocol's
    pipeline needs no model-specific target encoding.
    """
    per_sample = [_sample_targets(sample, codec) for sample in samples]
    return {key: torch.cat([t[key] for t in per_sample]) for key in per_sample[0]}


class PoseHead(BaseModule):
    """Base of the pose heads: the loss, the codec (encoding targets, decoding outputs).

    Subclasses define ``forward(feats) -> outputs``, ``loss(feats, samples)``,
    ``flip(outputs, flip_indices, shift_heatmap)`` and ``decode_one(outputs_of_one)``.
    """

    def __init__(self, *, loss, decoder, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.loss_module = build(loss, MODELS)
        self.decoder = build(decoder, TASK_UTILS)

    def targets(
        self, samples: Sequence[BaseDataElement], device: torch.device
    ) -> dict[str, Tensor]:
        """:func:`batch_targets` of ``samples`` with the head's codec, on ``device``."""
        return {k: v.to(device) for k, v in batch_targets(samples, self.decoder).items()}

    def decode(self, outputs) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sample: (keypoints ndarray[1, K, 2] in input pixels, scores ndarray[1, K])."""
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        arrays = [o.detach().float().cpu().numpy() for o in outputs]
        return [self.decode_one(*(a[i] for a in arrays)) for i in range(len(arrays[0]))]
