"""RTMDet's mix augmentation: mosaic and mixup of a sample with samples from a cache.

MMDetection's RTMDet recipe is ``LoadDetAnnotations``, :class:`CachedMosaic`,
``DetRandomResize`` (large-scale jitter), ``DetRandomCrop``, ``YOLOXHSVRandomAug``,
``DetRandomFlip``, ``DetPad(size=...)``, :class:`CachedMixUp`, ``PackDetInputs``.

Both transforms keep the last samples they saw in a cache and mix the current sample with
ones drawn from it. The transforms act on the ``results`` dict of labdet.datasets.transforms
(``img`` ndarray[H, W, 3] uint8 RGB, ``img_shape``, ``gt_bboxes`` ndarray[N, 4] float32
x1 y1 x2 y2, ``gt_labels`` ndarray[N] int64, ``gt_ignore_flags`` ndarray[N] bool); they mix
boxes only, not masks. Images are resized with cv2's bilinear resize (as mmcv.imresize) and
randomness is drawn from torch's RNG, as DetRandomFlip does.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from labcore.errors import ConfigError
from labdet.registry import TRANSFORMS


def _uniform(low: float, high: float) -> float:
    """A float drawn uniformly from [low, high) with torch's RNG."""
    return low + (high - low) * float(torch.rand((), dtype=torch.float64))


def _randint(n: int) -> int:
    """An int drawn uniformly from [0, n) with torch's RNG."""
    return int(torch.randint(n, ()))


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """``img`` resized bilinearly to ``width`` x ``height`` (mmcv.imresize's default)."""
    return cv2.resize(img, (max(width, 1), max(height, 1)), interpolation=cv2.INTER_LINEAR)


def _check_scale(name: str, img_scale: Sequence[int]) -> tuple[int, int]:
    scale = tuple(int(v) for v in img_scale)
    if len(scale) != 2 or min(scale) <= 0:
        raise ConfigError(
            f"{name}: img_scale={list(img_scale)} must be two positive sizes (w, h), "
            f"e.g. img_scale=(640, 640)."
        )
    return scale


def _check_range(name: str, arg: str, value: Sequence[float]) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if not 0 < low <= high:
        raise ConfigError(
            f"{name}: {arg}={list(value)} must be (low, high) with 0 < low <= high, "
            f"e.g. {arg}=(0.5, 1.5)."
        )
    return low, high


def _check_inputs(name: str, results: dict) -> None:
    if "gt_masks" in results:
        raise ConfigError(f"{name} does not mix masks; load boxes only (with_mask=False).")
    if "gt_bboxes" not in results:
        raise ConfigError(f"{name} mixes boxes; put LoadDetAnnotations before it.")


def _push(cache: list, results: dict, max_cached_images: int, random_pop: bool) -> None:
    """Append a deep copy of ``results``; beyond ``max_cached_images``, pop one (a random one
    with ``random_pop``, else the oldest)."""
    cache.append(copy.deepcopy(results))
    if len(cache) > max_cached_images:
        cache.pop(_randint(len(cache)) if random_pop else 0)


def _keep_boxes(results: dict, boxes, labels, flags, height: int, width: int) -> dict:
    """Store the boxes overlapping the ``height`` x ``width`` image that have area."""
    keep = (
        (boxes[:, 0] < width)
        & (boxes[:, 2] > 0)
        & (boxes[:, 1] < height)
        & (boxes[:, 3] > 0)
        & (boxes[:, 2] > boxes[:, 0])
        & (boxes[:, 3] > boxes[:, 1])
    )
    results["gt_bboxes"] = boxes[keep].astype(np.float32).reshape(-1, 4)
    results["gt_labels"] = labels[keep]
    results["gt_ignore_flags"] = flags[keep]
    return results


