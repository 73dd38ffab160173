"""Global average pooling neck."""

from __future__ import annotations

from torch import Tensor, nn

from labcore.registry import MODELS


@MODELS.register_module()
class GlobalAveragePooling(nn.Module):
    """Average each feature map over its spatial dimensions.

    Input: a tuple of Tensor[B, C_i, H_i, W_i] (what backbones return) or one such
    tensor. Output: a tuple of Tensor[B, C_i] (a single Tensor[B, C] for a tensor input).
    """

    def forward(self, inputs: tuple[Tensor, ...] | Tensor) -> tuple[Tensor, ...] | Tensor:
        if isinstance(inputs, Tensor):
            return self._pool(inputs)
        return tuple(self._pool(x) for x in inputs)

    @staticmethod
    def _pool(x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(
                f"GlobalAveragePooling expects feature maps Tensor[B, C, H, W], got shape "
                f"{tuple(x.shape)}"
            )
        return x.mean(dim=(2, 3))
