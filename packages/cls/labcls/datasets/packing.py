"""Packing one sample into the classifier's input format."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from labcls.registry import TRANSFORMS

DEFAULT_META_KEYS = ("sample_idx", "img_path", "ori_shape", "img_shape", "scale_factor", "flip")


@TRANSFORMS.register_module()
class PackClsInputs:
    """results dict -> ``dict(inputs=Tensor[3, H, W] uint8, data_samples=BaseDataElement)``.

    The data sample holds ``gt_label`` (Tensor[1], int64) when the sample has one, and
    the ``meta_keys`` found in ``results`` as metainfo.

    Args:
        meta_keys: the keys copied into the data sample's metainfo.
    """

    def __init__(self, *, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict) -> dict:
        img = results["img"]
        if img.ndim == 2:
            img = img[:, :, None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys if k in results})
        if "gt_label" in results:
            sample.gt_label = torch.as_tensor(results["gt_label"], dtype=torch.long).reshape(1)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(meta_keys={self.meta_keys})"
