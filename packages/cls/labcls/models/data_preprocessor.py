"""The classification data preprocessor: normalise, stack, and apply batch augments."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import ImgDataPreprocessor

from labcls.models.batch_augments import RandomBatchAugment
from labcls.registry import MODELS


@MODELS.register_module()
class ClsDataPreprocessor(ImgDataPreprocessor):
    """MMEngine's ImgDataPreprocessor plus Mixup / CutMix while training.

    Inputs arrive as a list of uint8 Tensor[3, H, W] (RGB, see
    :mod:`labcore.datasets.transforms`); they leave as one float Tensor[B, 3, H, W],
    normalised with ``mean`` and ``std``. While training with ``batch_augments``, the
    hard labels become one-hot targets that are mixed with the images, and every data
    sample gets ``gt_score`` (Tensor[K]) beside its ``gt_label``.

    Args:
        mean, std: per-channel normalisation (RGB order), in 0..255 units.
        num_classes: K, needed for ``batch_augments``.
        batch_augments: a :class:`RandomBatchAugment` config or a list of augment
            configs (one chosen per batch, equal probabilities), or None.
        to_rgb: swap the channel order (only for BGR inputs).
        pad_size_divisor, pad_value, non_blocking: as in ImgDataPreprocessor.
    """

    def __init__(
        self,
        *,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        num_classes: int | None = None,
        batch_augments: dict | Sequence[dict] | None = None,
        to_rgb: bool = False,
        pad_size_divisor: int = 1,
        pad_value: float = 0,
        non_blocking: bool = False,
    ):
        super().__init__(
            mean=mean,
            std=std,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            bgr_to_rgb=to_rgb,
            non_blocking=non_blocking,
        )
        self.num_classes = num_classes
        if batch_augments is None:
            self.batch_augments = None
        else:
            if num_classes is None:
                raise ValueError("ClsDataPreprocessor: batch_augments need num_classes to be set")
            if isinstance(batch_augments, dict) and batch_augments.get("type") not in (
                None,
                "RandomBatchAugment",
            ):
                batch_augments = [batch_augments]
            if isinstance(batch_augments, dict):
                cfg = {k: v for k, v in batch_augments.items() if k != "type"}
                self.batch_augments = RandomBatchAugment(**cfg)
            else:
                self.batch_augments = RandomBatchAugment(augments=list(batch_augments))

    def forward(self, data: dict, training: bool = False) -> dict:
        """data: dict(inputs=list of Tensor[3, H, W], data_samples=list) ->
        dict(inputs=Tensor[B, 3, H, W] float, data_samples=list)."""
        data = super().forward(data, training)
        samples = data.get("data_samples")
        if training and self.batch_augments is not None and samples:
            labels = torch.cat([s.gt_label.reshape(-1)[:1] for s in samples]).to(
                data["inputs"].device
            )
            targets = F.one_hot(labels, self.num_classes).float()
            inputs, targets = self.batch_augments(data["inputs"], targets)
            data["inputs"] = inputs
            for sample, score in zip(samples, targets):
                sample.gt_score = score
        return data
