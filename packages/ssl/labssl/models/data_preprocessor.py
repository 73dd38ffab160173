"""The data preprocessor of self-supervised training: each view normalised and stacked."""

from __future__ import annotations

from mmengine.model import ImgDataPreprocessor

from labssl.registry import MODELS


@MODELS.register_module()
class MultiViewDataPreprocessor(ImgDataPreprocessor):
    """MMEngine's ImgDataPreprocessor, applied to each view of a multi-view batch.

    Inputs arrive as uint8 Tensor[3, H, W] in RGB (:mod:`labcore.datasets.transforms`):
    from :class:`labssl.datasets.PackMultiViewInputs` as V sequences of B images (one per
    view), which leave as a list of V float Tensor[B, 3, H, W]; from labcls's
    ``PackClsInputs`` (evaluation) as B images, which leave as one Tensor[B, 3, H, W].

    Args:
        mean, std: per-channel normalisation (RGB order), in 0..255 units.
        pad_size_divisor, pad_value, non_blocking: as in ImgDataPreprocessor.
    """

    def __init__(
        self,
        *,
        mean=None,
        std=None,
        pad_size_divisor: int = 1,
        pad_value: float = 0,
        non_blocking: bool = False,
    ):
        super().__init__(
            mean=mean,
            std=std,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            bgr_to_rgb=False,
            non_blocking=non_blocking,
        )

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data["inputs"]
        if len(inputs) and isinstance(inputs[0], list | tuple):  # V views of B images
            views = []
            for view in inputs:
                views.append(super().forward({"inputs": list(view)}, training)["inputs"])
            return {"inputs": views, "data_samples": self.cast_data(data.get("data_samples"))}
        return super().forward(data, training)
