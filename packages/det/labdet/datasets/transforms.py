"""Detection transforms: keep boxes and masks consistent with the image.

They act on the ``results`` dict of one sample (keys as in labcore.datasets.transforms:
``img`` ndarray[H, W, 3] uint8 RGB, ``img_shape``, ``ori_shape``, ``scale_factor``) plus

- ``gt_bboxes`` (ndarray[N, 4] float32, x1 y1 x2 y2 absolute), ``gt_labels`` (ndarray[N]
  int64), ``gt_ignore_flags`` (ndarray[N] bool, crowd regions), ``gt_masks``
  (ndarray[N, H, W] bool, with ``with_mask``): written by :class:`LoadDetAnnotations`.

Geometry goes through torchvision.transforms.v2 with tv_tensors (Image, BoundingBoxes,
Mask), so an image, its boxes and its masks are resized, flipped and padded together.
"""

from __future__ import annotations

import numpy as np
import torch
from mmengine.structures import BaseDataElement, InstanceData
from pycocotools import mask as mask_utils
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as tvf

from labcore.errors import ConfigError
from labdet.datasets.coco import AnnotationError
from labdet.registry import TRANSFORMS


def decode_segmentation(segm, height: int, width: int) -> np.ndarray:
    """A COCO segmentation (polygons, uncompressed or compressed RLE) as a bool ndarray[H, W]."""
    if isinstance(segm, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    elif isinstance(segm.get("counts"), list):
        rle = mask_utils.frPyObjects(segm, height, width)
    else:
        rle = segm
    return mask_utils.decode(rle).astype(bool)


def _geometry(results: dict) -> dict:
    """The tv_tensors of a sample: image, boxes and (when loaded) masks."""
    img = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(results["img"])).permute(2, 0, 1))
    height, width = results["img_shape"][:2]
    out = {"img": img}
    if "gt_bboxes" in results:
        out["gt_bboxes"] = tv_tensors.BoundingBoxes(
            torch.from_numpy(results["gt_bboxes"]), format="XYXY", canvas_size=(height, width)
        )
    if "gt_masks" in results:
        out["gt_masks"] = tv_tensors.Mask(torch.from_numpy(results["gt_masks"]))
    return out


def _store(results: dict, geometry: dict) -> dict:
    results["img"] = geometry["img"].permute(1, 2, 0).contiguous().numpy()
    results["img_shape"] = tuple(geometry["img"].shape[-2:])
    if "gt_bboxes" in geometry:
        results["gt_bboxes"] = (
            geometry["gt_bboxes"].as_subclass(torch.Tensor).numpy().astype(np.float32)
        )
    if "gt_masks" in geometry:
        results["gt_masks"] = geometry["gt_masks"].as_subclass(torch.Tensor).numpy().astype(bool)
    return results


@TRANSFORMS.register_module()
class LoadDetAnnotations:
    """Turn ``results['instances']`` into ``gt_bboxes``, ``gt_labels``, ``gt_ignore_flags``
    and, with ``with_mask``, ``gt_masks`` decoded at the image's current size.

    Put it right after image loading, before any geometric transform.
    """

    def __init__(self, *, with_mask: bool = False):
        self.with_mask = with_mask

    def __call__(self, results: dict) -> dict:
        instances = results.get("instances", [])
        results["gt_bboxes"] = np.array([i["bbox"] for i in instances], dtype=np.float32).reshape(
            -1, 4
        )
        results["gt_labels"] = np.array([i["bbox_label"] for i in instances], dtype=np.int64)
        results["gt_ignore_flags"] = np.array(
            [bool(i["ignore_flag"]) for i in instances], dtype=bool
        )
        if self.with_mask:
            if "ori_shape" in results:
                height, width = results["ori_shape"][:2]
            else:
                height, width = results["height"], results["width"]
            masks = []
            for inst in instances:
                if "mask" not in inst:
                    raise AnnotationError(
                        f"annotation id {inst.get('ann_id')} of image {results.get('img_path')} "
                        f"has no segmentation, but the pipeline loads masks (with_mask=True). "
                        f"Add the segmentation or load boxes only."
                    )
                masks.append(decode_segmentation(inst["mask"], height, width))
            results["gt_masks"] = (
                np.stack(masks) if masks else np.zeros((0, height, width), dtype=bool)
            )
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(with_mask={self.with_mask})"


