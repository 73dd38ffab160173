"""Image transforms shared by every OpenLab codebase, registered in labcore's TRANSFORMS.

A transform is a callable that takes the ``results`` dict of one sample and returns it,
updated. The keys these transforms read and write:

- ``img_path`` (str): the image file, read by :class:`LoadImageFromFile`.
- ``img`` (ndarray[H, W, 3], uint8): the image, channels in **RGB** order. A data
  preprocessor therefore needs no BGR-to-RGB conversion (``to_rgb=False``).
- ``ori_shape`` (h, w): the shape as loaded; ``img_shape`` (h, w): the current shape.
- ``scale_factor`` (w_scale, h_scale): set by the resizing transforms, relative to the
  shape before that transform.
- ``flip`` (bool), ``flip_direction`` (str or None): set by :class:`RandomFlip`.

Files are decoded by Pillow; the pixel work is done by ``torchvision.transforms.v2.functional`` on a uint8
``Tensor[3, H, W]`` view of the image. Random choices draw from torch's global RNG, which
MMEngine's runner seeds, so a seeded run repeats exactly. Transforms that must also move
boxes, masks or keypoints belong to the codebase that owns those annotations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as tvf

from labcore.errors import LabError
from labcore.registry import TRANSFORMS

_INTERPOLATIONS = {
    "nearest": InterpolationMode.NEAREST,
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
}


class ImageFileError(LabError, FileNotFoundError):
    """An image file is missing or cannot be decoded."""


def _interpolation(name: str) -> InterpolationMode:
    if name not in _INTERPOLATIONS:
        raise LabError(f"Unknown interpolation '{name}'; choose one of {sorted(_INTERPOLATIONS)}.")
    return _INTERPOLATIONS[name]


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """``ndarray[H, W, C]`` -> ``Tensor[C, H, W]`` sharing memory where possible."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """``Tensor[C, H, W]`` -> contiguous ``ndarray[H, W, C]``."""
    return np.ascontiguousarray(tensor.permute(1, 2, 0).numpy())


def _pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    """An int or a (w, h) pair as (w, h)."""
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise LabError(f"{name} must be an int or a (width, height) pair, got {size!r}.")
    return int(size[0]), int(size[1])


def _set_image(results: dict, tensor: torch.Tensor) -> dict:
    results["img"] = tensor_to_image(tensor)
    results["img_shape"] = tuple(tensor.shape[-2:])
    return results


def _read_rgb(path: Path) -> np.ndarray:
    """The image at ``path`` as uint8 RGB (H, W, 3). JPEG, PNG, GIF and WebP are decoded
    by torchvision (libjpeg-turbo, the pixels Pillow gives, in about 60% of its time),
    other formats by Pillow.

    Raises:
        ImageFileError: the file does not exist or is not a decodable image.
    """
    try:
        data = read_file(str(path))
    except RuntimeError as err:
        if not path.is_file():
            raise ImageFileError(
                f"Image file not found: '{path}'. Check the dataset's data_root and "
                f"data_prefix, and that the annotation file lists existing images."
            ) from err
        raise ImageFileError(f"Cannot read image file '{path}' ({err}).") from err
    try:
        return decode_image(data, mode=ImageReadMode.RGB).permute(1, 2, 0).contiguous().numpy()
    except RuntimeError:  # a format torchvision does not decode (BMP, TIFF, ...)
        pass
    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise ImageFileError(
            f"Cannot decode image file '{path}' ({err}). Replace or remove the file."
        ) from err


@TRANSFORMS.register_module()
class LoadImageFromFile:
    """Read ``results['img_path']`` into ``results['img']`` (uint8 RGB, HWC).

    Args:
        to_float32: store the image as float32 instead of uint8.

    Raises:
        ImageFileError: the file does not exist or is not a decodable image; the message
            names the file.
    """

    def __init__(self, *, to_float32: bool = False):
        self.to_float32 = to_float32

    def __call__(self, results: dict) -> dict:
        path = Path(results["img_path"])
        img = _read_rgb(path)
        if self.to_float32:
            img = img.astype(np.float32)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(to_float32={self.to_float32})"


@TRANSFORMS.register_module()
class Resize:
    """Resize to a fixed size, or as large as fits in it when ``keep_ratio``.

    Args:
        scale: target (w, h), or one int for a square.
        keep_ratio: keep the aspect ratio; the image then fits inside ``scale``.
        interpolation: 'nearest', 'bilinear' or 'bicubic'.
    """

    def __init__(
        self,
        *,
        scale: int | Sequence[int],
        keep_ratio: bool = False,
        interpolation: str = "bilinear",
    ):
        self.scale = _pair(scale, "Resize.scale")
        self.keep_ratio = keep_ratio
        self.interpolation = _interpolation(interpolation)

    def target_size(self, h: int, w: int) -> tuple[int, int]:
        """The output (h, w) for an input of (h, w)."""
        tw, th = self.scale
        if not self.keep_ratio:
            return th, tw
        ratio = min(tw / w, th / h)
        return max(1, round(h * ratio)), max(1, round(w * ratio))

    def __call__(self, results: dict) -> dict:
        tensor = image_to_tensor(results["img"])
        h, w = tensor.shape[-2:]
        new_h, new_w = self.target_size(h, w)
        tensor = tvf.resize(tensor, [new_h, new_w], self.interpolation, antialias=True)
        results["scale_factor"] = (new_w / w, new_h / h)
        return _set_image(results, tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale}, keep_ratio={self.keep_ratio})"


@TRANSFORMS.register_module()
class ResizeEdge:
    """Resize so that one edge has ``scale`` pixels, keeping the aspect ratio.

    The usual ImageNet evaluation resize: ``ResizeEdge(scale=256, edge='short')``
    before ``CenterCrop(crop_size=224)``.

    Args:
        scale: length of the chosen edge after resizing.
        edge: 'short', 'long', 'width' or 'height'.
        interpolation: 'nearest', 'bilinear' or 'bicubic'.
    """

    _EDGES = ("short", "long", "width", "height")

    def __init__(self, *, scale: int, edge: str = "short", interpolation: str = "bilinear"):
        if edge not in self._EDGES:
            raise LabError(f"ResizeEdge.edge is '{edge}'; choose one of {self._EDGES}.")
        self.scale = int(scale)
        self.edge = edge
        self.interpolation = _interpolation(interpolation)

    def target_size(self, h: int, w: int) -> tuple[int, int]:
        """The output (h, w) for an input of (h, w)."""
        edge = self.edge
        if edge == "short":
            edge = "width" if w <= h else "height"
        elif edge == "long":
            edge = "width" if w >= h else "height"
        if edge == "width":
            return max(1, round(h * self.scale / w)), self.scale
        return self.scale, max(1, round(w * self.scale / h))

    def __call__(self, results: dict) -> dict:
        tensor = image_to_tensor(results["img"])
        h, w = tensor.shape[-2:]
        new_h, new_w = self.target_size(h, w)
        tensor = tvf.resize(tensor, [new_h, new_w], self.interpolation, antialias=True)
        results["scale_factor"] = (new_w / w, new_h / h)
        return _set_image(results, tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale}, edge='{self.edge}')"


@TRANSFORMS.register_module()
class CenterCrop:
    """Crop the centre (w, h) region; an image smaller than the crop is zero-padded.

    Args:
        crop_size: (w, h) of the crop, or one int for a square.
    """

    def __init__(self, *, crop_size: int | Sequence[int]):
        self.crop_size = _pair(crop_size, "CenterCrop.crop_size")

    def __call__(self, results: dict) -> dict:
        w, h = self.crop_size
        tensor = tvf.center_crop(image_to_tensor(results["img"]), [h, w])
        return _set_image(results, tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(crop_size={self.crop_size})"


@TRANSFORMS.register_module()
class RandomResizedCrop:
    """Crop a random region of random area and aspect ratio, resized to ``scale``.

    The Inception-style training crop. The region is drawn as torchvision draws it: ten
    tries at an area in ``crop_ratio_range`` x image area and a log-uniform aspect ratio
    in ``aspect_ratio_range``, falling back to the largest central crop that fits.

    Args:
        scale: output (w, h), or one int for a square.
        crop_ratio_range: range of the crop's area relative to the image.
        aspect_ratio_range: range of the crop's width / height.
        interpolation: 'nearest', 'bilinear' or 'bicubic'.
    """

    def __init__(
        self,
        *,
        scale: int | Sequence[int],
        crop_ratio_range: Sequence[float] = (0.08, 1.0),
        aspect_ratio_range: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: str = "bilinear",
    ):
        self.scale = _pair(scale, "RandomResizedCrop.scale")
        self.crop_ratio_range = tuple(float(r) for r in crop_ratio_range)
        self.aspect_ratio_range = tuple(float(r) for r in aspect_ratio_range)
        self.interpolation = _interpolation(interpolation)

    def crop_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        """A random (top, left, height, width) region of an (h, w) image."""
        area = h * w
        log_ratio = (math.log(self.aspect_ratio_range[0]), math.log(self.aspect_ratio_range[1]))
        for _ in range(10):
            target_area = area * torch.empty(1).uniform_(*self.crop_ratio_range).item()
            ratio = math.exp(torch.empty(1).uniform_(*log_ratio).item())
            cw = round(math.sqrt(target_area * ratio))
            ch = round(math.sqrt(target_area / ratio))
            if 0 < cw <= w and 0 < ch <= h:
                top = int(torch.randint(0, h - ch + 1, (1,)).item())
                left = int(torch.randint(0, w - cw + 1, (1,)).item())
                return top, left, ch, cw
        in_ratio = w / h  # fallback: central crop with the aspect ratio clipped to the range
        if in_ratio < self.aspect_ratio_range[0]:
            cw, ch = w, round(w / self.aspect_ratio_range[0])
        elif in_ratio > self.aspect_ratio_range[1]:
            ch, cw = h, round(h * self.aspect_ratio_range[1])
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def __call__(self, results: dict) -> dict:
        tensor = image_to_tensor(results["img"])
        top, left, ch, cw = self.crop_box(*tensor.shape[-2:])
        w, h = self.scale
        tensor = tvf.resized_crop(
            tensor, top, left, ch, cw, [h, w], self.interpolation, antialias=True
        )
        return _set_image(results, tensor)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(scale={self.scale}, "
            f"crop_ratio_range={self.crop_ratio_range}, "
            f"aspect_ratio_range={self.aspect_ratio_range})"
        )


@TRANSFORMS.register_module()
class RandomFlip:
    """Flip the image with probability ``prob``.

    Args:
        prob: probability of flipping.
        direction: 'horizontal' or 'vertical'.
    """

    def __init__(self, *, prob: float = 0.5, direction: str = "horizontal"):
        if not 0.0 <= prob <= 1.0:
            raise LabError(f"RandomFlip.prob must lie in [0, 1], got {prob}.")
        if direction not in ("horizontal", "vertical"):
            raise LabError(
                f"RandomFlip.direction is '{direction}'; choose 'horizontal' or 'vertical'."
            )
        self.prob = prob
        self.direction = direction

    def __call__(self, results: dict) -> dict:
        flip = bool(torch.rand(1).item() < self.prob)
        results["flip"] = flip
        results["flip_direction"] = self.direction if flip else None
        if flip:
            axis = 1 if self.direction == "horizontal" else 0
            results["img"] = np.ascontiguousarray(np.flip(results["img"], axis=axis))
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prob={self.prob}, direction='{self.direction}')"


@TRANSFORMS.register_module()
class ColorJitter:
    """Randomly change brightness, contrast, saturation and hue, in a random order.

    Each factor is drawn uniformly from [max(0, 1 - v), 1 + v] for brightness, contrast
    and saturation, and the hue shift from [-hue, hue] (hue <= 0.5), as torchvision's
    ColorJitter draws them.

    Args:
        brightness, contrast, saturation: strength v of each change (0 = off).
        hue: maximal hue shift as a fraction of the colour circle (0 = off).
    """

    def __init__(
        self,
        *,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        hue: float = 0.0,
    ):
        if min(brightness, contrast, saturation, hue) < 0 or hue > 0.5:
            raise LabError(
                "ColorJitter strengths must be >= 0 and hue <= 0.5, got "
                f"brightness={brightness}, contrast={contrast}, "
                f"saturation={saturation}, hue={hue}."
            )
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue

    def __call__(self, results: dict) -> dict:
        tensor = image_to_tensor(results["img"])
        ops = []
        for strength, op in (
            (self.brightness, tvf.adjust_brightness),
            (self.contrast, tvf.adjust_contrast),
            (self.saturation, tvf.adjust_saturation),
        ):
            if strength > 0:
                factor = torch.empty(1).uniform_(max(0.0, 1.0 - strength), 1.0 + strength)
                ops.append((op, float(factor.item())))
        if self.hue > 0:
            ops.append((tvf.adjust_hue, float(torch.empty(1).uniform_(-self.hue, self.hue))))
        for index in torch.randperm(len(ops)).tolist():
            op, factor = ops[index]
            tensor = op(tensor, factor)
        return _set_image(results, tensor)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )
