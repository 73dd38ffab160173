"""ResNet (He et al., 2016) and its deep-stem variants ResNetV1c and ResNetV1d.

Module names follow torchvision's ResNet (``conv1``, ``bn1``, ``layer1`` .. ``layer4``,
``downsample.0/1``), so a torchvision or OpenMMLab ResNet state dict loads directly once
its classifier (``fc``) is split off (see :mod:`labcore.models.convert`). The stride of
a bottleneck sits on its 3x3 conv (ResNet v1.5, as in torchvision).
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


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet-18/34).

    Input Tensor[B, in_channels, H, W]; output Tensor[B, planes, H / stride, W / stride].
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        planes: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        norm_cfg: dict,
    ):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ConfigError(
                "BasicBlock (ResNet-18/34) supports only groups=1 and width_per_group=64; "
                "use depth >= 50 for ResNeXt-style grouped convolutions."
            )
        self.conv1 = nn.Conv2d(
            in_channels, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False
        )
        self.bn1 = build_norm_layer(norm_cfg, planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, optionally grouped), 1x1 expand, with a residual.

    The inner width is ``int(planes * base_width / 64) * groups`` (ResNeXt's rule).
    Input Tensor[B, in_channels, H, W]; output Tensor[B, 4 * planes, H / stride, W / stride].
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        norm_cfg: dict,
    ):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, width)
        self.conv2 = nn.Conv2d(
            width,
            width,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            groups=groups,
            bias=False,
        )
        self.bn2 = build_norm_layer(norm_cfg, width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


ARCH_SETTINGS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
"""Block type and number of blocks per stage, by depth."""


@MODELS.register_module()
class ResNet(BaseModule):
    """ResNet backbone returning the feature maps of the stages in ``out_indices``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        in_channels: channels of the input image.
        stem_channels: output channels of the stem.
        base_channels: planes of the first stage (doubled at every stage).
        strides, dilations: per stage (4 values each); a dilation > 1 with stride 1 keeps
            the resolution (dilated ResNet for segmentation): ``strides=(1, 2, 1, 1)``,
            ``dilations=(1, 1, 2, 4)`` gives output stride 8, ``strides=(1, 2, 2, 1)``,
            ``dilations=(1, 1, 1, 2)`` output stride 16.
        contract_dilation: the first block of a dilated stage uses half its dilation (the
            rest the full one), as torchvision's ``replace_stride_with_dilation`` and
            MMSegmentation's ``contract_dilation=True`` do.
        out_indices: stages (0..3) whose outputs are returned, in increasing order.
        deep_stem: three 3x3 convs instead of the 7x7 stem (ResNetV1c).
        avg_down: downsample shortcuts by 2x2 average pooling then a 1x1 conv (ResNetV1d).
        groups, width_per_group: grouped 3x3 convs of the bottleneck (ResNeXt);
            ``width_per_group=128`` alone gives Wide ResNet-50-2 / 101-2.
        frozen_stages: -1 trains everything; 0 freezes the stem; k >= 1 freezes the stem
            and stages 1..k (their parameters stop requiring gradients and their norm
            layers stay in eval mode).
        norm_cfg: norm of every conv, e.g. ``dict(type='BN')`` (default),
            ``dict(type='FrozenBN')``, ``dict(type='SyncBN')``, ``dict(type='GN', num_groups=32)``.
        norm_eval: keep every batch-norm layer in eval mode while training (running
            statistics frozen), as detection fine-tuning does.
        zero_init_residual: start the last norm of each residual block at zero, so each
            block starts as an identity.
        with_cp: recompute each block's activations in backward (activation
            checkpointing) to save memory.
        init_cfg: MMEngine initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint='r50.safetensors', prefix='backbone.')``.

    Shapes: input Tensor[B, in_channels, H, W]; output i is
    Tensor[B, base_channels * 2**i * expansion, H / 2**(i + 2), W / 2**(i + 2)]
    (without dilation), where expansion is 1 for depth 18/34 and 4 otherwise.
    ``out_channels`` lists the channels of the returned maps.
    """

    def __init__(
        self,
        *,
        depth: int,
        in_channels: int = 3,
        stem_channels: int = 64,
        base_channels: int = 64,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        out_indices: Sequence[int] = (3,),
        contract_dilation: bool = False,
        deep_stem: bool = False,
        avg_down: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        frozen_stages: int = -1,
        norm_cfg: dict | None = None,
        norm_eval: bool = False,
        zero_init_residual: bool = False,
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if depth not in ARCH_SETTINGS:
            raise ConfigError(
                f"ResNet depth {depth} is not supported; choose one of {sorted(ARCH_SETTINGS)}."
            )
        if len(strides) != 4 or len(dilations) != 4:
            raise ConfigError(
                f"ResNet needs 4 strides and 4 dilations, got strides={tuple(strides)} "
                f"and dilations={tuple(dilations)}."
            )
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(4) for i in out_indices):
            raise ConfigError(f"ResNet out_indices must be stages in 0..3, got {out_indices}.")
        if frozen_stages not in range(-1, 5):
            raise ConfigError(f"ResNet frozen_stages must be in -1..4, got {frozen_stages}.")
        self.depth = depth
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deep_stem = deep_stem
        self.with_cp = with_cp
        norm_cfg = dict(type="BN") if norm_cfg is None else dict(norm_cfg)
        block, stage_blocks = ARCH_SETTINGS[depth]

        if deep_stem:
            relu = dict(type="ReLU", inplace=True)
            self.stem = nn.Sequential(
                ConvNormAct(in_channels, stem_channels // 2, 3, stride=2, norm_cfg=norm_cfg, act_cfg=relu),
                ConvNormAct(stem_channels // 2, stem_channels // 2, 3, norm_cfg=norm_cfg, act_cfg=relu),
                ConvNormAct(stem_channels // 2, stem_channels, 3, norm_cfg=norm_cfg, act_cfg=relu),
            )  # fmt: skip
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, stride=2, padding=3, bias=False)
            self.bn1 = build_norm_layer(norm_cfg, stem_channels)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        channels = stem_channels
        self.out_channels = []
        for i, num_blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            stage = self._make_stage(
                block,
                channels,
                planes,
                num_blocks=num_blocks,
                stride=strides[i],
                dilation=dilations[i],
                contract_dilation=contract_dilation,
                avg_down=avg_down,
                groups=groups,
                base_width=width_per_group,
                norm_cfg=norm_cfg,
            )
            self.add_module(f"layer{i + 1}", stage)
            channels = planes * block.expansion
            if i in out_indices:
                self.out_channels.append(channels)
        self.out_channels = tuple(self.out_channels)

        self._init_default_weights(zero_init_residual)
        self._freeze_stages()

    @staticmethod
    def _make_stage(
        block: type[nn.Module],
        in_channels: int,
        planes: int,
        *,
        num_blocks: int,
        stride: int,
        dilation: int,
        contract_dilation: bool,
        avg_down: bool,
        groups: int,
        base_width: int,
        norm_cfg: dict,
    ) -> nn.Sequential:
        out_channels = planes * block.expansion
        downsample = None
        if stride != 1 or in_channels != out_channels:
            layers: list[nn.Module] = []
            conv_stride = stride
            if avg_down and stride != 1:
                conv_stride = 1
                layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
            layers.append(nn.Conv2d(in_channels, out_channels, 1, stride=conv_stride, bias=False))
            layers.append(build_norm_layer(norm_cfg, out_channels))
            downsample = nn.Sequential(*layers)
        common = dict(groups=groups, base_width=base_width, norm_cfg=norm_cfg)
        first_dilation = dilation // 2 if contract_dilation and dilation > 1 else dilation
        blocks = [
            block(
                in_channels,
                planes,
                stride=stride,
                dilation=first_dilation,
                downsample=downsample,
                **common,
            )
        ]
        blocks += [
            block(out_channels, planes, dilation=dilation, **common) for _ in range(1, num_blocks)
        ]
        return nn.Sequential(*blocks)

    def _init_default_weights(self, zero_init_residual: bool) -> None:
        """torchvision's initialisation: He-normal convs (fan_out), unit-scale norms."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm | nn.SyncBatchNorm):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def stem_modules(self) -> list[nn.Module]:
        """The modules before ``layer1`` that carry weights."""
        return [self.stem] if self.deep_stem else [self.conv1, self.bn1]

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = self.stem_modules()
        frozen += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)

    def train(self, mode: bool = True) -> ResNet:
        """Switch to ``mode``, keeping frozen stages (and all BN with ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_batch_norms_eval(self)
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """x: Tensor[B, C, H, W] -> one Tensor[B, C_i, H_i, W_i] per out_index."""
        x = self.stem(x) if self.deep_stem else self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i in range(4):
            for block in getattr(self, f"layer{i + 1}"):
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register_module()
class ResNetV1c(ResNet):
    """ResNet with the deep stem: three 3x3 convs (stride 2, 1, 1) replace the 7x7 conv.

    Same arguments as :class:`ResNet`; the stem modules are ``stem.0`` .. ``stem.2``.
    """

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=False, **kwargs)


@MODELS.register_module()
class ResNetV1d(ResNet):
    """ResNetV1c whose strided shortcuts average-pool before their 1x1 conv (``avg_down``).

    Same arguments as :class:`ResNet`.
    """

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=True, **kwargs)
