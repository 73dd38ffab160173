"""Multi-scale training augmentation: the DETR family's random choice between pipelines,
resize to one of several scales and random crop, and RTMDet's large-scale jitter.

MMDetection's Deformable DETR / DINO recipe is, after the flip, a :class:`RandomChoice` of
``[DetRandomChoiceResize(11 scales)]`` and ``[DetRandomChoiceResize(400/500/600),
DetRandomCrop(absolute_range 384..600), DetRandomChoiceResize(11 scales)]``.

RTMDet's large-scale jitter is :class:`DetRandomResize` (a scale times a random ratio,
MMDetection's RandomResize) after the mosaic, then :class:`DetRandomCrop` to the
training size.

The transforms act on the ``results`` dict of labdet.datasets.transforms (``img``
ndarray[H, W, 3], ``img_shape``, ``gt_bboxes`` ndarray[N, 4] x1 y1 x2 y2, ``gt_labels``,
``gt_ignore_flags``, ``gt_masks`` ndarray[N, H, W] when loaded) and draw from torch's RNG,
as DetRandomFlip does.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from mmengine.dataset import Compose

from labcore.errors import ConfigError
from labdet.datasets.transforms import DetResize
from labdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomChoice:
    """Run one of several pipelines, chosen at random for each sample.

    Args:
        transforms: the pipelines, each a list of transform configs (or one config).
        prob: the probability of each pipeline; uniform when None.

    A pipeline that drops the sample (a transform returning None) drops it here too.
    """

    def __init__(self, *, transforms: Sequence, prob: Sequence[float] | None = None):
        if not transforms:
            raise ConfigError("RandomChoice: transforms is empty; give at least one pipeline.")
        self.pipelines = [
            Compose(list(t) if isinstance(t, (list, tuple)) else [t]) for t in transforms
        ]
        if prob is not None and (len(prob) != len(transforms) or abs(sum(prob) - 1) > 1e-6):
            raise ConfigError(
                f"RandomChoice: prob={list(prob)} must hold one probability per pipeline "
                f"({len(transforms)}) and sum to 1."
            )
        self.prob = None if prob is None else [float(p) for p in prob]

    def __call__(self, results: dict) -> dict | None:
        if self.prob is None:
            index = int(torch.randint(len(self.pipelines), ()))
        else:
            index = int(torch.multinomial(torch.tensor(self.prob), 1))
        return self.pipelines[index](results)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pipelines={self.pipelines}, prob={self.prob})"


@TRANSFORMS.register_module()
class DetRandomChoiceResize:
    """Resize image, boxes and masks with :class:`DetResize` to one of ``scales`` (each
    (w, h), or (long, short) with ``keep_ratio``), chosen uniformly for each sample."""

    def __init__(self, *, scales: Sequence[Sequence[int]], keep_ratio: bool = True):
        if not scales:
            raise ConfigError("DetRandomChoiceResize: scales is empty; give at least one scale.")
        self.resizes = [DetResize(scale=tuple(s), keep_ratio=keep_ratio) for s in scales]
        self.keep_ratio = keep_ratio

    def __call__(self, results: dict) -> dict:
        return self.resizes[int(torch.randint(len(self.resizes), ()))](results)

    def __repr__(self) -> str:
        scales = [r.scale for r in self.resizes]
        return f"{type(self).__name__}(scales={scales}, keep_ratio={self.keep_ratio})"


@TRANSFORMS.register_module()
class DetRandomResize:
    """Resize image, boxes and masks with :class:`DetResize` to ``scale`` times a random
    ratio (MMDetection's RandomResize with one scale and a ``ratio_range``).

    Args:
        scale: (w, h) of the target before the ratio.
        ratio_range: (low, high): the ratio r is drawn uniformly from it for each sample
            and the target is ``(int(w * r), int(h * r))``; None: the target is ``scale``.
        keep_ratio: fit the image inside the target keeping its aspect ratio (long and
            short sides as :class:`DetResize`); when False, resize to the target exactly.

    Writes ``img``, ``img_shape``, ``gt_bboxes``, ``gt_masks`` and ``scale_factor`` as
    :class:`DetResize` does.
    """

    def __init__(
        self,
        *,
        scale: Sequence[int],
        ratio_range: Sequence[float] | None = None,
        keep_ratio: bool = True,
    ):
        if len(scale) != 2 or not all(isinstance(v, numbers.Real) and v > 0 for v in scale):
            raise ConfigError(
                f"DetRandomResize: scale={list(scale)} must be one (w, h) scale of two "
                f"positive sizes, e.g. scale=(1280, 1280); for a choice between scales use "
                f"DetRandomChoiceResize."
            )
        if ratio_range is not None:
            low, high = (float(v) for v in ratio_range)
            if not 0 < low <= high:
                raise ConfigError(
                    f"DetRandomResize: ratio_range={list(ratio_range)} must be (low, high) "
                    f"with 0 < low <= high, e.g. ratio_range=(0.1, 2.0); or None."
                )
            ratio_range = (low, high)
        self.scale = (int(scale[0]), int(scale[1]))
        self.ratio_range = ratio_range
        self.keep_ratio = keep_ratio

    def target_scale(self) -> tuple[int, int]:
        """A (w, h) target drawn for one sample."""
        if self.ratio_range is None:
            return self.scale
        low, high = self.ratio_range
        ratio = low + (high - low) * float(torch.rand((), dtype=torch.float64))
        return int(self.scale[0] * ratio), int(self.scale[1] * ratio)

    def __call__(self, results: dict) -> dict:
        return DetResize(scale=self.target_scale(), keep_ratio=self.keep_ratio)(results)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(scale={self.scale}, ratio_range={self.ratio_range}, "
            f"keep_ratio={self.keep_ratio})"
        )


@TRANSFORMS.register_module()
class DetRandomCrop:
    """Crop a random window of the image, its boxes and masks (MMDetection's RandomCrop).

    Args:
        crop_size: (h, w) of the window with ``crop_type="absolute"``; with
            ``"absolute_range"``, (min, max): the window's height and width are drawn
            independently from [min, max] (both inclusive).
        crop_type: ``"absolute"`` or ``"absolute_range"``. A window larger than the image
            is shrunk to it.
        allow_negative_crop: keep a window that holds no box (the sample then has no
            objects); when False such a sample is dropped (None), and the data set draws
            another.

    Boxes are shifted into the window and clipped to it; a box left with no area is
    dropped with its label, ignore flag and mask.
    """

    CROP_TYPES = ("absolute", "absolute_range")

    def __init__(
        self,
        *,
        crop_size: Sequence[int],
        crop_type: str = "absolute",
        allow_negative_crop: bool = False,
    ):
        if crop_type not in self.CROP_TYPES:
            raise ConfigError(
                f"DetRandomCrop: crop_type={crop_type!r} is not one of {self.CROP_TYPES}."
            )
        low, high = (int(v) for v in crop_size)
        if low <= 0 or high <= 0 or (crop_type == "absolute_range" and low > high):
            raise ConfigError(
                f"DetRandomCrop: crop_size={list(crop_size)} must be two positive sizes "
                f"(min <= max with crop_type='absolute_range')."
            )
        self.crop_size = (low, high)
        self.crop_type = crop_type
        self.allow_negative_crop = allow_negative_crop

    def window_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of the window for an image of ``height`` x ``width``."""
        if self.crop_type == "absolute":
            return min(self.crop_size[0], height), min(self.crop_size[1], width)
        low, high = self.crop_size

        def draw(size: int) -> int:
            lo, hi = min(size, low), min(size, high)
            return int(torch.randint(lo, hi + 1, ()))

        return draw(height), draw(width)

    def __call__(self, results: dict) -> dict | None:
        height, width = results["img_shape"][:2]
        crop_h, crop_w = self.window_size(height, width)
        top = int(torch.randint(height - crop_h + 1, ()))
        left = int(torch.randint(width - crop_w + 1, ()))
        return self.crop(results, top, left, crop_h, crop_w)

    def crop(self, results: dict, top: int, left: int, crop_h: int, crop_w: int) -> dict | None:
        """Crop the window at (``top``, ``left``) of ``crop_h`` x ``crop_w``."""
        if "gt_bboxes" in results:
            boxes = results["gt_bboxes"] - np.array([left, top, left, top], dtype=np.float32)
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, crop_w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, crop_h)
            keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            if not self.allow_negative_crop and not keep.any():
                return None
            results["gt_bboxes"] = boxes[keep].astype(np.float32)
            for key in ("gt_labels", "gt_ignore_flags"):
                if key in results:
                    results[key] = results[key][keep]
            if "gt_masks" in results:
                results["gt_masks"] = np.ascontiguousarray(
                    results["gt_masks"][keep, top : top + crop_h, left : left + crop_w]
                )
        results["img"] = np.ascontiguousarray(
            results["img"][top : top + crop_h, left : left + crop_w]
        )
        results["img_shape"] = (crop_h, crop_w)
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(crop_size={self.crop_size}, crop_type={self.crop_type!r}, "
            f"allow_negative_crop={self.allow_negative_crop})"
        )
