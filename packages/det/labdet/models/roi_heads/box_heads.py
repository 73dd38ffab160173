"""Box branch of two-stage detectors: RoI feature head and class/box predictor."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from labcore.models.layers import ConvNormAct
from labdet.registry import MODELS


@MODELS.register_module()
class TwoMLPHead(nn.Module):
    """Flatten RoI features and apply two fully connected layers with ReLU (``fc6``, ``fc7``).

    Input Tensor[R, C, S, S] with ``in_channels = C * S * S``; output Tensor[R, representation_size].
    """

    def __init__(self, *, in_channels: int, representation_size: int):
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(start_dim=1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


@MODELS.register_module()
class ConvFCBoxHead(nn.Sequential):
    """3x3 convs (each conv + norm + ReLU), flatten, then fully connected layers with ReLU.

    Laid out as torchvision's ``FastRCNNConvFCHead`` (the box head of its v2 Faster
    R-CNN: four 256-channel convs with BatchNorm and one 1024-wide FC), index for index:
    ``i`` < len(conv_channels) is a ConvNormAct (conv without bias when normed), then a
    Flatten, then Linear / ReLU pairs. Convs start kaiming-normal (fan_out), Linear layers
    keep PyTorch's default.

    Args:
        in_channels: channels C of the RoI features.
        roi_size: their spatial size S.
        conv_channels: output channels of each conv.
        fc_channels: output width of each fully connected layer.
        norm_cfg: the convs' norm (``dict(type='BN')``), None for a plain conv with bias.

    Input Tensor[R, C, S, S]; output Tensor[R, fc_channels[-1]].
    """

    def __init__(
        self,
        *,
        in_channels: int,
        roi_size: int = 7,
        conv_channels: Sequence[int] = (256, 256, 256, 256),
        fc_channels: Sequence[int] = (1024,),
        norm_cfg: dict | None = None,
    ):
        layers: list[nn.Module] = []
        channels = in_channels
        for width in conv_channels:
            layers.append(
                ConvNormAct(channels, width, 3, norm_cfg=norm_cfg, act_cfg=dict(type="ReLU"))
            )
            channels = width
        layers.append(nn.Flatten())
        features = channels * roi_size * roi_size
        for width in fc_channels:
            layers += [nn.Linear(features, width), nn.ReLU(inplace=True)]
            features = width
        super().__init__(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


@MODELS.register_module()
class FastRCNNPredictor(nn.Module):
    """Class logits and class-specific box deltas for each RoI.

    Index 0 is background; object class ``k`` (0-based) is index ``k + 1``. With
    ``class_agnostic`` one box is regressed for all classes (Cascade R-CNN's stages).
    ``box_dim`` deltas describe one box (4; 5 for labrot's rotated boxes).
    Input Tensor[R, in_channels]; output (Tensor[R, K + 1], Tensor[R, box_dim (K + 1)]),
    or (Tensor[R, K + 1], Tensor[R, box_dim]) when class-agnostic.
    """

    def __init__(
        self, *, in_channels: int, num_classes: int, class_agnostic: bool = False, box_dim: int = 4
    ):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes + 1)
        num_boxes = 1 if class_agnostic else num_classes + 1
        self.bbox_pred = nn.Linear(in_channels, num_boxes * box_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.flatten(start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)
