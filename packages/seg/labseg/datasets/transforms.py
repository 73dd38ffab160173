"""Transforms that move an image and its label map together.

Besides the keys of :mod:`labcore.datasets.transforms` (``img`` uint8 RGB ndarray[H, W, 3],
``img_shape``, ``ori_shape``, ``scale_factor``, ``flip``), these read and write
``gt_seg_map`` (int64 ndarray[H, W]: class indices and ``ignore_index``), set by
:class:`LoadSegAnnotations` from the data item's ``seg_map_path``. Images are resized
bilinearly, label maps by nearest neighbour, so a label never blends into another.
Random choices draw from torch's global RNG, which MMEngine's runner seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.structures import BaseDataElement, PixelData
from PIL import Image, UnidentifiedImageError
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as tvf

from labcore.datasets.transforms import image_to_tensor, tensor_to_image
from labcore.errors import ConfigError
from labseg.datasets.seg_dataset import SegDataError
from labseg.registry import TRANSFORMS


def _randint(low: int, high: int) -> int:
    """A uniform integer in [low, high] from torch's global RNG."""
    return int(torch.randint(low, high + 1, ()).item())


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()).item())


def _chance(prob: float) -> bool:
    return float(torch.rand(()).item()) < prob


@TRANSFORMS.register_module()
class LoadSegAnnotations:
    """Read ``results['seg_map_path']`` into ``results['gt_seg_map']`` and check it.

    The values must be class indices below ``results['num_classes']`` or
    ``results['ignore_index']`` (after ``reduce_zero_label``: 0 -> ignore, v -> v - 1),
    and the map must have the size of the image as loaded (``ori_shape``).

    Raises:
        SegDataError: the file is missing or unreadable, holds other values (which, and
            whether ``reduce_zero_label`` would explain them), or has another size than
            its image; the message names the file.
    """

    def __call__(self, results: dict) -> dict:
        path = Path(results["seg_map_path"])
        if not path.is_file():
            raise SegDataError(
                f"Label map not found: '{path}'. Check the dataset's data_prefix.seg_map_path "
                f"and seg_map_suffix."
            )
        try:
            with Image.open(path) as image:
                raw = np.array(image)
        except (UnidentifiedImageError, OSError) as err:
            raise SegDataError(f"Cannot decode label map '{path}' ({err}).") from err
        if raw.ndim != 2:
            raise SegDataError(
                f"Label map '{path}' has shape {raw.shape}; a label map is a single-channel "
                f"PNG (or a palette PNG) of class indices, not a colour image. Convert its "
                f"colours to indices first."
            )
        ignore = int(results.get("ignore_index", 255))
        label = raw.astype(np.int64)
        reduce_zero_label = bool(results.get("reduce_zero_label", False))
        if reduce_zero_label:
            label = np.where(label == 0, ignore, label - 1)
            label[label == ignore - 1] = ignore
        num_classes = results.get("num_classes")
        if num_classes is not None:
            _check_values(label, raw, path, num_classes, ignore, reduce_zero_label)
        if "ori_shape" in results and tuple(label.shape) != tuple(results["ori_shape"]):
            raise SegDataError(
                f"Label map '{path}' is {label.shape[1]}x{label.shape[0]} (width x height) but "
                f"its image '{results.get('img_path', '?')}' is {results['ori_shape'][1]}x"
                f"{results['ori_shape'][0]}; a label map must have its image's size. "
                f"Re-export the label map or fix the pairing of files."
            )
        results["gt_seg_map"] = label
        return results


def _check_values(label, raw, path, num_classes: int, ignore: int, reduced: bool) -> None:
    values = np.unique(label)
    bad = values[(values >= num_classes) & (values != ignore)]
    if bad.size == 0:
        return
    shown = ", ".join(str(v) for v in bad[:10]) + (" ..." if bad.size > 10 else "")
    if reduced:
        raw_bad = ", ".join(str(v + 1) for v in bad[:10])
        hint = (
            f"With reduce_zero_label=True the file's value v is class v - 1; the file holds "
            f"{raw_bad}, beyond the {num_classes} classes. If 0 is a real class in this data, "
            f"set reduce_zero_label=False; otherwise check the classes."
        )
    else:
        raw_values = np.unique(raw)
        if raw_values.max() == num_classes and 0 in raw_values:
            hint = (
                f"Its values run from 0 to {num_classes}: if 0 means 'unlabelled/other' "
                f"(as in ADE20K), set reduce_zero_label=True in the dataset, so value v "
                f"becomes class v - 1 and 0 is ignored."
            )
        else:
            hint = (
                "Set the dataset's classes to match the label values, or map the values to "
                f"0..{num_classes - 1} and {ignore} (ignore) (for Cityscapes use the "
                f"*_labelTrainIds.png files, not *_labelIds.png)."
            )
    raise SegDataError(
        f"Label map '{path}' holds the value(s) {shown}, which are neither a class index "
        f"below num_classes={num_classes} nor the ignore index {ignore}. {hint}"
    )


