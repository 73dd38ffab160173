"""SimCCHead: features -> per-axis classification vectors of each keypoint."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labpose.models.heads.base import PoseHead
from labpose.registry import MODELS


@MODELS.register_module()
class SimCCHead(PoseHead):
    """SimCC's head (Li et al. 2022), the 1-D classification RTMPose builds on.

    A 1x1 conv gives each keypoint a feature map; it is flattened and a shared linear
    layer per axis classifies the keypoint's x and y into ``input_size * split_ratio``
    bins.

    Args:
        in_channels: channels of the last feature map.
        out_channels: number of keypoints K.
        in_featuremap_size: (w, h) of that map (input / 32 for ResNet, / 4 for HRNet).
        input_size: (width, height) of the model input.
        simcc_split_ratio: bins per input pixel; equal to the codec's.
        hidden_dims: widths of the shared layers before the classifiers (RTMPose uses
            one of 256 after its own token mixing); () feeds the flattened map directly.
        loss: e.g. ``dict(type='KLDiscretLoss', beta=10.0, label_softmax=True)``.
        decoder: ``dict(type='SimCCLabel', ...)``.

    Output: (Tensor[B, K, Wx], Tensor[B, K, Wy]).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        in_featuremap_size: Sequence[int],
        input_size: Sequence[int],
        simcc_split_ratio: float = 2.0,
        hidden_dims: Sequence[int] = (),
        loss,
        decoder,
        init_cfg=None,
    ):
        super().__init__(loss=loss, decoder=decoder, init_cfg=init_cfg)
        self.final_layer = nn.Conv2d(in_channels, out_channels, 1)
        features = int(in_featuremap_size[0]) * int(in_featuremap_size[1])
        layers: list[nn.Module] = []
        for width in hidden_dims:
            layers += [nn.Linear(features, width), nn.LayerNorm(width), nn.SiLU()]
            features = width
        self.mlp = nn.Sequential(*layers)
        self.cls_x = nn.Linear(features, int(round(input_size[0] * simcc_split_ratio)))
        self.cls_y = nn.Linear(features, int(round(input_size[1] * simcc_split_ratio)))

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        x = self.mlp(torch.flatten(self.final_layer(feats[-1]), 2))  # [B, K, h*w] -> [B, K, F]
        return self.cls_x(x), self.cls_y(x)

    def loss(self, feats: Sequence[Tensor], samples) -> dict[str, Tensor]:
        pred_x, pred_y = self(feats)
        targets = self.targets(samples, pred_x.device)
        labels = (targets["keypoint_x_labels"], targets["keypoint_y_labels"])
        loss = self.loss_module((pred_x, pred_y), labels, targets["keypoint_weights"])
        return dict(loss_kpt=loss)

    @staticmethod
    def flip(outputs, flip_indices: Sequence[int], shift_heatmap: bool = False):
        """Vectors of a flipped input, mirrored back: x reversed, keypoints swapped."""
        pred_x, pred_y = outputs
        indices = list(flip_indices)
        return pred_x.flip(-1)[:, indices], pred_y[:, indices]

    def decode_one(self, simcc_x, simcc_y):
        return self.decoder.decode(simcc_x[None], simcc_y[None])
