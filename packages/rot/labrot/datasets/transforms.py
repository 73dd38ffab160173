"""Rotated detection transforms: keep oriented boxes consistent with the image.

They act on the ``results`` dict of one sample (keys as in labdet.datasets.transforms)
with ``gt_bboxes`` ndarray[N, 5] float32 ``(cx, cy, w, h, angle)`` written by
:class:`LoadRotatedAnnotations`. labdet's ``PackDetInputs`` packs the sample: its
``gt_instances.bboxes`` are then Tensor[N, 5].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from labcore.errors import LabError
from labrot.registry import TRANSFORMS
from labrot.structures import (
    FLIP_DIRECTIONS,
    check_angle_version,
    flip_rboxes,
    rot90_rboxes,
)


@TRANSFORMS.register_module()
class LoadRotatedAnnotations:
    """Turn ``results['instances']`` into ``gt_bboxes`` (ndarray[N, 5]), ``gt_labels`` and
    ``gt_ignore_flags``.

    With ``difficult_as_ignored`` the objects marked difficult become ignored (labdet's
    PackDetInputs puts them into ``ignored_instances``): DOTA's evaluation skips them.
    Training keeps them as ordinary objects, as MMRotate does.
    """

    def __init__(self, *, difficult_as_ignored: bool = False):
        self.difficult_as_ignored = difficult_as_ignored

    def __call__(self, results: dict) -> dict:
        instances = results.get("instances", [])
        results["gt_bboxes"] = np.array([i["bbox"] for i in instances], dtype=np.float32).reshape(
            -1, 5
        )
        results["gt_labels"] = np.array([i["bbox_label"] for i in instances], dtype=np.int64)
        ignore = [
            bool(i["ignore_flag"]) or (self.difficult_as_ignored and bool(i.get("difficult", 0)))
            for i in instances
        ]
        results["gt_ignore_flags"] = np.array(ignore, dtype=bool)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(difficult_as_ignored={self.difficult_as_ignored})"


def sample_angle_version(results: dict, transform) -> str:
    """The convention ``transform`` regularises boxes into: its own ``angle_version``, else
    the sample's (``results['angle_version']``, written by the dataset)."""
    version = transform.angle_version or results.get("angle_version")
    if version is None:
        raise LabError(
            f"{type(transform).__name__}: the sample says no angle_version (its dataset "
            "writes none); give the transform angle_version='le90' (or 'oc', 'le135')."
        )
    return version


def _transform_boxes(results: dict, transform) -> None:
    if "gt_bboxes" in results and len(results["gt_bboxes"]):
        boxes = torch.from_numpy(results["gt_bboxes"]).double()
        results["gt_bboxes"] = transform(boxes).numpy().astype(np.float32)


@TRANSFORMS.register_module()
class RotatedRandomFlip:
    """Flip image and rotated boxes with probability ``prob``, in one of ``directions``
    (``'horizontal'``, ``'vertical'``, ``'diagonal'``) drawn uniformly (torch's RNG).

    Boxes are flipped as their polygons are (the angle is mirrored) and regularised into
    ``angle_version``; None (the default): the sample's own convention, which
    :class:`~labrot.datasets.DOTADataset` writes into each sample (``angle_version``), so
    one setting, the dataset's, decides the convention of the whole pipeline.
    """

    def __init__(
        self,
        *,
        prob: float = 0.5,
        directions: Sequence[str] = ("horizontal",),
        angle_version: str | None = None,
    ):
        unknown = [d for d in directions if d not in FLIP_DIRECTIONS]
        if unknown or not directions:
            raise LabError(
                f"RotatedRandomFlip: directions {list(directions)} must name one or more of "
                f"{', '.join(FLIP_DIRECTIONS)}."
            )
        if angle_version is not None:
            check_angle_version(angle_version)
        self.prob = prob
        self.directions = tuple(directions)
        self.angle_version = angle_version

    def __call__(self, results: dict) -> dict:
        flip = bool(torch.rand(()) < self.prob)
        direction = self.directions[int(torch.randint(len(self.directions), ()))]
        results["flip"] = flip
        results["flip_direction"] = direction if flip else None
        if flip:
            self.apply(results, direction)
        return results

    def apply(self, results: dict, direction: str) -> dict:
        """Flip ``results`` in ``direction``."""
        img = results["img"]
        if direction in ("horizontal", "diagonal"):
            img = img[:, ::-1]
        if direction in ("vertical", "diagonal"):
            img = img[::-1]
        img_shape = tuple(results["img_shape"][:2])
        results["img"] = np.ascontiguousarray(img)
        version = sample_angle_version(results, self)
        _transform_boxes(results, lambda b: flip_rboxes(b, img_shape, direction, version))
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prob={self.prob}, directions={self.directions})"


@TRANSFORMS.register_module()
class RandomRotate90:
    """With probability ``prob``, turn image and rotated boxes by 90, 180 or 270 degrees
    (counter-clockwise on screen, ``numpy.rot90``; drawn uniformly, torch's RNG).

    Boxes turn with the image (the angle decreases by a quarter turn per turn) and are
    regularised into ``angle_version`` (None, the default: the sample's, as for
    :class:`RotatedRandomFlip`); ``img_shape`` swaps for odd turns.
    """

    def __init__(self, *, prob: float = 0.5, angle_version: str | None = None):
        if angle_version is not None:
            check_angle_version(angle_version)
        self.prob = prob
        self.angle_version = angle_version

    def __call__(self, results: dict) -> dict:
        turn = bool(torch.rand(()) < self.prob)
        k = int(torch.randint(1, 4, ())) if turn else 0
        results["rot90"] = k
        if k:
            self.apply(results, k)
        return results

    def apply(self, results: dict, k: int) -> dict:
        """Turn ``results`` by ``k`` quarter turns."""
        img_shape = tuple(results["img_shape"][:2])
        results["img"] = np.ascontiguousarray(np.rot90(results["img"], k))
        results["img_shape"] = tuple(results["img"].shape[:2])
        version = sample_angle_version(results, self)
        _transform_boxes(results, lambda b: rot90_rboxes(b, img_shape, k, version))
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prob={self.prob})"
