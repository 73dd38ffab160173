"""Packing a multi-view sample into the self-supervised models' input format."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from labssl.registry import TRANSFORMS

DEFAULT_META_KEYS = ("sample_idx", "img_path", "ori_shape", "img_shape")


@TRANSFORMS.register_module()
class PackMultiViewInputs:
    """results with ``img`` a list of V uint8 HWC images (from :class:`MultiView`) ->
    ``dict(inputs=[Tensor[3, H, W] uint8] * V, data_samples=BaseDataElement)``.

    The data sample holds ``gt_label`` when the sample has one (pretraining ignores it)
    and the ``meta_keys`` found in ``results`` as metainfo.
    """

    def __init__(self, *, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict) -> dict:
        images = results["img"]
        if not isinstance(images, list):
            raise TypeError(
                "PackMultiViewInputs expects a list of views in results['img']; put a "
                "MultiView transform before it (single images are packed by PackClsInputs)."
            )
        inputs = [torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))) for img in images]
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys if k in results})
        if "gt_label" in results:
            sample.gt_label = torch.as_tensor(results["gt_label"], dtype=torch.long).reshape(1)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(meta_keys={self.meta_keys})"
