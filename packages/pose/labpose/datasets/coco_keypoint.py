"""COCO-format keypoint data sets for top-down pose estimation: one item per box."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from numbers import Number
from pathlib import Path

import numpy as np
from mmengine.dataset import BaseDataset
from pycocotools.coco import COCO

from labcore.errors import ConfigError, LabError
from labpose.datasets.metainfo import load_metainfo
from labpose.registry import DATASETS


class AnnotationError(LabError, ValueError):
    """An annotation of a keypoint file (or an entry of a box file) is malformed."""


def check_annotation(ann: dict, ann_file: str, num_keypoints: int) -> None:
    """Raise AnnotationError naming ``ann_file`` and the annotation id when ``ann``'s
    box, keypoint array or visibility flags are malformed."""
    where = (
        f"annotation id {ann.get('id', '?')} (image id {ann.get('image_id', '?')}) of {ann_file}"
    )
    bbox = ann.get("bbox")
    if (
        not isinstance(bbox, list | tuple)
        or len(bbox) != 4
        or not all(isinstance(v, Number) for v in bbox)
    ):
        raise AnnotationError(
            f"{where} has bbox={bbox!r}; a COCO bbox is four numbers [x, y, width, height]. "
            f"Fix or remove that annotation."
        )
    if bbox[2] < 0 or bbox[3] < 0:
        raise AnnotationError(
            f"{where} has a negative box size (bbox={bbox}); width and height must be >= 0."
        )
    keypoints = ann.get("keypoints")
    if (
        not isinstance(keypoints, list | tuple)
        or len(keypoints) != 3 * num_keypoints
        or not all(isinstance(v, Number) for v in keypoints)
    ):
        length = len(keypoints) if isinstance(keypoints, list | tuple) else type(keypoints).__name__
        raise AnnotationError(
            f"{where} has a keypoints array of length {length}; the metainfo declares "
            f"{num_keypoints} keypoints, so it must be {3 * num_keypoints} numbers "
            f"[x1, y1, v1, x2, y2, v2, ...]. Fix the annotation or the metainfo file."
        )
    flags = sorted({v for v in keypoints[2::3] if v not in (0, 1, 2)})
    if flags:
        raise AnnotationError(
            f"{where} has visibility flags {flags}; COCO flags are 0 (not labelled), "
            f"1 (labelled, hidden) or 2 (labelled, visible)."
        )


@DATASETS.register_module()
class CocoKeypointDataset(BaseDataset):
    """Top-down keypoint samples from a COCO keypoint JSON file: one item per box.

    Each item holds ``img_id``, ``img_path``, ``id`` (the annotation id, or the index of
    the detection in ``bbox_file``), ``category_id``, ``bbox_label`` (0-based in the
    order of the sorted category ids), ``bbox`` (ndarray[1, 4] x1 y1 x2 y2),
    ``bbox_score`` (ndarray[1]), ``keypoints`` (ndarray[1, K, 2]), ``keypoints_visible``
    (ndarray[1, K], 1 where labelled), ``area`` and the metainfo's ``flip_indices``,
    ``upper_body_ids`` and ``lower_body_ids``.

    Args:
        ann_file: COCO keypoint JSON, relative to ``data_root`` unless absolute.
        metainfo: the keypoint metainfo (:func:`load_metainfo`): ``dict(from_file=...)``
            of a YAML path or 'coco' / 'shapes'; default 'shapes' with ``synthetic`` and
            'coco' otherwise.
        data_root, data_prefix: folders of the files (``data_prefix=dict(img='val2017/')``).
        synthetic: the synthetic shapes keypoints set
            ``labcore.datasets.synthetic.ensure_shapes('pose', **synthetic)``, generated on
            first use; ``data_root`` is its folder.
        bbox_file: (test only) a COCO results JSON of a detector's boxes
            (``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]``): the
            samples are these boxes instead of the ground-truth ones.
        bbox_score_thr: boxes of ``bbox_file`` scoring below it are dropped.
        pipeline, test_mode, lazy_init, indices, max_refetch: as MMEngine's BaseDataset.

    Crowd annotations and annotations with no labelled keypoint are skipped.
    """

    def __init__(
        self,
        *,
        ann_file: str,
        metainfo: str | dict | None = None,
        data_root: str | None = None,
        data_prefix: dict | None = None,
        synthetic: dict | None = None,
        bbox_file: str | None = None,
        bbox_score_thr: float = 0.0,
        pipeline: Sequence = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        indices: int | Sequence[int] | None = None,
        max_refetch: int = 1000,
    ):
        if synthetic is not None:
            from labcore.datasets.synthetic import ensure_shapes

            data_root = str(ensure_shapes("pose", **synthetic))
        if bbox_file is not None and not test_mode:
            raise ConfigError(
                f"CocoKeypointDataset bbox_file={bbox_file!r} is for testing (test_mode=True): "
                f"training needs the ground-truth boxes and keypoints."
            )
        self.keypoint_meta = load_metainfo(metainfo or ("shapes" if synthetic else "coco"))
        self.bbox_file = bbox_file
        self.bbox_score_thr = float(bbox_score_thr)
        super().__init__(
            ann_file=ann_file,
            metainfo=dict(self.keypoint_meta),
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
                f"COCO keypoint annotation file not found: '{self.ann_file}'. Check the "
                f"dataset's data_root and ann_file."
            )
        coco = COCO(self.ann_file)
        cat_ids = sorted(coco.getCatIds())
        self._metainfo.update(
            classes=tuple(coco.cats[c]["name"] for c in cat_ids),
            cat_ids=tuple(cat_ids),
            ann_file=str(self.ann_file),
            bbox_file=self.bbox_file,
        )
        if self.bbox_file is not None:
            return self._load_detections(coco, cat_ids)
        num_keypoints = self.keypoint_meta["num_keypoints"]
        data_list, degenerate = [], 0
        for img_id in sorted(coco.getImgIds()):
            image = coco.imgs[img_id]
            for ann in coco.imgToAnns.get(img_id, []):
                check_annotation(ann, self.ann_file, num_keypoints)
                points = np.asarray(ann["keypoints"], dtype=np.float32).reshape(num_keypoints, 3)
                if ann.get("iscrowd", 0) or not (points[:, 2] > 0).any():
                    continue
                x, y, w, h = (float(v) for v in ann["bbox"])
                if w <= 0 or h <= 0:
                    degenerate += 1
                    continue
                data_list.append(
                    self._item(
                        image, img_id, ann["id"], ann["category_id"], cat_ids, [x, y, w, h],
                        1.0, points, float(ann.get("area", w * h)),
                    )
                )  # fmt: skip
        if degenerate:
            warnings.warn(
                f"{self.ann_file}: skipped {degenerate} annotations with an empty box.",
                stacklevel=2,
            )
        return data_list

    def _item(self, image, img_id, ann_id, category_id, cat_ids, xywh, score, points, area):
        x, y, w, h = xywh
        return dict(
            img_id=int(img_id),
            img_path=os.path.join(self.data_prefix.get("img", ""), image["file_name"]),
            id=int(ann_id),
            category_id=int(category_id),
            bbox_label=cat_ids.index(category_id),
            bbox=np.array([[x, y, x + w, y + h]], dtype=np.float32),
            bbox_score=np.array([score], dtype=np.float32),
            keypoints=points[None, :, :2].copy(),
            keypoints_visible=(points[None, :, 2] > 0).astype(np.float32),
            area=area,
        )

    def _load_detections(self, coco: COCO, cat_ids: list[int]) -> list[dict]:
        path = Path(self.bbox_file)
        if not path.is_file():
            raise ConfigError(
                f"CocoKeypointDataset bbox_file '{path}' does not exist; give a COCO results "
                f"JSON of detected boxes, or leave bbox_file out to use the ground-truth boxes."
            )
        detections = json.loads(path.read_text())
        if not isinstance(detections, list):
            raise AnnotationError(
                f"{path} holds a {type(detections).__name__}; a COCO results file is a list "
                f"of {{image_id, category_id, bbox, score}} entries."
            )
        num_keypoints = self.keypoint_meta["num_keypoints"]
        empty = np.zeros((num_keypoints, 3), dtype=np.float32)
        data_list = []
        for index, det in enumerate(detections):
            where = f"entry {index} of {path}"
            bbox = det.get("bbox") if isinstance(det, dict) else None
            if not isinstance(bbox, list) or len(bbox) != 4 or bbox[2] < 0 or bbox[3] < 0:
                raise AnnotationError(
                    f"{where} has bbox={bbox!r}; each detection needs a box [x, y, width, "
                    f"height] with non-negative size, an image_id and a score."
                )
            if det.get("image_id") not in coco.imgs:
                raise AnnotationError(
                    f"{where} names image_id {det.get('image_id')!r}, which is not in "
                    f"{self.ann_file}; the box file must come from the same images."
                )
            category = det.get("category_id", cat_ids[0])
            if category not in cat_ids:
                continue  # another class of a multi-class detector
            score = float(det.get("score", 1.0))
            if score < self.bbox_score_thr or bbox[2] == 0 or bbox[3] == 0:
                continue
            image = coco.imgs[det["image_id"]]
            data_list.append(
                self._item(
                    image, det["image_id"], index, category, cat_ids,
                    [float(v) for v in bbox], score, empty, float(bbox[2] * bbox[3]),
                )
            )  # fmt: skip
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        for key in ("flip_indices", "upper_body_ids", "lower_body_ids", "skeleton", "sigmas"):
            info[key] = self.keypoint_meta[key]
        return info
