"""HRNet (Sun et al., 2019): parallel high-to-low resolution branches, fused repeatedly.

Module names follow the official and OpenMMLab HRNets (``conv1``, ``bn1``, ``conv2``,
``bn2``, ``layer1``, ``transition1..3``, ``stage2..4`` with ``branches`` and
``fuse_layers``), so their state dicts load directly.

The widths W18, W32 and W48 name the channels of the highest-resolution branch; branch
``i`` has ``width * 2**i`` channels at stride ``4 * 2**i``.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn

from labcore.errors import ConfigError
from labcore.models.backbones.resnet import BasicBlock, Bottleneck
from labcore.models.layers import build_norm_layer, set_batch_norms_eval
from labcore.registry import MODELS


def _conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int, norm_cfg: dict):
    return [
        nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False),
        build_norm_layer(norm_cfg, out_channels),
    ]


def _blocks(
    block: type[nn.Module], in_channels: int, planes: int, num_blocks: int, norm_cfg: dict
) -> nn.Sequential:
    """``num_blocks`` residual blocks of ``planes``; the first projects ``in_channels``."""
    out_channels = planes * block.expansion
    downsample = None
    if in_channels != out_channels:
        downsample = nn.Sequential(*_conv_bn(in_channels, out_channels, 1, 1, norm_cfg))
    layers = [block(in_channels, planes, downsample=downsample, norm_cfg=norm_cfg)]
    layers += [block(out_channels, planes, norm_cfg=norm_cfg) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """One exchange unit: residual blocks on every branch, then each output branch sums
    every input branch, upsampled (1x1 conv, nearest) or downsampled (strided 3x3 convs).

    Input and output: a list of Tensor[B, channels[i], H / 2**i, W / 2**i]; with
    ``multiscale_output=False`` only the highest-resolution output is computed.
    """

    def __init__(
        self,
        channels: Sequence[int],
        num_blocks: int,
        *,
        multiscale_output: bool,
        norm_cfg: dict,
    ):
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(
            _blocks(BasicBlock, c, c, num_blocks, norm_cfg) for c in channels
        )
        num_outputs = self.num_branches if multiscale_output else 1
        self.fuse_layers = nn.ModuleList()
        if self.num_branches > 1:
            for i in range(num_outputs):
                layers = nn.ModuleList()
                for j in range(self.num_branches):
                    if j > i:
                        layers.append(
                            nn.Sequential(
                                *_conv_bn(channels[j], channels[i], 1, 1, norm_cfg),
                                nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                            )
                        )
                    elif j == i:
                        layers.append(None)
                    else:
                        steps = []
                        for k in range(i - j):
                            last = k == i - j - 1
                            out = channels[i] if last else channels[j]
                            steps.append(nn.Sequential(
                                *_conv_bn(channels[j], out, 3, 2, norm_cfg),
                                *([] if last else [nn.ReLU(inplace=False)]),
                            ))  # fmt: skip
                        layers.append(nn.Sequential(*steps))
                self.fuse_layers.append(layers)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: list[Tensor]) -> list[Tensor]:
        x = [branch(t) for branch, t in zip(self.branches, x)]
        if self.num_branches == 1:
            return x
        fused = []
        for i, layers in enumerate(self.fuse_layers):
            y = x[i]
            for j, layer in enumerate(layers):
                if j != i:
                    y = y + layer(x[j])
            fused.append(self.relu(y))
        return fused


@MODELS.register_module()
class HRNet(BaseModule):
    """HRNet backbone: a stride-4 stem, one Bottleneck stage, then stages of 2, 3 and 4
    parallel branches built from HRModules of BasicBlocks.

    Args:
        width: channels of the highest-resolution branch: 18, 32 or 48 (HRNet-W18/W32/W48).
        in_channels: channels of the input image.
        num_modules: HRModules in stages 1..4 (the paper's (1, 1, 4, 3)).
        num_blocks: residual blocks per branch in each module (4 in the paper).
        multiscale_output: return every branch of the last stage (segmentation,
            detection) instead of only the highest-resolution one (pose, as the paper).
        norm_cfg: norm of every conv (default BN).
        norm_eval: keep batch norms in eval mode while training.
        init_cfg: MMEngine initialisation config.

    Shapes: input Tensor[B, in_channels, H, W]; output a tuple of
    Tensor[B, width * 2**i, H / 2**(i + 2), W / 2**(i + 2)] for i in 0..3, or only i = 0
    without ``multiscale_output``. ``out_channels`` lists their channels.

    HRNet-W32 with a 1x1 conv to 17 heatmaps has 28.5M parameters and 7.1 GFLOPs at
    256x192, HRNet-W48 63.6M and 14.6 GFLOPs, as in the paper's COCO table.
    """

    def __init__(
        self,
        *,
        width: int = 32,
        in_channels: int = 3,
        num_modules: Sequence[int] = (1, 1, 4, 3),
        num_blocks: int = 4,
        multiscale_output: bool = False,
        norm_cfg: dict | None = None,
        norm_eval: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if width <= 0 or len(num_modules) != 4 or num_modules[0] != 1:
            raise ConfigError(
                f"HRNet needs a positive width and num_modules of 4 stages starting with 1 "
                f"(the Bottleneck stage); got width={width}, num_modules={tuple(num_modules)}."
            )
        norm_cfg = dict(type="BN") if norm_cfg is None else dict(norm_cfg)
        self.norm_eval = norm_eval
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, 64)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, 64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _blocks(Bottleneck, 64, 64, num_blocks, norm_cfg)

        previous = [64 * Bottleneck.expansion]
        for stage in (2, 3, 4):
            channels = [width * 2**i for i in range(stage)]
            self.add_module(
                f"transition{stage - 1}", self._transition(previous, channels, norm_cfg)
            )
            modules = []
            for m in range(num_modules[stage - 1]):
                last = stage == 4 and m == num_modules[3] - 1
                modules.append(
                    HRModule(
                        channels, num_blocks,
                        multiscale_output=multiscale_output or not last, norm_cfg=norm_cfg,
                    )
                )  # fmt: skip
            self.add_module(f"stage{stage}", nn.Sequential(*modules))
            previous = channels
        self.out_channels = tuple(previous if multiscale_output else previous[:1])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm | nn.SyncBatchNorm):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    @staticmethod
    def _transition(previous: list[int], channels: list[int], norm_cfg: dict) -> nn.ModuleList:
        """Keep the existing branches (a 3x3 conv where the width changes) and make each
        new branch from the lowest-resolution one by strided 3x3 convs."""
        layers = nn.ModuleList()
        for i, out in enumerate(channels):
            if i < len(previous):
                if out == previous[i]:
                    layers.append(None)
                else:
                    layers.append(
                        nn.Sequential(*_conv_bn(previous[i], out, 3, 1, norm_cfg), nn.ReLU(True))
                    )
                continue
            steps = []
            for j in range(i + 1 - len(previous)):
                source = previous[-1]
                target = out if j == i - len(previous) else source
                steps.append(
                    nn.Sequential(*_conv_bn(source, target, 3, 2, norm_cfg), nn.ReLU(True))
                )
            layers.append(nn.Sequential(*steps))
        return layers

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        branches = [self.layer1(x)]
        for stage in (2, 3, 4):
            transition = getattr(self, f"transition{stage - 1}")
            inputs = []
            for i, layer in enumerate(transition):
                if layer is None:
                    inputs.append(branches[i])
                else:
                    inputs.append(layer(branches[min(i, len(branches) - 1)]))
            branches = inputs
            for module in getattr(self, f"stage{stage}"):
                branches = module(branches)
        return tuple(branches)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            set_batch_norms_eval(self)
        return self