@TRANSFORMS.register_module()
class CachedMosaic:
    """Mosaic of the current sample and three cached ones (MMDetection's CachedMosaic).

    The cache lives in the transform object, so each dataloader worker process keeps its
    own. Every call appends a deep copy of ``results`` to it; while it holds 4 samples or
    fewer the sample passes unchanged.

    The four samples, each resized to fit in ``img_scale`` (keeping the ratio), are
    placed around a random centre on a (2h, 2w) canvas: the current sample at the top
    left, three drawn from the cache (uniformly, with replacement) at the top right,
    bottom left and bottom right. Each patch is cropped where it leaves the canvas.

    Args:
        img_scale: (w, h) of one quarter of the canvas; the output is (2h, 2w).
        center_ratio_range: the centre's x and y are drawn independently from this range
            times w and h.
        bbox_clip_border: clip the boxes to the canvas.
        pad_val: the fill of the canvas where no patch lies (a value or an RGB triple).
        prob: the probability of making a mosaic once the cache is full enough.
        max_cached_images: the cache's size (at least 4); beyond it one sample is popped.
        random_pop: pop a random sample; when False, the oldest.

    Reads ``img``, ``gt_bboxes``, ``gt_labels``, ``gt_ignore_flags``; writes ``img``
    ndarray[2h, 2w, 3] uint8, ``img_shape`` (2h, 2w) and the boxes, labels and ignore flags
    of all four patches that overlap the canvas and keep some area there. ``gt_masks`` is
    not supported (ConfigError).
    """

    LOCATIONS = ("top_left", "top_right", "bottom_left", "bottom_right")

    def __init__(
        self,
        *,
        img_scale: Sequence[int] = (640, 640),
        center_ratio_range: Sequence[float] = (0.5, 1.5),
        bbox_clip_border: bool = True,
        pad_val: float | Sequence[float] = 114.0,
        prob: float = 1.0,
        max_cached_images: int = 40,
        random_pop: bool = True,
    ):
        name = type(self).__name__
        self.img_scale = _check_scale(name, img_scale)
        self.center_ratio_range = _check_range(name, "center_ratio_range", center_ratio_range)
        if not 0 <= prob <= 1:
            raise ConfigError(f"{name}: prob={prob} must be a probability in [0, 1].")
        if max_cached_images < 4:
            raise ConfigError(
                f"{name}: max_cached_images={max_cached_images} must be at least 4 (a mosaic "
                f"needs 4 samples); MMDetection's RTMDet uses 40."
            )
        self.bbox_clip_border = bbox_clip_border
        self.pad_val = pad_val
        self.prob = prob
        self.max_cached_images = max_cached_images
        self.random_pop = random_pop
        self.results_cache: list[dict] = []

    def __call__(self, results: dict) -> dict:
        _check_inputs(type(self).__name__, results)
        _push(self.results_cache, results, self.max_cached_images, self.random_pop)
        if len(self.results_cache) <= 4:
            return results
        if _uniform(0, 1) > self.prob:
            return results
        indices = [_randint(len(self.results_cache)) for _ in range(3)]
        patches = [self.results_cache[i] for i in indices]  # read, never written
        width, height = self.img_scale
        center_x = int(_uniform(*self.center_ratio_range) * width)
        center_y = int(_uniform(*self.center_ratio_range) * height)
        return self.combine(results, patches, center_x, center_y)

    def paste_and_crop(
        self, loc: str, center_x: int, center_y: int, patch_w: int, patch_h: int
    ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        """(x1, y1, x2, y2) where a ``patch_w`` x ``patch_h`` patch is pasted on the canvas
        at ``loc`` and the matching (x1, y1, x2, y2) crop of the patch (MMDetection's
        ``_mosaic_combine``)."""
        width, height = self.img_scale
        if loc == "top_left":
            x1, y1 = max(center_x - patch_w, 0), max(center_y - patch_h, 0)
            x2, y2 = center_x, center_y
            crop = (patch_w - (x2 - x1), patch_h - (y2 - y1), patch_w, patch_h)
        elif loc == "top_right":
            x1, y1 = center_x, max(center_y - patch_h, 0)
            x2, y2 = min(center_x + patch_w, 2 * width), center_y
            crop = (0, patch_h - (y2 - y1), min(patch_w, x2 - x1), patch_h)
        elif loc == "bottom_left":
            x1, y1 = max(center_x - patch_w, 0), center_y
            x2, y2 = center_x, min(2 * height, center_y + patch_h)
            crop = (patch_w - (x2 - x1), 0, patch_w, min(y2 - y1, patch_h))
        else:
            x1, y1 = center_x, center_y
            x2, y2 = min(center_x + patch_w, 2 * width), min(2 * height, center_y + patch_h)
            crop = (0, 0, min(patch_w, x2 - x1), min(y2 - y1, patch_h))
        return (x1, y1, x2, y2), crop

    def combine(self, results: dict, patches: list[dict], center_x: int, center_y: int) -> dict:
        """The mosaic of ``results`` (top left) and the three ``patches`` around
        (``center_x``, ``center_y``)."""
        width, height = self.img_scale
        canvas = np.full((2 * height, 2 * width, 3), self.pad_val, dtype=np.uint8)
        boxes, labels, flags = [], [], []
        for loc, patch in zip(self.LOCATIONS, [results, *patches]):
            img = patch["img"]
            h_i, w_i = img.shape[:2]
            scale = min(height / h_i, width / w_i)
            img = _resize(img, int(w_i * scale), int(h_i * scale))
            (x1_p, y1_p, x2_p, y2_p), (x1_c, y1_c, x2_c, y2_c) = self.paste_and_crop(
                loc, center_x, center_y, img.shape[1], img.shape[0]
            )
            canvas[y1_p:y2_p, x1_p:x2_p] = img[y1_c:y2_c, x1_c:x2_c]
            shift = np.array([x1_p - x1_c, y1_p - y1_c] * 2, dtype=np.float32)
            boxes.append(patch["gt_bboxes"].reshape(-1, 4) * np.float32(scale) + shift)
            labels.append(patch["gt_labels"])
            flags.append(patch["gt_ignore_flags"])
        boxes = np.concatenate(boxes).astype(np.float32)
        if self.bbox_clip_border:
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, 2 * width)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, 2 * height)
        results["img"] = canvas
        results["img_shape"] = (2 * height, 2 * width)
        return _keep_boxes(
            results, boxes, np.concatenate(labels), np.concatenate(flags), 2 * height, 2 * width
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(img_scale={self.img_scale}, "
            f"center_ratio_range={self.center_ratio_range}, "
            f"bbox_clip_border={self.bbox_clip_border}, pad_val={self.pad_val}, "
            f"prob={self.prob}, max_cached_images={self.max_cached_images}, "
            f"random_pop={self.random_pop})"
        )


@TRANSFORMS.register_module()
class CachedMixUp:
    """Blend the current sample with a cached one (MMDetection's CachedMixUp).

    The cache lives in the transform object, so each dataloader worker process keeps its
    own. Every call appends a deep copy of ``results`` to it; while it holds only that
    sample, the sample passes unchanged.

    A cached sample with boxes is drawn, resized to fit in ``img_scale`` (keeping the ratio)
    and pasted at the top left of an ``img_scale`` canvas, which is then scaled by a
    random jitter, flipped at random and padded to at least the current image's size; a
    window of the current image's size is cropped at a random offset and the two images
    are averaged (0.5 each).

    Args:
        img_scale: (w, h) of the canvas the cached image is fitted in.
        ratio_range: the scale jitter of the canvas is drawn from this range.
        flip_ratio: the canvas is flipped horizontally when a uniform draw exceeds it
            (MMDetection's convention: 0.5 flips half the time, 1.0 never).
        pad_val: the fill of the canvas and its padding (a value or an RGB triple).
        max_iters: how many cache draws to try to find a sample with boxes; when the last
            one drawn has none, the sample passes unchanged.
        bbox_clip_border: clip the cached sample's boxes to the canvas and to the window.
        max_cached_images: the cache's size (at least 2); beyond it one sample is popped.
        random_pop: pop a random sample; when False, the oldest.
        prob: the probability of mixing once the cache holds two samples or more.

    Reads ``img``, ``gt_bboxes``, ``gt_labels``, ``gt_ignore_flags``; writes ``img`` (same
    size, uint8) and the boxes, labels and ignore flags of both samples (the current one's
    first) that overlap the image and keep some area there. ``gt_masks`` is not supported
    (ConfigError).
    """

    def __init__(
        self,
        *,
        img_scale: Sequence[int] = (640, 640),
        ratio_range: Sequence[float] = (0.5, 1.5),
        flip_ratio: float = 0.5,
        pad_val: float | Sequence[float] = 114.0,
        max_iters: int = 15,
        bbox_clip_border: bool = True,
        max_cached_images: int = 20,
        random_pop: bool = True,
        prob: float = 1.0,
    ):
        name = type(self).__name__
        self.img_scale = _check_scale(name, img_scale)
        self.ratio_range = _check_range(name, "ratio_range", ratio_range)
        if not 0 <= prob <= 1:
            raise ConfigError(f"{name}: prob={prob} must be a probability in [0, 1].")
        if max_cached_images < 2:
            raise ConfigError(
                f"{name}: max_cached_images={max_cached_images} must be at least 2 (mixup "
                f"needs 2 samples); MMDetection's RTMDet uses 20."
            )
        if max_iters < 1:
            raise ConfigError(f"{name}: max_iters={max_iters} must be at least 1; default 15.")
        self.flip_ratio = flip_ratio
        self.pad_val = pad_val
        self.max_iters = max_iters
        self.bbox_clip_border = bbox_clip_border
        self.max_cached_images = max_cached_images
        self.random_pop = random_pop
        self.prob = prob
        self.results_cache: list[dict] = []

    def __call__(self, results: dict) -> dict:
        _check_inputs(type(self).__name__, results)
        _push(self.results_cache, results, self.max_cached_images, self.random_pop)
        if len(self.results_cache) <= 1:
            return results
        if _uniform(0, 1) > self.prob:
            return results
        for _ in range(self.max_iters):
            index = _randint(len(self.results_cache))
            if len(self.results_cache[index]["gt_bboxes"]):
                break
        if not len(self.results_cache[index]["gt_bboxes"]):
            return results
        retrieved = self.results_cache[index]  # read, never written
        jit_factor = _uniform(*self.ratio_range)
        flip = _uniform(0, 1) > self.flip_ratio
        return self.mix(results, retrieved, jit_factor, flip)

    def mix(
        self,
        results: dict,
        retrieved: dict,
        jit_factor: float,
        flip: bool,
        offset: tuple[int, int] | None = None,
    ) -> dict:
        """Blend ``retrieved`` into ``results`` with the scale jitter ``jit_factor`` and
        ``flip``; the window's (y, x) ``offset`` is drawn when None."""
        width, height = self.img_scale
        retrieved_img = retrieved["img"]
        # MMDetection builds the canvas as float (ones * pad_val) and resizes it as float
        canvas = np.full((height, width, 3), self.pad_val, dtype=np.float64)
        scale = min(height / retrieved_img.shape[0], width / retrieved_img.shape[1])
        retrieved_img = _resize(
            retrieved_img,
            int(retrieved_img.shape[1] * scale),
            int(retrieved_img.shape[0] * scale),
        )
        canvas[: retrieved_img.shape[0], : retrieved_img.shape[1]] = retrieved_img
        scale *= jit_factor
        canvas = _resize(canvas, int(width * jit_factor), int(height * jit_factor))
        if flip:
            canvas = canvas[:, ::-1]
        origin_h, origin_w = canvas.shape[:2]
        target_h, target_w = results["img"].shape[:2]
        padded = np.full(
            (max(origin_h, target_h), max(origin_w, target_w), 3), self.pad_val, dtype=np.uint8
        )
        padded[:origin_h, :origin_w] = canvas  # truncates, as MMDetection's assignment does
        if offset is None:
            y_offset = int(torch.randint(padded.shape[0] - target_h + 1, ()))
            x_offset = int(torch.randint(padded.shape[1] - target_w + 1, ()))
        else:
            y_offset, x_offset = offset
        window = padded[y_offset : y_offset + target_h, x_offset : x_offset + target_w]

        boxes = retrieved["gt_bboxes"].reshape(-1, 4) * np.float32(scale)
        if self.bbox_clip_border:
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, origin_w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, origin_h)
        if flip:
            boxes[:, [0, 2]] = origin_w - boxes[:, [2, 0]]
        boxes = boxes - np.array([x_offset, y_offset] * 2, dtype=np.float32)
        if self.bbox_clip_border:
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, target_w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, target_h)

        mixed = 0.5 * results["img"].astype(np.float32) + 0.5 * window.astype(np.float32)
        results["img"] = mixed.astype(np.uint8)
        return _keep_boxes(
            results,
            np.concatenate([results["gt_bboxes"].reshape(-1, 4), boxes]).astype(np.float32),
            np.concatenate([results["gt_labels"], retrieved["gt_labels"]]),
            np.concatenate([results["gt_ignore_flags"], retrieved["gt_ignore_flags"]]),
            target_h,
            target_w,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(img_scale={self.img_scale}, "
            f"ratio_range={self.ratio_range}, flip_ratio={self.flip_ratio}, "
            f"pad_val={self.pad_val}, max_iters={self.max_iters}, "
            f"bbox_clip_border={self.bbox_clip_border}, "
            f"max_cached_images={self.max_cached_images}, random_pop={self.random_pop}, "
            f"prob={self.prob})"
        )
