"""Batch images for detection: normalise, pad to a size divisor, record the batch shape."""

from __future__ import annotations

from mmengine.model import ImgDataPreprocessor

from labdet.registry import MODELS


@MODELS.register_module()
class DetDataPreprocessor(ImgDataPreprocessor):
    """MMEngine's ImgDataPreprocessor that also tells each data sample the batch's shape.

    Images (uint8 or float Tensor[3, H, W], each its own size) are moved to the model's
    device, optionally flipped BGR -> RGB, normalised with ``mean`` / ``std`` (0-255 scale),
    padded bottom-right with ``pad_value`` to a common size that is a multiple of
    ``pad_size_divisor``, and stacked into Tensor[B, 3, H_pad, W_pad]. Every data sample
    gets metainfo ``batch_input_shape`` = (H_pad, W_pad); ground truth stays unpadded.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        batch_input_shape = tuple(data["inputs"].shape[-2:])
        for sample in data.get("data_samples") or []:
            sample.set_metainfo(dict(batch_input_shape=batch_input_shape))
        return data