@TRANSFORMS.register_module()
class DetResize:
    """Resize image, boxes and masks to ``scale`` (w, h), or as large as fits in it with
    ``keep_ratio`` (the long and short sides fit the long and short sides of ``scale``).

    ``scale_factor`` (w, h) records the total resize from the original image.
    """

    def __init__(self, *, scale: tuple[int, int], keep_ratio: bool = True):
        self.scale = tuple(scale)
        self.keep_ratio = keep_ratio

    def target_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) after resizing an image of ``height`` x ``width``."""
        if not self.keep_ratio:
            return self.scale[1], self.scale[0]
        long_edge, short_edge = max(self.scale), min(self.scale)
        ratio = min(long_edge / max(height, width), short_edge / min(height, width))
        return int(height * ratio + 0.5), int(width * ratio + 0.5)

    def __call__(self, results: dict) -> dict:
        height, width = results["img_shape"][:2]
        new_h, new_w = self.target_size(height, width)
        geometry = _geometry(results)
        resized = {k: tvf.resize(v, [new_h, new_w], antialias=True) for k, v in geometry.items()}
        if "gt_masks" in geometry:
            resized["gt_masks"] = tvf.resize(
                geometry["gt_masks"], [new_h, new_w], interpolation=tvf.InterpolationMode.NEAREST
            )
        _store(results, resized)
        old_w, old_h = results.get("scale_factor", (1.0, 1.0))
        results["scale_factor"] = (old_w * new_w / width, old_h * new_h / height)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale}, keep_ratio={self.keep_ratio})"


@TRANSFORMS.register_module()
class DetRandomFlip:
    """Flip image, boxes and masks horizontally with probability ``prob`` (torch's RNG)."""

    def __init__(self, *, prob: float = 0.5):
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        flip = bool(torch.rand(()) < self.prob)
        results["flip"] = flip
        results["flip_direction"] = "horizontal" if flip else None
        if flip:
            _store(results, {k: tvf.horizontal_flip(v) for k, v in _geometry(results).items()})
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prob={self.prob})"


@TRANSFORMS.register_module()
class DetPad:
    """Pad image (with ``pad_value``) and masks (with 0) at the bottom and right to a
    multiple of ``size_divisor``, or to exactly ``size`` (w, h) when given (MMDetection's
    ``Pad(size=...)``; ``pad_val=dict(img=(114, 114, 114))`` there is ``pad_value=114``
    here). Boxes keep their coordinates; ``img_shape`` stays the content's size and
    ``pad_shape`` (h, w) is set. An image larger than ``size`` is an error.
    """

    def __init__(
        self,
        *,
        size_divisor: int = 32,
        pad_value: int = 0,
        size: tuple[int, int] | None = None,
    ):
        if size is not None:
            size = tuple(int(v) for v in size)
            if len(size) != 2 or min(size) <= 0:
                raise ConfigError(
                    f"DetPad: size={list(size)} must be two positive sizes (w, h), "
                    f"e.g. size=(640, 640), or None to pad to a multiple of size_divisor."
                )
        self.size_divisor = size_divisor
        self.pad_value = pad_value
        self.size = size

    def __call__(self, results: dict) -> dict:
        height, width = results["img_shape"][:2]
        if self.size is None:
            d = self.size_divisor
            pad_h, pad_w = -height % d, -width % d
        else:
            pad_w, pad_h = self.size[0] - width, self.size[1] - height
            if pad_w < 0 or pad_h < 0:
                raise ConfigError(
                    f"DetPad: the image ({height} x {width}, h x w) is larger than "
                    f"size={self.size} (w, h); resize or crop it to fit first "
                    f"(e.g. DetRandomCrop), or use a larger size."
                )
        geometry = _geometry(results)
        padded = {"img": tvf.pad(geometry["img"], [0, 0, pad_w, pad_h], fill=self.pad_value)}
        if "gt_masks" in geometry:
            padded["gt_masks"] = tvf.pad(geometry["gt_masks"], [0, 0, pad_w, pad_h], fill=0)
        if "gt_bboxes" in geometry:
            padded["gt_bboxes"] = geometry["gt_bboxes"]
        img_shape = results["img_shape"]
        _store(results, padded)
        results["img_shape"] = img_shape  # the image content keeps its size
        results["pad_shape"] = (height + pad_h, width + pad_w)
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size_divisor={self.size_divisor}, "
            f"pad_value={self.pad_value}, size={self.size})"
        )


@TRANSFORMS.register_module()
class PackDetInputs:
    """Pack a sample as ``dict(inputs=uint8 Tensor[3, H, W], data_samples=BaseDataElement)``.

    The data sample holds metainfo (``img_id``, ``img_path``, ``ori_shape``, ``img_shape``,
    ``scale_factor``, ``flip`` and ``pad_shape`` when set) and, when annotations were
    loaded, ``gt_instances`` (bboxes Tensor[N, 4], labels Tensor[N], masks BoolTensor[N, H, W]
    when loaded) of the non-crowd objects and ``ignored_instances`` of the crowd ones.
    """

    META_KEYS = (
        "img_id",
        "img_path",
        "ori_shape",
        "img_shape",
        "scale_factor",
        "flip",
        "pad_shape",
    )

    def __call__(self, results: dict) -> dict:
        img = torch.from_numpy(np.ascontiguousarray(results["img"])).permute(2, 0, 1).contiguous()
        metainfo = {k: results[k] for k in self.META_KEYS if k in results}
        metainfo.setdefault("scale_factor", (1.0, 1.0))
        sample = BaseDataElement(metainfo=metainfo)
        if "gt_bboxes" in results:
            ignore = results["gt_ignore_flags"]
            for name, keep in (("gt_instances", ~ignore), ("ignored_instances", ignore)):
                instances = InstanceData(
                    bboxes=torch.from_numpy(results["gt_bboxes"][keep]),
                    labels=torch.from_numpy(results["gt_labels"][keep]),
                )
                if "gt_masks" in results:
                    instances.masks = torch.from_numpy(results["gt_masks"][keep])
                setattr(sample, name, instances)
        return dict(inputs=img, data_samples=sample)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
