"""Box branch of two-stage detectors: RoI feature head and class/box predictor."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

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
class FastRCNNPredictor(nn.Module):
    """Class logits and class-specific box deltas for each RoI.

    Index 0 is background; object class ``k`` (0-based) is index ``k + 1``.
    Input Tensor[R, in_channels]; output (Tensor[R, K + 1], Tensor[R, 4 (K + 1)]).
    """

    def __init__(self, *, in_channels: int, num_classes: int):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes + 1)
        self.bbox_pred = nn.Linear(in_channels, (num_classes + 1) * 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.flatten(start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)
