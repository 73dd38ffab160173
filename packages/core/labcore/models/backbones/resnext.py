"""ResNeXt (Xie et al., 2017): ResNet whose bottlenecks use grouped 3x3 convolutions."""

from __future__ import annotations

from labcore.errors import ConfigError
from labcore.models.backbones.resnet import ResNet
from labcore.registry import MODELS


@MODELS.register_module()
class ResNeXt(ResNet):
    """ResNeXt backbone: ``groups`` x ``width_per_group`` inner width per bottleneck.

    ``dict(type='ResNeXt', depth=50, groups=32, width_per_group=4)`` is torchvision's
    ``resnext50_32x4d`` (same module names, so its state dict loads directly). All other
    arguments, the outputs and their shapes are those of :class:`ResNet`; depth must be
    50, 101 or 152 (bottleneck blocks).
    """

    def __init__(self, *, depth: int, groups: int = 32, width_per_group: int = 4, **kwargs):
        if depth not in (50, 101, 152):
            raise ConfigError(
                f"ResNeXt depth {depth} is not supported; choose 50, 101 or 152 "
                "(grouped convolutions need bottleneck blocks)."
            )
        super().__init__(depth=depth, groups=groups, width_per_group=width_per_group, **kwargs)
