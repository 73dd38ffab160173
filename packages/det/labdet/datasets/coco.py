"""COCO-format detection and instance-segmentation data sets, read through pycocotools."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mmengine.dataset import BaseDataset

from labcore.datasets.annotation_files import load_coco
from labcore.errors import ConfigError, LabError
from labdet.registry import DATASETS

if TYPE_CHECKING:
    from pycocotools.coco import COCO

LABEL_LAYOUTS = ("sorted", "category_id", "category_id-1")


class AnnotationError(LabError, ValueError):
    """An annotation of a COCO file is malformed."""


def _check_annotation(ann: dict, ann_file: str, cat_to_label: dict[int, int]) -> None:
    """Raise AnnotationError naming ``ann_file`` and the annotation id when ``ann`` is malformed."""
    ann_id = ann.get("id", "?")
    bbox = ann.get("bbox")
    where = f"annotation id {ann_id} (image id {ann.get('image_id', '?')}) of {ann_file}"
    if (
        not isinstance(bbox, (list, tuple))
        or len(bbox) != 4
        or not all(isinstance(v, (int, float)) for v in bbox)
    ):
        raise AnnotationError(
            f"{where} has bbox={bbox!r}; a COCO bbox is four numbers [x, y, width, height]. "
            f"Fix or remove that annotation."
        )
    if bbox[2] < 0 or bbox[3] < 0:
        side = "width" if bbox[2] < 0 else "height"
        raise AnnotationError(
            f"{where} has a negative {side}: bbox={bbox!r} is [x, y, width, height]. The "
            f"file may store [x1, y1, x2, y2] corners instead; fix or remove that annotation."
        )
    if ann.get("category_id") not in cat_to_label:
        raise AnnotationError(
            f"{where} has category_id={ann.get('category_id')!r}, which is not among the "
            f"file's categories {sorted(cat_to_label)}. Fix the id or add the category."
        )
    segm = ann.get("segmentation")
    if segm is not None and not isinstance(segm, (list, dict)):
        raise AnnotationError(
            f"{where} has a segmentation of type {type(segm).__name__}; give polygons "
            f"(a list of [x1, y1, x2, y2, ...]) or an RLE dict with 'size' and 'counts'."
        )


@DATASETS.register_module()
class CocoDataset(BaseDataset):
    """Images and their object annotations from a COCO JSON file.

    Each data item is a dict with ``img_id``, ``img_path``, ``height``, ``width`` and
    ``instances``: one dict per annotation with ``bbox`` [x1, y1, x2, y2] (absolute
    pixels), ``bbox_label`` (0-based; see ``label_layout``),
    ``ignore_flag`` (1 for ``iscrowd``) and ``mask`` (COCO polygons or RLE, when present).
    Boxes narrower or lower than ``min_box_size`` pixels are dropped, and one warning
    counts them. ``metainfo`` holds ``classes``, ``cat_ids`` (the category id of each
    label, which CocoMetric writes into its results) and ``ann_file``.

    Args:
        ann_file: the COCO JSON file, relative to ``data_root`` unless absolute.
        data_root: folder that relative paths start from.
        data_prefix: ``dict(img='train/')``: folder of the images, relative to ``data_root``.
        synthetic: when given, the data set is the synthetic shapes set
            ``labcore.datasets.synthetic.ensure_shapes('det', **synthetic)`` (generated on
            first use) and ``data_root`` is its folder, e.g.
            ``dict(num_train=1000, num_val=200, image_size=128, seed=0)``.
        filter_empty_gt: skip images without any non-crowd object (training only).
        min_box_size: smallest box width and height kept, in pixels.
        label_layout: how category ids become labels, the layout a model's class outputs
            follow. ``"sorted"``: label i is the i-th of the file's sorted category ids (80
            labels for COCO; MMDetection's layout). ``"category_id"``: label = category
            id, label 0 and the gaps unused (91 for COCO, whose ids run from 1 to 90 with
            10 unused: the class outputs of torchvision's RetinaNet and FCOS).
            ``"category_id-1"``: label = category id - 1 (90 for COCO: torchvision's
            Faster and Mask R-CNN, whose output 0 is the background). Unused labels are
            named ``"N/A"``, as torchvision names them.
        pipeline, test_mode, lazy_init, indices, max_refetch: as MMEngine's BaseDataset.
    """

    def __init__(
        self,
        *,
        ann_file: str,
        data_root: str | None = None,
        data_prefix: dict | None = None,
        synthetic: dict | None = None,
        filter_empty_gt: bool = False,
        min_box_size: float = 1.0,
        label_layout: str = "sorted",
        pipeline: Sequence = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        indices: int | Sequence[int] | None = None,
        max_refetch: int = 1000,
    ):
        if synthetic is not None:
            from labcore.datasets.synthetic import ensure_shapes

            data_root = str(ensure_shapes("det", **synthetic))
        if label_layout not in LABEL_LAYOUTS:
            raise ConfigError(
                f"CocoDataset: label_layout={label_layout!r} is not one of {LABEL_LAYOUTS}."
            )
        self.filter_empty_gt = filter_empty_gt
        self.min_box_size = min_box_size
        self.label_layout = label_layout
        super().__init__(
            ann_file=ann_file,
            data_root=data_root or "",
            data_prefix=dict(img="") if data_prefix is None else dict(data_prefix),
            filter_cfg=None,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            indices=indices,
            max_refetch=max_refetch,
        )

    def load_data_list(self) -> list[dict]:
        if not Path(self.ann_file).is_file():
            raise LabError(
                f"COCO annotation file not found: '{self.ann_file}'. Check the dataset's "
                f"data_root and ann_file."
            )
        coco = load_coco(self.ann_file)
        cat_ids = self._label_categories(coco)
        cat_to_label = {cat_id: i for i, cat_id in enumerate(cat_ids) if cat_id in coco.cats}
        self._metainfo.update(
            classes=tuple(coco.cats[c]["name"] if c in coco.cats else "N/A" for c in cat_ids),
            cat_ids=tuple(cat_ids),
            ann_file=str(self.ann_file),
        )
        img_dir = self.data_prefix.get("img", "")
        data_list, num_degenerate = [], 0
        for img_id in sorted(coco.getImgIds()):
            info = coco.imgs[img_id]
            instances = []
            for ann in coco.imgToAnns.get(img_id, []):
                _check_annotation(ann, self.ann_file, cat_to_label)
                x, y, w, h = (float(v) for v in ann["bbox"])
                if w < self.min_box_size or h < self.min_box_size:
                    num_degenerate += 1
                    continue
                instance = dict(
                    bbox=[x, y, x + w, y + h],
                    bbox_label=cat_to_label[ann["category_id"]],
                    ignore_flag=int(ann.get("iscrowd", 0)),
                    ann_id=ann.get("id"),
                )
                if ann.get("segmentation") is not None:
                    instance["mask"] = ann["segmentation"]
                instances.append(instance)
            data_list.append(
                dict(
                    img_id=img_id,
                    img_path=os.path.join(img_dir, info["file_name"]),
                    height=int(info["height"]),
                    width=int(info["width"]),
                    instances=instances,
                )
            )
        if num_degenerate:
            warnings.warn(
                f"{self.ann_file}: dropped {num_degenerate} boxes narrower or lower than "
                f"{self.min_box_size} px (min_box_size).",
                stacklevel=2,
            )
        return data_list

    def _label_categories(self, coco: COCO) -> list[int]:
        """The category id of each label, in label order (see ``label_layout``)."""
        ids = sorted(coco.getCatIds())
        if self.label_layout == "sorted":
            return ids
        first = 0 if self.label_layout == "category_id" else 1  # the id of label 0
        bad = [i for i in ids if not isinstance(i, int) or i < first]
        if bad:
            raise AnnotationError(
                f"{self.ann_file} has category ids {bad[:5]}; label_layout="
                f"{self.label_layout!r} needs integer ids from {first}. Use "
                f"label_layout='sorted' for this file."
            )
        return list(range(first, max(ids) + 1)) if ids else []

    def filter_data(self) -> list[dict]:
        """Without ``test_mode`` and with ``filter_empty_gt``, keep images with an object."""
        if self.test_mode or not self.filter_empty_gt:
            return self.data_list
        return [d for d in self.data_list if any(not i["ignore_flag"] for i in d["instances"])]
