"""Anchor boxes laid on a grid over every feature level."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from labdet.registry import TASK_UTILS


@TASK_UTILS.register_module()
class AnchorGenerator:
    """Anchors of several sizes and aspect ratios at every location of every level.

    Level ``i`` has ``len(sizes[i]) * len(aspect_ratios[i])`` anchors per location, centred
    on ``(x * stride, y * stride)`` for each feature-map cell ``(x, y)``. An anchor of size
    ``s`` and ratio ``r = h / w`` has ``w = s / sqrt(r)``, ``h = s * sqrt(r)``; corners are
    rounded to integers. Anchors are listed level by level, then location (row-major),
    then ratio-major over (ratio, size): the order of torchvision's AnchorGenerator.

    Args:
        sizes: per level, the anchor sizes in pixels, e.g. ``((32,), (64,), ...)``.
        aspect_ratios: per level, the height / width ratios.
        strides: per level, the stride of the feature map in pixels.
    """

    def __init__(
        self,
        *,
        sizes: Sequence[Sequence[float]],
        aspect_ratios: Sequence[Sequence[float]],
        strides: Sequence[int],
    ):
        if not len(sizes) == len(aspect_ratios) == len(strides):
            raise ValueError(
                f"AnchorGenerator needs one entry per level in sizes ({len(sizes)}), "
                f"aspect_ratios ({len(aspect_ratios)}) and strides ({len(strides)})"
            )
        self.strides = [int(s) for s in strides]
        self.base_anchors = [
            self._base_anchors(level_sizes, level_ratios)
            for level_sizes, level_ratios in zip(sizes, aspect_ratios)
        ]

    @property
    def num_anchors_per_location(self) -> list[int]:
        return [len(b) for b in self.base_anchors]

    @staticmethod
    def _base_anchors(sizes: Sequence[float], aspect_ratios: Sequence[float]) -> Tensor:
        """Tensor[A, 4]: the anchors of one location centred on (0, 0)."""
        scales = torch.as_tensor(sizes, dtype=torch.float32)
        ratios = torch.as_tensor(aspect_ratios, dtype=torch.float32)
        h_ratios = torch.sqrt(ratios)
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).view(-1)
        hs = (h_ratios[:, None] * scales[None, :]).view(-1)
        return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()

    def grid_anchors(
        self, feature_sizes: Sequence[tuple[int, int]], device: torch.device | str = "cpu"
    ) -> list[Tensor]:
        """Anchors of each level: a list of Tensor[H_i * W_i * A_i, 4] (x1, y1, x2, y2).

        ``feature_sizes`` holds (H_i, W_i) of each level's feature map.
        """
        if len(feature_sizes) != len(self.strides):
            raise ValueError(
                f"AnchorGenerator was configured for {len(self.strides)} levels but the "
                f"neck gives {len(feature_sizes)}; make `strides`, `sizes` and "
                f"`aspect_ratios` list one entry per feature level"
            )
        anchors = []
        for (height, width), stride, base in zip(feature_sizes, self.strides, self.base_anchors):
            shifts_x = torch.arange(0, width, dtype=torch.int32, device=device) * stride
            shifts_y = torch.arange(0, height, dtype=torch.int32, device=device) * stride
            shift_y, shift_x = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
            shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
            shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            base = base.to(device)
            anchors.append((shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4))
        return anchors
