"""DOTA-format rotated detection data sets: one label text file per image."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from mmengine.dataset import BaseDataset

from labcore.errors import LabError, close_matches
from labrot.registry import DATASETS
from labrot.structures import check_angle_version, poly_to_rbox, polygon_area

DOTA_V1_CLASSES: tuple[str, ...] = (
    "plane", "baseball-diamond", "bridge", "ground-track-field", "small-vehicle",
    "large-vehicle", "ship", "tennis-court", "basketball-court", "storage-tank",
    "soccer-ball-field", "roundabout", "harbor", "swimming-pool", "helicopter",
)  # fmt: skip
"""The 15 classes of DOTA v1.0, in the order of its devkit."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_HEADER_PREFIXES = ("imagesource:", "gsd:")


class DOTAFormatError(LabError, ValueError):
    """A line of a DOTA label file cannot be read."""


def parse_dota_line(
    line: str, class_to_label: dict[str, int], where: str
) -> tuple[list[float], int, int]:
    """``(polygon [x1, y1, ..., x4, y4], label, difficult)`` of one DOTA label line.

    ``where`` names the file and line for the message of a :class:`DOTAFormatError`,
    raised for a line that is not ``x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]`` or whose
    class is not one of ``class_to_label``.
    """
    fields = line.split()
    if len(fields) not in (9, 10):
        raise DOTAFormatError(
            f"{where}: {line.strip()!r} has {len(fields)} fields; a DOTA label line is "
            f"'x1 y1 x2 y2 x3 y3 x4 y4 class difficult'. Fix or remove the line."
        )
    try:
        polygon = [float(v) for v in fields[:8]]
        difficult = int(fields[9]) if len(fields) == 10 else 0
    except ValueError:
        raise DOTAFormatError(
            f"{where}: {line.strip()!r} does not parse: the first eight fields must be "
            f"numbers and the tenth (difficult) an integer. Fix or remove the line."
        ) from None
    name = fields[8]
    if name not in class_to_label:
        matches = close_matches(name, class_to_label)
        hint = f" Did you mean {matches[0]!r}?" if matches else ""
        raise DOTAFormatError(
            f"{where}: unknown class {name!r}.{hint} The data set's classes are "
            f"{', '.join(class_to_label)}; fix the name or pass `classes`."
        )
    return polygon, class_to_label[name], difficult


