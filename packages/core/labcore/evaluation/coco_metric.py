"""COCO evaluation of boxes, masks and keypoints, computed with faster-coco-eval.

:class:`CocoMetric` reads the data samples of the detection contract (one per image):
metainfo ``img_id`` and ``pred_instances`` with ``bboxes`` (Tensor[N, 4] x1, y1, x2, y2
in original image pixels), ``scores`` (Tensor[N]), ``labels`` (Tensor[N], 0-based: label
i is the category id ``cat_ids[i]`` of the evaluated data set's metainfo, or without one
the i-th sorted category id of ``ann_file``) and, for 'segm', ``masks``
(BoolTensor[N, H, W] at original size); for 'keypoints', ``keypoints``
(Tensor[N, K, 2]) and ``keypoint_scores`` (Tensor[N, K]).

The numbers are those of pycocotools' COCOeval (the reference; the tests compare both)
computed by faster-coco-eval's C++ implementation. Mask results carry their box too, as
MMDetection and Detectron2 write them, so COCOeval takes a mask's area from its box.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from faster_coco_eval import COCO, COCOeval_faster
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from pycocotools import mask as mask_utils

from labcore.datasets.annotation_files import load_coco
from labcore.errors import ConfigError, LabError
from labcore.registry import METRICS

METRIC_TYPES = ("bbox", "segm", "keypoints")

DETECTION_STAT_NAMES = (
    "mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l",
    "AR_1", "AR_10", "AR_100", "AR_s", "AR_m", "AR_l",
)  # fmt: skip
"""Names of COCOeval's twelve summary numbers for 'bbox' and 'segm', in its order
(AR_1 / AR_10 / AR_100 name the ``max_dets``; they follow the values given)."""

KEYPOINT_STAT_NAMES = (
    "mAP", "mAP_50", "mAP_75", "mAP_m", "mAP_l", "AR", "AR_50", "AR_75", "AR_m", "AR_l",
)  # fmt: skip
"""Names of COCOeval's ten summary numbers for 'keypoints', in its order."""

COCO_PERSON_KEYPOINT_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip
"""COCO's OKS sigmas of the 17 person keypoints (pycocotools' defaults)."""


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _as_dict(element) -> dict:
    if isinstance(element, BaseDataElement):
        return element.to_dict()
    return element


