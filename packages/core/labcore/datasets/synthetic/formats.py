"""Writers of the on-disk formats of the synthetic data sets.

- classification: ImageNet / MMPretrain style, ``classes.txt``, ``<split>/<class>/<id>.jpg``
  and ``meta/<split>.txt`` with lines ``<class>/<id>.jpg <label>``;
- detection and pose: COCO, ``<split>/<id>.jpg`` and
  ``annotations/instances_<split>.json`` (plus ``annotations/keypoints_<split>.json``
  for pose). A shape that nothing covers has its outline as a polygon; a partly covered
  one has the mask of its visible part as compressed RLE. Boxes and areas are those of
  the visible pixels;
- rotated detection: DOTA, ``<split>/images/<id>.jpg`` and ``<split>/labelTxt/<id>.txt``
  with one line per shape, ``x1 y1 x2 y2 x3 y3 x4 y4 <class> <difficult>``: the corners
  of the smallest rotated rectangle around the shape's visible outline (its polygon when
  nothing covers it, else its visible pixels), ``difficult`` 1 when less than
  :data:`DOTA_DIFFICULT_VISIBLE` of the shape is visible;
- semantic segmentation: ``images/<split>/<id>.jpg`` and ``annotations/<split>/<id>.png``
  (uint8 label map: 0 background, class ``k`` of ``classes.txt`` is value ``k``, 255 is
  ignore, on the outermost ring of each shape's visible pixels where JPEG blurs
  colours), with ``classes.txt`` starting with ``background``.

JPEG files use a fixed quality and JSON files sorted keys, so equal inputs give
byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from faster_coco_eval.core import mask as mask_utils
from PIL import Image

from labcore.datasets.synthetic.geometry import (
    KEYPOINT_NAMES,
    SHAPE_CLASSES,
    SKELETON,
    min_area_rectangle,
)
from labcore.datasets.synthetic.scene import Scene, ShapeInstance

JPEG_QUALITY = 90
IGNORE_INDEX = 255
DOTA_DIFFICULT_VISIBLE = 0.5


def image_name(index: int, suffix: str = ".jpg") -> str:
    """File name of the ``index``-th image of a split: ``000042.jpg``."""
    return f"{index:06d}{suffix}"


def save_jpeg(image: np.ndarray, path: Path) -> None:
    """Write ndarray[H, W, 3] uint8 RGB as a JPEG with :data:`JPEG_QUALITY`, 4:4:4."""
    Image.fromarray(image).save(path, format="JPEG", quality=JPEG_QUALITY, subsampling=0)


def write_json(data: dict, path: Path) -> None:
    """Write ``data`` as compact JSON with sorted keys (byte-stable)."""
    path.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")


def write_class_names(path: Path, names: Iterable[str]) -> None:
    path.write_text("".join(f"{name}\n" for name in names))


def write_classification_split(
    root: Path, split: str, images: Iterable[tuple[int, int, np.ndarray]]
) -> None:
    """Write ``(index, label, image)`` items as ``<split>/<class>/<id>.jpg`` and the
    annotation list ``meta/<split>.txt``."""
    (root / "meta").mkdir(parents=True, exist_ok=True)
    for name in SHAPE_CLASSES:
        (root / split / name).mkdir(parents=True, exist_ok=True)
    lines = []
    for index, label, image in images:
        relative = f"{SHAPE_CLASSES[label]}/{image_name(index)}"
        save_jpeg(image, root / split / relative)
        lines.append(f"{relative} {label}\n")
    (root / "meta" / f"{split}.txt").write_text("".join(lines))


def coco_categories(*, with_keypoints: bool) -> list[dict]:
    """COCO ``categories``: one per shape class, ids 1..K in :data:`SHAPE_CLASSES` order."""
    categories = []
    for index, name in enumerate(SHAPE_CLASSES):
        category = {"id": index + 1, "name": name, "supercategory": "shape"}
        if with_keypoints:
            category["keypoints"] = list(KEYPOINT_NAMES)
            category["skeleton"] = [list(link) for link in SKELETON]
        categories.append(category)
    return categories


def coco_annotation(
    instance: ShapeInstance, *, annotation_id: int, image_id: int, with_keypoints: bool
) -> dict:
    """The COCO annotation of one shape: visible box, area and segmentation."""
    height, width = instance.visible_mask.shape
    rle = mask_utils.encode(np.asfortranarray(instance.visible_mask.astype(np.uint8)))
    if instance.occluded:
        segmentation = {"size": [height, width], "counts": rle["counts"].decode("ascii")}
    else:
        segmentation = [instance.polygon.reshape(-1).tolist()]
    annotation = {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": instance.label + 1,
        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
        "area": int(mask_utils.area(rle)),
        "iscrowd": 0,
        "segmentation": segmentation,
    }
    if with_keypoints:
        keypoints = np.round(instance.keypoints, 2)
        annotation["keypoints"] = [
            value for x, y, v in keypoints.tolist() for value in (x, y, int(v))
        ]
        annotation["num_keypoints"] = int((keypoints[:, 2] > 0).sum())
    return annotation


def write_coco_split(
    root: Path,
    split: str,
    scenes: Iterable[tuple[int, Scene]],
    *,
    info: dict,
    with_keypoints: bool,
) -> None:
    """Write ``(index, scene)`` items as ``<split>/<id>.jpg`` and
    ``annotations/instances_<split>.json`` (and ``keypoints_<split>.json``)."""
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index, scene in scenes:
        name = image_name(index)
        save_jpeg(scene.image, root / split / name)
        height, width = scene.image.shape[:2]
        image_id = index + 1
        images.append({"id": image_id, "file_name": name, "height": height, "width": width})
        for instance in scene.instances:
            annotations.append(
                coco_annotation(
                    instance,
                    annotation_id=len(annotations) + 1,
                    image_id=image_id,
                    with_keypoints=with_keypoints,
                )
            )
    detection = {
        "info": info,
        "images": images,
        "annotations": [_without_keypoints(a) for a in annotations],
        "categories": coco_categories(with_keypoints=False),
    }
    write_json(detection, root / "annotations" / f"instances_{split}.json")
    if with_keypoints:
        pose = {
            "info": info,
            "images": images,
            "annotations": annotations,
            "categories": coco_categories(with_keypoints=True),
        }
        write_json(pose, root / "annotations" / f"keypoints_{split}.json")


def _without_keypoints(annotation: dict) -> dict:
    return {k: v for k, v in annotation.items() if k not in ("keypoints", "num_keypoints")}


def segmentation_label_map(scene: Scene) -> np.ndarray:
    """The label map of a scene: ndarray[H, W] uint8 (see the module docstring)."""
    height, width = scene.image.shape[:2]
    label_map = np.zeros((height, width), dtype=np.uint8)
    for instance in scene.instances:
        visible = instance.visible_mask
        label_map[visible] = instance.label + 1
        label_map[visible & ~_eroded(visible)] = IGNORE_INDEX
    return label_map


def _eroded(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` whose four neighbours are in ``mask`` too (outside = False)."""
    padded = np.pad(mask, 1, constant_values=False)
    return mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]