def _fit_scale(shape: tuple[int, int], scale: tuple[int, int], keep_ratio: bool):
    """New (h, w) for an image of ``shape`` (h, w): ``scale`` (w, h) exactly, or with
    ``keep_ratio`` as large as fits with its long edge <= max(scale) and short edge
    <= min(scale)."""
    height, width = shape
    if not keep_ratio:
        return int(scale[1]), int(scale[0])
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


def _resize(results: dict, size: tuple[int, int]) -> dict:
    height, width = results["img"].shape[:2]
    image = tvf.resize(
        image_to_tensor(results["img"]), list(size), InterpolationMode.BILINEAR, antialias=False
    )
    results["img"] = tensor_to_image(image)
    results["img_shape"] = size
    results["scale_factor"] = (size[1] / width, size[0] / height)
    if "gt_seg_map" in results:
        seg = torch.from_numpy(results["gt_seg_map"])[None]
        seg = tvf.resize(seg, list(size), InterpolationMode.NEAREST)
        results["gt_seg_map"] = seg[0].numpy()
    return results


def _pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if not isinstance(value, Sequence) or len(value) != 2:
        raise ConfigError(f"{name} must be an int or a pair, got {value!r}.")
    return int(value[0]), int(value[1])


@TRANSFORMS.register_module()
class SegResize:
    """Resize the image (and a loaded label map) to ``scale`` (w, h), or with
    ``keep_ratio`` as large as fits in it. Test pipelines load the label map after this,
    so it is scored at its original size."""

    def __init__(self, *, scale: int | Sequence[int], keep_ratio: bool = True):
        self.scale = _pair(scale, "SegResize scale")
        self.keep_ratio = keep_ratio

    def __call__(self, results: dict) -> dict:
        size = _fit_scale(results["img"].shape[:2], self.scale, self.keep_ratio)
        return _resize(results, size)


@TRANSFORMS.register_module()
class SegRandomResize:
    """Resize image and label map to ``scale`` (w, h) times a ratio drawn uniformly
    from ``ratio_range`` (e.g. ``scale=(2048, 512), ratio_range=(0.5, 2.0)``)."""

    def __init__(
        self,
        *,
        scale: int | Sequence[int],
        ratio_range: Sequence[float] = (0.5, 2.0),
        keep_ratio: bool = True,
    ):
        self.scale = _pair(scale, "SegRandomResize scale")
        low, high = ratio_range
        if not 0 < low <= high:
            raise ConfigError(
                f"SegRandomResize ratio_range must be 0 < low <= high, got {ratio_range}."
            )
        self.ratio_range = (float(low), float(high))
        self.keep_ratio = keep_ratio

    def __call__(self, results: dict) -> dict:
        ratio = _uniform(*self.ratio_range)
        scale = (int(self.scale[0] * ratio), int(self.scale[1] * ratio))
        return _resize(results, _fit_scale(results["img"].shape[:2], scale, self.keep_ratio))