@DATASETS.register_module()
class DOTADataset(BaseDataset):
    """Images and oriented boxes in the DOTA format.

    ``<data_root>/<data_prefix.img>`` holds the images and ``<data_root>/<data_prefix.ann>``
    one ``<image stem>.txt`` per image, with a line ``x1 y1 x2 y2 x3 y3 x4 y4 class
    difficult`` per object (DOTA's ``imagesource:`` and ``gsd:`` header lines are
    skipped). Each data item is a dict with ``img_id`` (the stem), ``img_path``,
    ``height``, ``width`` and ``instances``: one dict per object with ``bbox`` (the
    smallest rotated rectangle around the polygon, ``[cx, cy, w, h, angle]`` in
    ``angle_version``), ``polygon`` (the 8 numbers as written), ``bbox_label``,
    ``difficult`` and ``ignore_flag`` (0; see LoadRotatedAnnotations).

    Bad input: a line that does not parse or names an unknown class raises a
    :class:`DOTAFormatError` naming the file and the line; a degenerate polygon (area
    below ``min_polygon_area`` px^2) is skipped, and one warning counts them and names
    the first.

    Args:
        data_root: folder that the prefixes start from.
        data_prefix: ``dict(img='train/images/', ann='train/labelTxt/')``.
        classes: the class names in label order; DOTA v1.0's 15 by default, or the
            ``classes.txt`` of ``data_root`` when it has one.
        angle_version: convention of the boxes, ``'oc'``, ``'le90'`` or ``'le135'``.
        synthetic: the rotated shapes set instead, ``dict(num_train=..., num_val=...,
            image_size=..., seed=..., version=...)`` for
            ``labcore.datasets.synthetic.ensure_shapes('rot', ...)`` (generated on first
            use); ``data_root`` is then its folder.
        filter_empty_gt: without ``test_mode``, skip images without objects.
        min_polygon_area: smallest polygon area kept.
        pipeline, test_mode, lazy_init, indices, max_refetch: as MMEngine's BaseDataset.
    """

    def __init__(
        self,
        *,
        data_root: str | None = None,
        data_prefix: dict | None = None,
        classes: Sequence[str] | None = None,
        angle_version: str = "le90",
        synthetic: dict | None = None,
        filter_empty_gt: bool = False,
        min_polygon_area: float = 1.0,
        pipeline: Sequence = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        indices: int | Sequence[int] | None = None,
        max_refetch: int = 1000,
    ):
        check_angle_version(angle_version)
        if synthetic is not None:
            from labcore.datasets.synthetic import ensure_shapes

            data_root = str(ensure_shapes("rot", **synthetic))
        self.angle_version = angle_version
        self.filter_empty_gt = filter_empty_gt
        self.min_polygon_area = min_polygon_area
        self._classes = tuple(classes) if classes is not None else None
        super().__init__(
            ann_file="",
            data_root=data_root or "",
            data_prefix=dict(img="images/", ann="labelTxt/")
            if data_prefix is None
            else dict(data_prefix),
            filter_cfg=None,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            indices=indices,
            max_refetch=max_refetch,
        )

    def _class_names(self) -> tuple[str, ...]:
        if self._classes is not None:
            return self._classes
        listed = Path(self.data_root) / "classes.txt"
        if listed.is_file():
            return tuple(n.strip() for n in listed.read_text().splitlines() if n.strip())
        return DOTA_V1_CLASSES

    def load_data_list(self) -> list[dict]:
        img_dir = Path(self.data_prefix.get("img", ""))
        ann_dir = Path(self.data_prefix.get("ann", ""))
        for folder, what in ((img_dir, "img"), (ann_dir, "ann")):
            if not folder.is_dir():
                raise LabError(
                    f"DOTA {what} folder '{folder}' does not exist. Check the dataset's "
                    f"data_root and data_prefix.{what}."
                )
        classes = self._class_names()
        class_to_label = {name: i for i, name in enumerate(classes)}
        self._metainfo.update(classes=classes, angle_version=self.angle_version)
        images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        data_list, degenerate = [], []
        for image in images:
            label_file = ann_dir / f"{image.stem}.txt"
            instances = []
            if label_file.is_file():
                instances = self._read_label_file(label_file, class_to_label, degenerate)
            height, width = _image_size(image)
            data_list.append(
                dict(
                    img_id=image.stem,
                    img_path=os.fspath(image),
                    height=height,
                    width=width,
                    instances=instances,
                    angle_version=self.angle_version,  # what the rotating transforms follow
                )
            )
        if degenerate:
            warnings.warn(
                f"{ann_dir}: skipped {len(degenerate)} degenerate polygons (area below "
                f"{self.min_polygon_area} px^2, min_polygon_area), the first at {degenerate[0]}.",
                stacklevel=2,
            )
        return data_list

    def _read_label_file(
        self, path: Path, class_to_label: dict[str, int], degenerate: list[str]
    ) -> list[dict]:
        parsed = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip() or line.startswith(_HEADER_PREFIXES):
                continue
            where = f"{path}:{number}"
            polygon, label, difficult = parse_dota_line(line, class_to_label, where)
            parsed.append((where, polygon, label, difficult))
        if not parsed:
            return []
        polygons = torch.tensor([p[1] for p in parsed], dtype=torch.float64)
        areas = polygon_area(polygons)
        boxes = poly_to_rbox(polygons, self.angle_version).float()
        instances = []
        for (where, polygon, label, difficult), area, box in zip(parsed, areas, boxes):
            if area < self.min_polygon_area:
                degenerate.append(where)
                continue
            instances.append(
                dict(
                    bbox=box.tolist(),
                    polygon=polygon,
                    bbox_label=label,
                    difficult=difficult,
                    ignore_flag=0,
                )
            )
        return instances

    def filter_data(self) -> list[dict]:
        """Without ``test_mode`` and with ``filter_empty_gt``, keep images with an object."""
        if self.test_mode or not self.filter_empty_gt:
            return self.data_list
        return [d for d in self.data_list if d["instances"]]


def _image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file, read from its header."""
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
    return height, width