def encode_masks(masks) -> list[dict]:
    """Compressed RLEs (``counts`` as str, JSON-ready) of BoolTensor/ndarray[N, H, W].

    Masks that a model already encoded (a list of RLE dicts) pass through, with their
    ``counts`` made a str."""
    if isinstance(masks, (list, tuple)) and all(isinstance(m, dict) for m in masks):
        return [
            dict(
                m,
                counts=m["counts"].decode("ascii")
                if isinstance(m["counts"], bytes)
                else m["counts"],
            )
            for m in masks
        ]
    masks = _to_numpy(masks).astype(np.uint8)
    if len(masks) == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0)))
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return rles


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """ndarray[N, 4] (x1, y1, x2, y2) -> ndarray[N, 4] (x, y, width, height)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, 2:] -= boxes[:, :2]
    return boxes


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO average precision and recall of boxes, masks or keypoints.

    Args:
        ann_file: COCO JSON file of the ground truth of the evaluated images.
        metric: 'bbox', 'segm', 'keypoints', or a list of them.
        classwise: also report the AP of each category (``<metric>_<name>_AP``) and log
            a table of them.
        max_dets: the detections per image COCOeval keeps for 'bbox' and 'segm' (its
            ``maxDets``); 'keypoints' keeps COCO's 20 poses per image.
        iou_thrs: IoU thresholds; default COCO's 0.50:0.05:0.95.
        keypoint_sigmas: per-keypoint OKS sigmas; default COCO's person sigmas when the
            category has 17 keypoints (required otherwise).
        outfile_prefix: where to write the predictions as COCO result JSON
            (``<prefix>.bbox.json``, ``<prefix>.segm.json``, ...).
        format_only: only write the result files, return no metrics (for test-server
            submissions); needs ``outfile_prefix``.
        collect_device, prefix, collect_dir: as in :class:`mmengine.evaluator.BaseMetric`.

    Returned keys (with the ``coco/`` prefix): ``bbox_mAP``, ``bbox_mAP_50``,
    ``bbox_mAP_75``, ``bbox_mAP_s``, ``bbox_mAP_m``, ``bbox_mAP_l``, ``bbox_AR_1``,
    ``bbox_AR_10``, ``bbox_AR_100``, ``bbox_AR_s``, ``bbox_AR_m``, ``bbox_AR_l``; the
    same for ``segm``; :data:`KEYPOINT_STAT_NAMES` for ``keypoints``. A value of -1
    means that no ground truth falls in that range, as in COCOeval.
    """

    default_prefix = "coco"

    def __init__(
        self,
        *,
        ann_file: str | os.PathLike,
        metric: str | Sequence[str] = "bbox",
        classwise: bool = False,
        max_dets: Sequence[int] = (1, 10, 100),
        iou_thrs: Sequence[float] | None = None,
        keypoint_sigmas: Sequence[float] | None = None,
        outfile_prefix: str | None = None,
        format_only: bool = False,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        metrics = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in metrics if m not in METRIC_TYPES]
        if unknown or not metrics:
            raise ConfigError(
                f"CocoMetric metric={metric!r}: {unknown or 'empty'} is not supported; "
                f"use one or more of {', '.join(METRIC_TYPES)}."
            )
        if format_only and outfile_prefix is None:
            raise ConfigError(
                "CocoMetric format_only=True writes result files only: set outfile_prefix "
                "to where they should go (e.g. 'work_dirs/results/coco')."
            )
        if len(max_dets) != 3:
            raise ConfigError(
                f"CocoMetric max_dets={tuple(max_dets)} must hold three values, like COCO's "
                f"(1, 10, 100), since COCOeval summarises recall at three of them."
            )
        self.ann_file = Path(ann_file)
        self.metrics = metrics
        self.classwise = classwise
        self.max_dets = [int(m) for m in max_dets]
        self.iou_thrs = None if iou_thrs is None else np.asarray(iou_thrs, dtype=np.float64)
        self.keypoint_sigmas = keypoint_sigmas
        self.outfile_prefix = outfile_prefix
        self.format_only = format_only
        self._coco_gt: COCO | None = None

    # ----------------------------------------------------------------- per batch
    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep the predictions of each sample as numpy arrays and mask RLEs."""
        for sample in data_samples:
            sample = _as_dict(sample)
            img_id = int(sample["img_id"])
            pred = _as_dict(sample["pred_instances"])
            result = {
                "img_id": img_id,
                "scores": _to_numpy(self._field(pred, "scores", img_id)).astype(np.float64),
            }
            result["scores"] = result["scores"].reshape(-1)
            num = len(result["scores"])
            only_keypoints = self.metrics == ["keypoints"]
            if only_keypoints and "bboxes" not in pred:  # top-down pose predicts no boxes
                result["bboxes"] = np.zeros((num, 4))
            else:
                result["bboxes"] = _to_numpy(self._field(pred, "bboxes", img_id))
                result["bboxes"] = result["bboxes"].astype(np.float64).reshape(-1, 4)
            if only_keypoints and "labels" not in pred:  # one category, as in COCO person
                result["labels"] = np.zeros(num, dtype=np.int64)
            else:
                result["labels"] = _to_numpy(self._field(pred, "labels", img_id))
                result["labels"] = result["labels"].astype(np.int64).reshape(-1)
            if "segm" in self.metrics:
                result["masks"] = encode_masks(self._field(pred, "masks", img_id))
            if "keypoints" in self.metrics:
                keypoints = _to_numpy(self._field(pred, "keypoints", img_id))
                scores = _to_numpy(self._field(pred, "keypoint_scores", img_id))
                result["keypoints"] = keypoints.astype(np.float64)
                result["keypoint_scores"] = scores.astype(np.float64)
            self.results.append(result)

    def _field(self, pred: dict, key: str, img_id: int):
        if key not in pred:
            raise LabError(
                f"CocoMetric metric={self.metrics} needs pred_instances.{key}, but the "
                f"prediction of image {img_id} has only {sorted(pred)}. Evaluate the metrics "
                f"that the model predicts (e.g. metric='bbox' for a model without masks)."
            )
        return pred[key]

    # ----------------------------------------------------------------- at the end
    def compute_metrics(self, results: list) -> dict[str, float]:
        """Evaluate the collected results of all images against ``ann_file``."""
        coco_gt = self._ground_truth()
        cat_ids = self._label_categories(coco_gt)
        img_ids = sorted({r["img_id"] for r in results})
        missing = sorted(set(img_ids) - set(coco_gt.getImgIds()))
        if missing:
            raise LabError(
                f"CocoMetric: image ids {missing[:5]} of the predictions are not in "
                f"{self.ann_file}. Evaluate with the annotation file of the evaluated "
                f"data set (the dataloader's ann_file)."
            )
        predictions = {m: self.results_to_coco(results, cat_ids, m) for m in self.metrics}
        self._dump(predictions)
        if self.format_only:
            return {}
        metrics: dict[str, float] = {}
        for metric in self.metrics:
            evaluator = self._evaluate(coco_gt, predictions[metric], metric, img_ids)
            if metric == "keypoints":
                names = list(KEYPOINT_STAT_NAMES)
            else:
                names = list(DETECTION_STAT_NAMES)
                names[6:9] = [f"AR_{m}" for m in self.max_dets]
            for name, value in zip(names, evaluator.stats):
                metrics[f"{metric}_{name}"] = float(value)
            if self.classwise:
                metrics.update(self._classwise(coco_gt, evaluator, metric, cat_ids))
        return metrics

    def _label_categories(self, coco_gt: COCO) -> list[int]:
        """The COCO category id of each predicted label: the evaluated data set's
        ``cat_ids`` (its metainfo) when it lists them, so a data set decides its label
        layout (labdet's ``label_layout``), else the annotation file's sorted ids."""
        listed = (self.dataset_meta or {}).get("cat_ids")
        return [int(c) for c in listed] if listed else sorted(coco_gt.getCatIds())

    def results_to_coco(self, results: list, cat_ids: list[int], metric: str) -> list[dict]:
        """The predictions as COCO result dicts (the format of COCO's result files)."""
        coco_results = []
        for result in results:
            labels = result["labels"]
            if len(labels) and (labels.min() < 0 or labels.max() >= len(cat_ids)):
                raise LabError(
                    f"CocoMetric: image {result['img_id']} has predicted labels up to "
                    f"{int(labels.max())}, but the evaluated data set ({self.ann_file}) has "
                    f"{len(cat_ids)} labels (0..{len(cat_ids) - 1}). Check the model's "
                    f"num_classes, and the data set's label_layout."
                )
            boxes = xyxy_to_xywh(result["bboxes"])
            for i, label in enumerate(labels):
                entry = {
                    "image_id": result["img_id"],
                    "category_id": cat_ids[int(label)],
                    "bbox": [float(v) for v in boxes[i]],
                    "score": float(result["scores"][i]),
                }
                if metric == "segm":
                    entry["segmentation"] = result["masks"][i]
                    self._check_mask_size(entry["segmentation"], result["img_id"])
                elif metric == "keypoints":
                    points = np.concatenate(
                        [result["keypoints"][i], result["keypoint_scores"][i][:, None]], axis=1
                    )
                    entry = {
                        "image_id": result["img_id"],
                        "category_id": cat_ids[int(label)],
                        "keypoints": [float(v) for v in points.reshape(-1)],
                        "score": float(result["scores"][i]),
                    }
                coco_results.append(entry)
        return coco_results

    def _check_mask_size(self, rle: dict, img_id: int) -> None:
        image = self._ground_truth().imgs[img_id]
        if list(rle["size"]) != [image["height"], image["width"]]:
            raise LabError(
                f"CocoMetric: a predicted mask of image {img_id} is {rle['size'][0]}x"
                f"{rle['size'][1]} but the image is {image['height']}x{image['width']} in "
                f"{self.ann_file}. Predict masks at the original image size (ori_shape), "
                f"after undoing resizing and padding."
            )

    def _ground_truth(self) -> COCO:
        if self._coco_gt is None:
            if not self.ann_file.is_file():
                raise ConfigError(
                    f"CocoMetric ann_file {self.ann_file} does not exist: set ann_file to "
                    f"the COCO JSON of the evaluated images."
                )
            self._coco_gt = load_coco(self.ann_file, COCO)
        return self._coco_gt

    def _evaluate(self, coco_gt: COCO, predictions: list, metric: str, img_ids: list[int]):
        coco_dt = coco_gt.loadRes(copy.deepcopy(predictions))
        sigmas = self._sigmas(coco_gt) if metric == "keypoints" else None
        evaluator = COCOeval_faster(
            coco_gt, coco_dt, metric, print_function=self._log, kpt_oks_sigmas=sigmas
        )
        evaluator.params.imgIds = img_ids
        if metric != "keypoints":  # COCO keeps 20 poses per image, its own setting
            evaluator.params.maxDets = list(self.max_dets)
        if self.iou_thrs is not None:
            evaluator.params.iouThrs = self.iou_thrs
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        return evaluator

    def _sigmas(self, coco_gt: COCO) -> list[float]:
        num_keypoints = {len(c.get("keypoints", [])) for c in coco_gt.loadCats(coco_gt.getCatIds())}
        if self.keypoint_sigmas is not None:
            sigmas = [float(s) for s in self.keypoint_sigmas]
            if num_keypoints != {len(sigmas)}:
                raise ConfigError(
                    f"CocoMetric keypoint_sigmas has {len(sigmas)} values but the categories "
                    f"of {self.ann_file} have {sorted(num_keypoints)} keypoints: give one "
                    f"sigma per keypoint."
                )
            return sigmas
        if num_keypoints == {17}:
            return list(COCO_PERSON_KEYPOINT_SIGMAS)
        raise ConfigError(
            f"CocoMetric 'keypoints' on {self.ann_file} ({sorted(num_keypoints)} keypoints per "
            f"category) needs keypoint_sigmas, one per keypoint; for the synthetic shapes use "
            f"labcore.datasets.synthetic.KEYPOINT_SIGMAS."
        )

    def _classwise(self, coco_gt: COCO, evaluator, metric: str, cat_ids: list[int]) -> dict:
        """AP of each category over IoU thresholds, all areas, the largest max_dets."""
        precision = evaluator.eval["precision"]  # [T, R, K, A, M]
        eval_cat_ids = list(evaluator.params.catIds)
        rows, metrics = [], {}
        for cat_id in cat_ids:
            if cat_id not in eval_cat_ids:
                continue
            values = precision[:, :, eval_cat_ids.index(cat_id), 0, -1]
            values = values[values > -1]
            ap = float(values.mean()) if values.size else float("nan")
            name = coco_gt.loadCats(cat_id)[0]["name"]
            metrics[f"{metric}_{name}_AP"] = ap
            rows.append(f"{name:<20} {ap:0.3f}")
        self._log(f"Per-category {metric} AP:\n" + "\n".join(rows))
        return metrics

    def _dump(self, predictions: dict[str, list]) -> None:
        if self.outfile_prefix is None:
            return
        prefix = Path(self.outfile_prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        for metric, entries in predictions.items():
            path = prefix.parent / f"{prefix.name}.{metric}.json"
            with tempfile.NamedTemporaryFile("w", dir=prefix.parent, delete=False) as tmp:
                json.dump(entries, tmp)
            os.replace(tmp.name, path)
            self._log(f"CocoMetric wrote {len(entries)} {metric} results to {path}")

    @staticmethod
    def _log(message) -> None:
        print_log(str(message), logger="current")
