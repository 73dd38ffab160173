"""Normalization and activation layers built from config dicts.

``build_norm_layer(dict(type='BN'), 64)`` returns a module; the ``type`` names one of
:data:`NORM_LAYERS` and the other keys are passed to its constructor (``eps``,
``momentum``, ``num_groups`` for GroupNorm, ...). ``'FrozenBN'`` is torchvision's
FrozenBatchNorm2d: its affine values and statistics are buffers, so it adds no
trainable parameters (as in torchvision's COCO detection models).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from labcore.errors import ConfigError, close_matches
from labcore.models.layers.split_bn import SplitBatchNorm2d
from labcore.models.layers.sync_bn import SyncBatchNorm
from labcore.ops import FrozenBatchNorm2d


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dimension of a channels-first map.

    Input and output: Tensor[B, C, H, W]; each position is normalized over its C values.
    """

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def _group_norm(num_features: int, *, num_groups: int = 32, **kwargs) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups, num_features, **kwargs)


NORM_LAYERS = {
    "BN": nn.BatchNorm2d,
    "BN1d": nn.BatchNorm1d,
    "BN2d": nn.BatchNorm2d,
    "SyncBN": SyncBatchNorm,  # plain BN, with one warning, where nothing can synchronise
    "SplitBN": SplitBatchNorm2d,  # per-part statistics: several devices in one process
    "FrozenBN": FrozenBatchNorm2d,
    "GN": _group_norm,
    "IN": nn.InstanceNorm2d,
    "LN": nn.LayerNorm,
    "LN2d": LayerNorm2d,
}
"""Norm types a ``norm_cfg`` may name, mapped to a constructor taking ``num_features``."""

ACTIVATION_LAYERS = {
    "ReLU": nn.ReLU,
    "ReLU6": nn.ReLU6,
    "LeakyReLU": nn.LeakyReLU,
    "GELU": nn.GELU,
    "SiLU": nn.SiLU,
    "Swish": nn.SiLU,
    "HSwish": nn.Hardswish,
    "HSigmoid": nn.Hardsigmoid,
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
}
"""Activation types an ``act_cfg`` may name."""

BATCH_NORMS = (nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d)
"""Layer classes that ``norm_eval`` switches to eval mode."""


def _split_type(cfg: dict, table: dict, what: str) -> tuple[object, dict]:
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(
            f"{what} must be a dict with a 'type' key, e.g. dict(type='BN'); got {cfg!r}"
        )
    kwargs = dict(cfg)
    name = kwargs.pop("type")
    if name not in table:
        matches = close_matches(str(name), table)
        hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
        raise ConfigError(
            f"Unknown {what} type '{name}'.{hint} Choose one of: {', '.join(sorted(table))}."
        )
    return table[name], kwargs


def build_norm_layer(cfg: dict, num_features: int) -> nn.Module:
    """The norm layer that ``cfg`` names, for ``num_features`` channels.

    Example: ``build_norm_layer(dict(type='GN', num_groups=16), 64)``.
    ``requires_grad=False`` in ``cfg`` freezes the affine parameters of the layer.
    """
    layer_cls, kwargs = _split_type(cfg, NORM_LAYERS, "norm_cfg")
    requires_grad = kwargs.pop("requires_grad", True)
    layer = layer_cls(num_features, **kwargs)
    for param in layer.parameters():
        param.requires_grad_(requires_grad)
    return layer


def build_activation_layer(cfg: dict | None) -> nn.Module:
    """The activation that ``cfg`` names (``dict(type='ReLU', inplace=True)``); None gives
    an identity."""
    if cfg is None:
        return nn.Identity()
    layer_cls, kwargs = _split_type(cfg, ACTIVATION_LAYERS, "act_cfg")
    return layer_cls(**kwargs)


def set_batch_norms_eval(module: nn.Module) -> None:
    """Put every batch-norm layer inside ``module`` in eval mode (frozen running stats)."""
    for layer in module.modules():
        if isinstance(layer, BATCH_NORMS):
            layer.eval()


__all__ = [
    "ACTIVATION_LAYERS",
    "BATCH_NORMS",
    "NORM_LAYERS",
    "LayerNorm2d",
    "build_activation_layer",
    "build_norm_layer",
    "set_batch_norms_eval",
]