def write_segmentation_split(root: Path, split: str, scenes: Iterable[tuple[int, Scene]]):
    """Write ``(index, scene)`` items as ``images/<split>/<id>.jpg`` and
    ``annotations/<split>/<id>.png``."""
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "annotations" / split).mkdir(parents=True, exist_ok=True)
    for index, scene in scenes:
        save_jpeg(scene.image, root / "images" / split / image_name(index))
        Image.fromarray(segmentation_label_map(scene)).save(
            root / "annotations" / split / image_name(index, ".png"), format="PNG"
        )


def visible_outline_rectangle(instance: ShapeInstance) -> np.ndarray:
    """ndarray[4, 2]: the smallest rotated rectangle around the visible part of a shape (its
    polygon when nothing covers it, else the corners of its visible pixels), rounded to
    1/100 pixel."""
    if not instance.occluded:
        points = instance.polygon
    else:
        rows, columns = np.nonzero(instance.visible_mask)
        points = np.concatenate(
            [np.stack([columns + dx, rows + dy], axis=1) for dx in (0, 1) for dy in (0, 1)]
        )
    return np.round(min_area_rectangle(points), 2)


def dota_line(instance: ShapeInstance) -> str:
    """One DOTA label line: ``x1 y1 x2 y2 x3 y3 x4 y4 <class> <difficult>``."""
    corners = " ".join(f"{v:.2f}" for v in visible_outline_rectangle(instance).reshape(-1))
    visible = int(instance.visible_mask.sum()) / max(int(instance.full_mask.sum()), 1)
    difficult = int(visible < DOTA_DIFFICULT_VISIBLE)
    return f"{corners} {SHAPE_CLASSES[instance.label]} {difficult}\n"


def write_dota_split(root: Path, split: str, scenes: Iterable[tuple[int, Scene]]) -> None:
    """Write ``(index, scene)`` items as ``<split>/images/<id>.jpg`` and
    ``<split>/labelTxt/<id>.txt`` (DOTA's layout)."""
    (root / split / "images").mkdir(parents=True, exist_ok=True)
    (root / split / "labelTxt").mkdir(parents=True, exist_ok=True)
    for index, scene in scenes:
        save_jpeg(scene.image, root / split / "images" / image_name(index))
        lines = "".join(dota_line(instance) for instance in scene.instances)
        (root / split / "labelTxt" / image_name(index, ".txt")).write_text(lines)
