"""The augmentations of self-supervised pretraining, and the multi-view transform.

They follow :mod:`labcore.datasets.transforms` (``results['img']`` is uint8 RGB HWC, pixel
work by ``torchvision.transforms.v2.functional``, random draws from torch's global RNG,
which the runner seeds). :class:`MultiView` turns one image into several augmented
views; after it ``results['img']`` is a list of images.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torchvision.transforms.v2 import functional as tvf

from labcore.datasets.transforms import image_to_tensor, tensor_to_image
from labcore.errors import ConfigError
from labssl.registry import TRANSFORMS


def _check_prob(name: str, prob: float) -> float:
    if not 0.0 <= prob <= 1.0:
        raise ConfigError(f"{name}.prob must lie in [0, 1], got {prob}.")
    return float(prob)


def _draw(prob: float) -> bool:
    return bool(torch.rand(1).item() < prob)


def build_transforms(cfgs: Sequence[dict]) -> list:
    """Transforms from configs, built in labssl's TRANSFORMS (so labcls's and labcore's
    resolve too); built transforms pass through."""
    return [TRANSFORMS.build(cfg) if isinstance(cfg, dict) else cfg for cfg in cfgs]


def _apply(transforms: list, results: dict) -> dict:
    for transform in transforms:
        results = transform(results)
    return results


@TRANSFORMS.register_module()
class RandomApply:
    """Apply ``transforms`` (in order) with probability ``prob``, else none of them."""

    def __init__(self, *, transforms: Sequence[dict], prob: float):
        self.transforms = build_transforms(transforms)
        self.prob = _check_prob("RandomApply", prob)

    def __call__(self, results: dict) -> dict:
        return _apply(self.transforms, results) if _draw(self.prob) else results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transforms={self.transforms}, prob={self.prob})"


@TRANSFORMS.register_module()
class RandomGrayscale:
    """With probability ``prob``, replace the image by its luma (ITU-R 601-2), kept in
    three channels."""

    def __init__(self, *, prob: float = 0.2):
        self.prob = _check_prob("RandomGrayscale", prob)

    def __call__(self, results: dict) -> dict:
        if _draw(self.prob):
            tensor = tvf.rgb_to_grayscale(image_to_tensor(results["img"]), num_output_channels=3)
            results["img"] = tensor_to_image(tensor)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prob={self.prob})"


@TRANSFORMS.register_module()
class GaussianBlur:
    """With probability ``prob``, blur with a Gaussian of sigma drawn uniformly from
    ``sigma_range`` (SimCLR: 0.1..2.0, kernel 10% of the image side, odd).

    Args:
        sigma_range: (min, max) standard deviation, in pixels.
        prob: probability of blurring.
        kernel_fraction: kernel side as a fraction of the shorter image side (made odd,
            at least 3).
    """

    def __init__(
        self,
        *,
        sigma_range: Sequence[float] = (0.1, 2.0),
        prob: float = 0.5,
        kernel_fraction: float = 0.1,
    ):
        if len(sigma_range) != 2 or not 0 < sigma_range[0] <= sigma_range[1]:
            raise ConfigError(
                f"GaussianBlur.sigma_range must be 0 < min <= max, got {sigma_range}."
            )
        self.sigma_range = (float(sigma_range[0]), float(sigma_range[1]))
        self.prob = _check_prob("GaussianBlur", prob)
        self.kernel_fraction = kernel_fraction

    def __call__(self, results: dict) -> dict:
        if not _draw(self.prob):
            return results
        tensor = image_to_tensor(results["img"])
        side = int(min(tensor.shape[-2:]) * self.kernel_fraction)
        kernel = max(3, side + (side + 1) % 2)
        sigma = float(torch.empty(1).uniform_(*self.sigma_range).item())
        results["img"] = tensor_to_image(tvf.gaussian_blur(tensor, [kernel, kernel], [sigma]))
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sigma_range={self.sigma_range}, prob={self.prob})"


@TRANSFORMS.register_module()
class Solarize:
    """With probability ``prob``, invert every pixel value at or above ``threshold``
    (BYOL's second view: prob 0.2)."""

    def __init__(self, *, threshold: int = 128, prob: float = 0.2):
        self.threshold = threshold
        self.prob = _check_prob("Solarize", prob)

    def __call__(self, results: dict) -> dict:
        if _draw(self.prob):
            tensor = tvf.solarize(image_to_tensor(results["img"]), float(self.threshold))
            results["img"] = tensor_to_image(tensor)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(threshold={self.threshold}, prob={self.prob})"


@TRANSFORMS.register_module()
class MultiView:
    """Several augmented views of one image.

    Group ``i`` of ``transforms`` makes ``num_views[i]`` views, each from a fresh copy of
    the loaded sample; ``results['img']`` becomes the list of all views, in group order
    (BYOL's two asymmetric views are two groups of one view each).

    Args:
        transforms: one list of transform configs per group.
        num_views: views per group (an int: the same for every group).
    """

    def __init__(self, *, transforms: Sequence[Sequence[dict]], num_views: int | Sequence[int]):
        if isinstance(num_views, int):
            num_views = [num_views] * len(transforms)
        if len(num_views) != len(transforms) or not transforms:
            raise ConfigError(
                f"MultiView needs one num_views entry per transform group, got "
                f"{len(num_views)} for {len(transforms)} groups."
            )
        self.pipelines = [build_transforms(group) for group in transforms]
        self.num_views = [int(n) for n in num_views]

    def __call__(self, results: dict) -> dict:
        views = []
        for pipeline, count in zip(self.pipelines, self.num_views):
            for _ in range(count):
                views.append(_apply(pipeline, copy.deepcopy(results))["img"])
        results["img"] = views
        results["img_shape"] = tuple(views[0].shape[:2])
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_views={self.num_views}, pipelines={self.pipelines})"
