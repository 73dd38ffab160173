"""Colour augmentation of detection images: YOLOX's random HSV shift (RTMDet's recipe).

It acts on ``results['img']`` (ndarray[H, W, 3] uint8 RGB) of labdet.datasets.transforms,
leaves boxes and masks untouched and draws from torch's RNG, as DetRandomFlip does.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from labdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class YOLOXHSVRandomAug:
    """Shift hue, saturation and value by random gains (MMDetection's YOLOXHSVRandomAug).

    Args:
        hue_delta: the hue gain is drawn from [-hue_delta, hue_delta] (OpenCV's hue units,
            0..180 for a full turn).
        saturation_delta: the saturation gain is drawn from [-saturation_delta,
            saturation_delta] (0..255 scale).
        value_delta: the value gain is drawn likewise (0..255 scale).

    Each of the three gains is kept with probability 0.5 (else 0) and truncated to an int.
    The hue wraps around, saturation and value are clipped to 0..255.

    Reads and writes ``img`` ndarray[H, W, 3] uint8 RGB (same size); boxes are untouched.
    MMDetection converts its BGR images with BGR2HSV; the RGB image here goes through
    RGB2HSV, the same colour operation.
    """

    def __init__(self, *, hue_delta: int = 5, saturation_delta: int = 30, value_delta: int = 30):
        self.hue_delta = hue_delta
        self.saturation_delta = saturation_delta
        self.value_delta = value_delta

    def gains(self) -> np.ndarray:
        """Random (hue, saturation, value) gains: ndarray[3] int16."""
        deltas = torch.tensor(
            [self.hue_delta, self.saturation_delta, self.value_delta], dtype=torch.float64
        )
        gains = (torch.rand(3, dtype=torch.float64) * 2 - 1) * deltas
        gains = gains * torch.randint(0, 2, (3,))
        return gains.numpy().astype(np.int16)

    @staticmethod
    def apply(img: np.ndarray, gains) -> np.ndarray:
        """``img`` (uint8 RGB) with the (hue, saturation, value) ``gains`` added."""
        gains = np.asarray(gains, dtype=np.int16)
        hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] + gains[1], 0, 255)
        hsv[..., 2] = np.clip(hsv[..., 2] + gains[2], 0, 255)
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)

    def __call__(self, results: dict) -> dict:
        results["img"] = self.apply(results["img"], self.gains())
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(hue_delta={self.hue_delta}, "
            f"saturation_delta={self.saturation_delta}, value_delta={self.value_delta})"
        )
