"""Batch images and label maps for segmentation: normalise, pad, stack."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData
from torch import Tensor

from labseg.registry import MODELS


@MODELS.register_module()
class SegDataPreprocessor(BaseDataPreprocessor):
    """Normalise images and pad images and label maps to one batch shape.

    Images (uint8 or float Tensor[3, H, W], each its own size) are normalised with
    ``mean`` / ``std`` (0-255 scale), padded bottom-right with ``pad_val`` to ``size``
    (h, w; training with fixed crops) or to the batch's largest shape rounded up to
    ``size_divisor``, and stacked into Tensor[B, 3, H_pad, W_pad]. In training the label
    maps ``gt_sem_seg`` (LongTensor[1, H, W]) are padded the same way with
    ``seg_pad_val`` (255, the ignore index), so padding never counts in a loss.
    Every data sample gets metainfo ``batch_input_shape`` and ``pad_shape``.

    Args:
        mean, std: per channel, in the order the images are stored (RGB).
        size: (h, w) to pad to, or None.
        size_divisor: round the padded shape up to a multiple of it, or None.
        pad_val: image padding value (before normalisation).
        seg_pad_val: label padding value.
    """

    def __init__(
        self,
        *,
        mean: Sequence[float] = (123.675, 116.28, 103.53),
        std: Sequence[float] = (58.395, 57.12, 57.375),
        size: Sequence[int] | None = None,
        size_divisor: int | None = None,
        pad_val: float = 0.0,
        seg_pad_val: int = 255,
        non_blocking: bool = False,
    ):
        super().__init__(non_blocking=non_blocking)
        self.register_buffer("mean", torch.tensor(mean).view(-1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(-1, 1, 1), persistent=False)
        self.size = None if size is None else tuple(size)
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def _padded_shape(self, shapes: list[tuple[int, int]]) -> tuple[int, int]:
        height = max(h for h, _ in shapes)
        width = max(w for _, w in shapes)
        if self.size is not None:
            height, width = max(height, self.size[0]), max(width, self.size[1])
        if self.size_divisor:
            d = self.size_divisor
            height, width = -(-height // d) * d, -(-width // d) * d
        return height, width

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        images: list[Tensor] = list(data["inputs"])
        samples = data.get("data_samples")
        height, width = self._padded_shape([tuple(img.shape[-2:]) for img in images])
        batch = []
        for img in images:
            pad = (0, width - img.shape[-1], 0, height - img.shape[-2])
            img = F.pad(img.float(), pad, value=self.pad_val)
            batch.append((img - self.mean) / self.std)
        inputs = torch.stack(batch)
        if samples is not None:
            for sample in samples:
                sample.set_metainfo(
                    dict(batch_input_shape=(height, width), pad_shape=(height, width))
                )
                if training and "gt_sem_seg" in sample:
                    seg = sample.gt_sem_seg.data
                    pad = (0, width - seg.shape[-1], 0, height - seg.shape[-2])
                    if any(pad):
                        padded = F.pad(seg, pad, value=self.seg_pad_val)
                        sample.gt_sem_seg = PixelData(data=padded)
        return dict(inputs=inputs, data_samples=samples)
