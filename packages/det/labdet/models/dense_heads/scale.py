"""A learnable scalar per feature level, multiplying that level's box regression."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Scale(nn.Module):
    """``x * scale`` with one learnable ``scale`` (starting at ``init``): lets heads whose
    weights are shared across levels regress at each level's own magnitude (FCOS, ATSS,
    GFL). Input and output of any shape."""

    def __init__(self, init: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale
