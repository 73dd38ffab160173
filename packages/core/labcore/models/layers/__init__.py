"""Building blocks shared by OpenLab's models: conv-norm-act, norm and activation
builders, stochastic depth."""

from labcore.models.layers.checkpoint import maybe_checkpoint
from labcore.models.layers.conv import ConvNormAct
from labcore.models.layers.drop_path import DropPath, drop_path, drop_path_rates
from labcore.models.layers.norm import (
    ACTIVATION_LAYERS,
    BATCH_NORMS,
    NORM_LAYERS,
    LayerNorm2d,
    build_activation_layer,
    build_norm_layer,
    set_batch_norms_eval,
)
from labcore.models.layers.sync_bn import SyncBatchNorm

__all__ = [
    "ACTIVATION_LAYERS",
    "BATCH_NORMS",
    "NORM_LAYERS",
    "ConvNormAct",
    "DropPath",
    "LayerNorm2d",
    "SyncBatchNorm",
    "build_activation_layer",
    "build_norm_layer",
    "drop_path",
    "drop_path_rates",
    "maybe_checkpoint",
    "set_batch_norms_eval",
]