@TRANSFORMS.register_module()
class SegRandomCrop:
    """Crop ``crop_size`` (h, w) at a random place (the whole side where the image is
    smaller). With ``cat_max_ratio < 1`` up to 10 crops are drawn until no single class
    covers more than that fraction of the crop's labelled pixels."""

    def __init__(
        self,
        *,
        crop_size: int | Sequence[int],
        cat_max_ratio: float = 1.0,
        ignore_index: int = 255,
    ):
        self.crop_size = _pair(crop_size, "SegRandomCrop crop_size")
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def _draw(self, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        height, width = shape
        top = _randint(0, max(height - self.crop_size[0], 0))
        left = _randint(0, max(width - self.crop_size[1], 0))
        return top, min(top + self.crop_size[0], height), left, min(left + self.crop_size[1], width)

    def __call__(self, results: dict) -> dict:
        box = self._draw(results["img"].shape[:2])
        if self.cat_max_ratio < 1.0 and "gt_seg_map" in results:
            for _ in range(10):
                y1, y2, x1, x2 = box
                labels, counts = np.unique(results["gt_seg_map"][y1:y2, x1:x2], return_counts=True)
                counts = counts[labels != self.ignore_index]
                if len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio:
                    break
                box = self._draw(results["img"].shape[:2])
        y1, y2, x1, x2 = box
        results["img"] = np.ascontiguousarray(results["img"][y1:y2, x1:x2])
        results["img_shape"] = (y2 - y1, x2 - x1)
        if "gt_seg_map" in results:
            results["gt_seg_map"] = np.ascontiguousarray(results["gt_seg_map"][y1:y2, x1:x2])
        return results


@TRANSFORMS.register_module()
class SegRandomFlip:
    """Mirror image and label map left-right with probability ``prob``."""

    def __init__(self, *, prob: float = 0.5):
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f"SegRandomFlip prob must be in [0, 1], got {prob}.")
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        flip = _chance(self.prob)
        results["flip"] = flip
        results["flip_direction"] = "horizontal" if flip else None
        if flip:
            results["img"] = np.ascontiguousarray(results["img"][:, ::-1])
            if "gt_seg_map" in results:
                results["gt_seg_map"] = np.ascontiguousarray(results["gt_seg_map"][:, ::-1])
        return results


@TRANSFORMS.register_module()
class PhotoMetricDistortion:
    """Each with probability 0.5, in this order: brightness (add a value in
    [-brightness_delta, brightness_delta]), contrast (multiply by a factor in
    ``contrast_range``, here or after the next two), saturation (factor in
    ``saturation_range``), hue (shift by up to ``hue_delta`` on OpenCV's 0..180 hue
    scale, i.e. ``hue_delta / 180`` of the colour circle). The label map is unchanged."""

    def __init__(
        self,
        *,
        brightness_delta: int = 32,
        contrast_range: Sequence[float] = (0.5, 1.5),
        saturation_range: Sequence[float] = (0.5, 1.5),
        hue_delta: int = 18,
    ):
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    def _contrast(self, img: np.ndarray) -> np.ndarray:
        if _chance(0.5):
            img = np.clip(img.astype(np.float32) * _uniform(*self.contrast_range), 0, 255)
        return img.astype(np.uint8)

    def __call__(self, results: dict) -> dict:
        img = results["img"]
        if _chance(0.5):
            delta = _uniform(-self.brightness_delta, self.brightness_delta)
            img = np.clip(img.astype(np.float32) + delta, 0, 255).astype(np.uint8)
        contrast_first = _chance(0.5)
        if contrast_first:
            img = self._contrast(img)
        tensor = image_to_tensor(img)
        if _chance(0.5):
            tensor = tvf.adjust_saturation(tensor, _uniform(*self.saturation_range))
        if _chance(0.5):
            tensor = tvf.adjust_hue(tensor, _uniform(-self.hue_delta, self.hue_delta) / 180.0)
        img = tensor_to_image(tensor)
        if not contrast_first:
            img = self._contrast(img)
        results["img"] = img
        return results


_META_KEYS = (
    "img_path", "seg_map_path", "ori_shape", "img_shape", "scale_factor", "flip",
    "flip_direction", "reduce_zero_label",
)  # fmt: skip


@TRANSFORMS.register_module()
class PackSegInputs:
    """Pack into ``inputs`` (uint8 Tensor[3, H, W]) and ``data_samples`` (a data element
    with the metainfo keys above and, when loaded, ``gt_sem_seg``: PixelData of
    LongTensor[1, H, W])."""

    def __call__(self, results: dict) -> dict:
        sample = BaseDataElement(
            metainfo={key: results[key] for key in _META_KEYS if key in results}
        )
        if "gt_seg_map" in results:
            seg = torch.from_numpy(np.ascontiguousarray(results["gt_seg_map"])).long()
            sample.gt_sem_seg = PixelData(data=seg[None])
        inputs = image_to_tensor(results["img"]).contiguous()
        return dict(inputs=inputs, data_samples=sample)
