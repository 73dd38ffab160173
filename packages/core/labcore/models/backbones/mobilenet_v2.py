"""MobileNetV2 (Sandler et al., 2018): inverted residual blocks with linear bottlenecks.

Module names follow torchvision's MobileNetV2 (``features.0`` .. ``features.18``), so its
state dict loads directly once the classifier is split off (see
:mod:`labcore.models.convert`).
"""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn

from labcore.errors import ConfigError
from labcore.models.layers import (
    ConvNormAct,
    build_norm_layer,
    maybe_checkpoint,
    set_batch_norms_eval,
)
from labcore.registry import MODELS

# expand ratio t, output channels c, number of blocks n, stride of the first block s
ARCH_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip
DEFAULT_STRIDES = (2, *(s for *_, s in ARCH_SETTING))


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``value`` rounded to the nearest multiple of ``divisor``, never below 90 % of it."""
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when ``expand_ratio`` is 1), 3x3 depthwise, 1x1 linear project.

    A residual connection is added when the stride is 1 and the channels are unchanged.
    Input Tensor[B, in_channels, H, W]; output Tensor[B, out_channels, H / stride, W / stride].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int,
        expand_ratio: int,
        norm_cfg: dict,
        act_cfg: dict,
    ):
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvNormAct(in_channels, hidden, 1, norm_cfg=norm_cfg, act_cfg=act_cfg))
        layers += [
            ConvNormAct(
                hidden, hidden, 3, stride=stride, groups=hidden, norm_cfg=norm_cfg, act_cfg=act_cfg
            ),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            build_norm_layer(norm_cfg, out_channels),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


@MODELS.register_module()
class MobileNetV2(BaseModule):
    """MobileNetV2 backbone returning the feature maps of the stages in ``out_indices``.

    Stages: 0..6 are the seven groups of inverted residual blocks (strides 1, 2, 2, 2, 1,
    2, 1 after the stride-2 stem), 7 is the final 1x1 conv (1280 channels at width 1).

    Args:
        widen_factor: channel multiplier (torchvision's ``width_mult``).
        strides: strides of the stem and of stages 0..6 (default the paper's); small
            images keep larger maps with fewer stride-2 steps, e.g. ``(1, 1, 2, 2, 2, 1,
            1)`` for 32x32 inputs. Strides do not change the weights.
        out_indices: stages (0..7) whose outputs are returned, in increasing order.
        frozen_stages: -1 trains everything; 0 freezes the stem; k >= 1 freezes the stem
            and stages 0..k-1.
        norm_cfg: norm of every conv (default ``dict(type='BN')``).
        act_cfg: activation (default ``dict(type='ReLU6', inplace=True)``).
        norm_eval: keep every batch-norm layer in eval mode while training.
        with_cp: recompute the blocks' activations in backward (activation checkpointing).
        init_cfg: MMEngine initialisation config.

    Shapes: input Tensor[B, 3, H, W]; stage i gives Tensor[B, C_i, H / s_i, W / s_i] with
    s = (2, 4, 8, 16, 16, 32, 32, 32) with the default strides; ``out_channels`` lists
    the returned C_i.
    """

    def __init__(
        self,
        *,
        widen_factor: float = 1.0,
        strides: Sequence[int] = DEFAULT_STRIDES,
        in_channels: int = 3,
        out_indices: Sequence[int] = (7,),
        frozen_stages: int = -1,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(8) for i in out_indices):
            raise ConfigError(f"MobileNetV2 out_indices must be stages in 0..7, got {out_indices}.")
        if frozen_stages not in range(-1, 9):
            raise ConfigError(f"MobileNetV2 frozen_stages must be in -1..8, got {frozen_stages}.")
        strides = tuple(strides)
        if len(strides) != 1 + len(ARCH_SETTING) or any(x not in (1, 2) for x in strides):
            raise ConfigError(
                f"MobileNetV2 strides must be 8 values of 1 or 2 (the stem, then stages 0..6), "
                f"got {strides}; the default is {DEFAULT_STRIDES}."
            )
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        norm_cfg = dict(type="BN") if norm_cfg is None else dict(norm_cfg)
        act_cfg = dict(type="ReLU6", inplace=True) if act_cfg is None else dict(act_cfg)

        channels = make_divisible(32 * widen_factor)
        features: list[nn.Module] = [
            ConvNormAct(
                in_channels, channels, 3, stride=strides[0], norm_cfg=norm_cfg, act_cfg=act_cfg
            )
        ]
        self.stage_ends = []  # index in `features` of the last module of each stage
        stage_channels = []
        for (t, c, n, _), s in zip(ARCH_SETTING, strides[1:], strict=True):
            out = make_divisible(c * widen_factor)
            for i in range(n):
                features.append(
                    InvertedResidual(
                        channels,
                        out,
                        stride=s if i == 0 else 1,
                        expand_ratio=t,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                    )
                )
                channels = out
            self.stage_ends.append(len(features) - 1)
            stage_channels.append(out)
        last_channels = make_divisible(1280 * max(1.0, widen_factor))
        features.append(ConvNormAct(channels, last_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg))
        self.stage_ends.append(len(features) - 1)
        stage_channels.append(last_channels)
        self.features = nn.Sequential(*features)
        self.out_channels = tuple(stage_channels[i] for i in out_indices)

        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        last = 0 if self.frozen_stages == 0 else self.stage_ends[self.frozen_stages - 1]
        for module in self.features[: last + 1]:
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)

    def train(self, mode: bool = True) -> MobileNetV2:
        """Switch to ``mode``, keeping frozen stages (and all BN with ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_batch_norms_eval(self)
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """x: Tensor[B, 3, H, W] -> one Tensor[B, C_i, H_i, W_i] per out_index."""
        outs = []
        stage = 0
        for index, module in enumerate(self.features):
            x = maybe_checkpoint(module, x, enabled=self.with_cp)
            if index == self.stage_ends[stage]:
                if stage in self.out_indices:
                    outs.append(x)
                if stage == max(self.out_indices):
                    break
                stage += 1
        return tuple(outs)
