"""HeatmapHead: features -> one heatmap per keypoint (SimpleBaseline, HRNet)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from labcore.errors import ConfigError
from labcore.models.layers import build_norm_layer
from labpose.models.heads.base import PoseHead
from labpose.registry import MODELS


@MODELS.register_module()
class HeatmapHead(PoseHead):
    """Deconvolutions (optional) then a 1x1 conv to one heatmap per keypoint.

    SimpleBaseline (Xiao et al. 2018) uses three 4x4 stride-2 deconvolutions of 256
    channels on the last ResNet stage (stride 32 -> 4); HRNet uses none
    (``deconv_out_channels=()``) on its stride-4 output.

    Args:
        in_channels: channels of the last feature map.
        out_channels: number of keypoints K.
        deconv_out_channels, deconv_kernel_sizes: one entry per deconvolution (kernel
            4, 3 or 2); each is followed by a norm and a ReLU.
        final_kernel_size: of the last conv.
        norm_cfg: norm after each deconvolution.
        loss: e.g. ``dict(type='KeypointMSELoss', use_target_weight=True)``.
        decoder: the codec, e.g. ``dict(type='MSRAHeatmap', ...)``.

    Input: a tuple of feature maps, the last Tensor[B, in_channels, h, w]; output
    Tensor[B, K, h * 2**D, w * 2**D] for D deconvolutions.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        deconv_out_channels: Sequence[int] = (256, 256, 256),
        deconv_kernel_sizes: Sequence[int] = (4, 4, 4),
        final_kernel_size: int = 1,
        norm_cfg: dict | None = None,
        loss,
        decoder,
        init_cfg=None,
    ):
        super().__init__(loss=loss, decoder=decoder, init_cfg=init_cfg)
        norm_cfg = dict(type="BN") if norm_cfg is None else dict(norm_cfg)
        layers: list[nn.Module] = []
        for channels, kernel in zip(deconv_out_channels, deconv_kernel_sizes, strict=True):
            padding, output_padding = {4: (1, 0), 3: (1, 1), 2: (0, 0)}[kernel]
            layers += [
                nn.ConvTranspose2d(
                    in_channels, channels, kernel, stride=2, padding=padding,
                    output_padding=output_padding, bias=False,
                ),
                build_norm_layer(norm_cfg, channels),
                nn.ReLU(inplace=True),
            ]  # fmt: skip
            in_channels = channels
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(
            in_channels, out_channels, final_kernel_size, padding=final_kernel_size // 2
        )
        # SimpleBaseline's initialisation: small normal weights, zero biases.
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.normal_(module.weight, std=0.001)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        return self.final_layer(self.deconv_layers(feats[-1]))

    def loss(self, feats: Sequence[Tensor], samples) -> dict[str, Tensor]:
        heatmaps = self(feats)
        targets = self.targets(samples, heatmaps.device)
        if targets["heatmaps"].shape != heatmaps.shape:
            raise ConfigError(
                f"HeatmapHead outputs heatmaps of {tuple(heatmaps.shape[-2:])} (h, w) but its "
                f"codec makes targets of {tuple(targets['heatmaps'].shape[-2:])}: make the "
                f"codec's heatmap_size (w, h) match the head (input / backbone stride * "
                f"2**deconvolutions)."
            )
        loss = self.loss_module(heatmaps, targets["heatmaps"], targets["keypoint_weights"])
        return dict(loss_kpt=loss)

    @staticmethod
    def flip(heatmaps: Tensor, flip_indices: Sequence[int], shift_heatmap: bool) -> Tensor:
        """Heatmaps of a horizontally flipped input, mirrored back: flipped along W, the
        keypoint channels swapped by ``flip_indices`` and, with ``shift_heatmap``, moved
        one pixel right (the flip of a non-UDP crop is off by about that much)."""
        heatmaps = heatmaps.flip(-1)[:, list(flip_indices)]
        if shift_heatmap:
            heatmaps[..., 1:] = heatmaps[..., :-1].clone()
        return heatmaps

    def decode_one(self, heatmaps):
        return self.decoder.decode(heatmaps)
