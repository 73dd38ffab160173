"""DOTA mAP: VOC-style average precision of rotated detections at a rotated-IoU threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from labcore.errors import LabError
from labcore.ops import box_iou_rotated
from labrot.evaluation.dota_submission import write_task1_submission
from labrot.models.postprocess import MERGE_IOU_THR, merge_patch_detections
from labrot.registry import METRICS

AP_MODES = ("11points", "area")


def voc_ap(recall: np.ndarray, precision: np.ndarray, mode: str) -> float:
    """Average precision from a precision-recall curve (detections best first).

    ``'11points'``: VOC 2007's mean of the best precision at recall >= 0, 0.1, ..., 1;
    ``'area'``: the area under the curve made monotone (VOC 2010 and later).
    """
    if mode == "11points":
        return float(
            np.mean(
                [
                    precision[recall >= t].max() if (recall >= t).any() else 0.0
                    for t in np.linspace(0, 1, 11)
                ]
            )
        )
    if mode != "area":
        raise LabError(f"Unknown AP mode {mode!r}; choose one of {', '.join(AP_MODES)}.")
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    changes = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def match_class(
    detections: Sequence[tuple[np.ndarray, np.ndarray]],
    ground_truths: Sequence[tuple[np.ndarray, np.ndarray]],
    iou_thr: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Greedy matching of one class's detections, as DOTA's devkit ``voc_eval``.

    Args:
        detections: per image (boxes ndarray[D, 5], scores ndarray[D]).
        ground_truths: per image (boxes ndarray[G, 5], difficult ndarray[G] bool).
        iou_thr: a detection matches a ground truth whose rotated IoU with it is greater.

    Detections of all images are taken best first; each takes the ground truth of its
    image it overlaps most. Over the threshold it is a true positive when that ground
    truth is not difficult and not yet taken, a false positive when taken, and neither
    when difficult; below it, a false positive.

    Returns:
        (scores, true positive flags, false positive flags), each ndarray[D_all] best
        first, and the number of ground truths that are not difficult.
    """
    records = []  # (score, image, box index)
    ious = []
    for image, ((boxes, scores), (gt_boxes, _)) in enumerate(zip(detections, ground_truths)):
        if len(boxes) and len(gt_boxes):
            iou = box_iou_rotated(
                torch.as_tensor(boxes, dtype=torch.float64),
                torch.as_tensor(gt_boxes, dtype=torch.float64),
            ).numpy()
        else:
            iou = np.zeros((len(boxes), len(gt_boxes)))
        ious.append(iou)
        records += [(float(s), image, i) for i, s in enumerate(scores)]
    records.sort(key=lambda r: -r[0])  # stable: equal scores keep image, then box order
    taken = [np.zeros(len(gt[0]), dtype=bool) for gt in ground_truths]
    tp = np.zeros(len(records))
    fp = np.zeros(len(records))
    for k, (_, image, i) in enumerate(records):
        iou = ious[image][i] if ious[image].shape[1] else np.zeros(0)
        if iou.size and iou.max() > iou_thr:
            j = int(iou.argmax())
            if ground_truths[image][1][j]:
                continue  # difficult: neither true nor false positive
            if taken[image][j]:
                fp[k] = 1
            else:
                taken[image][j] = True
                tp[k] = 1
        else:
            fp[k] = 1
    num_gts = int(sum((~gt[1].astype(bool)).sum() for gt in ground_truths))
    scores = np.array([r[0] for r in records])
    return scores, tp, fp, num_gts


def dota_map(
    results: Sequence[dict],
    num_classes: int,
    *,
    iou_thr: float = 0.5,
    mode: str = "11points",
) -> tuple[float, list[dict]]:
    """DOTA mAP of a data set's rotated detections.

    Args:
        results: one dict per image: ``pred_bboxes`` ndarray[D, 5], ``pred_scores``
            ndarray[D], ``pred_labels`` ndarray[D], ``gt_bboxes`` ndarray[G, 5],
            ``gt_labels`` ndarray[G], ``gt_difficult`` ndarray[G] bool.
        num_classes: K; labels are 0..K-1.
        iou_thr: rotated-IoU threshold of a match.
        mode: ``'11points'`` (VOC 2007, DOTA's devkit) or ``'area'``.

    Returns:
        (mAP over the classes that have a ground truth that is not difficult, one dict per
        class with ``num_gts``, ``num_dets``, ``recall`` and ``ap``).
    """
    per_class = []
    for label in range(num_classes):
        detections, ground_truths = [], []
        for r in results:
            keep = r["pred_labels"] == label
            detections.append((r["pred_bboxes"][keep], r["pred_scores"][keep]))
            gt_keep = r["gt_labels"] == label
            ground_truths.append((r["gt_bboxes"][gt_keep], r["gt_difficult"][gt_keep]))
        _, tp, fp, num_gts = match_class(detections, ground_truths, iou_thr)
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        recall = tp / max(num_gts, 1)
        precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        per_class.append(
            dict(
                num_gts=num_gts,
                num_dets=len(tp),
                recall=float(recall[-1]) if len(recall) else 0.0,
                ap=voc_ap(recall, precision, mode) if num_gts else 0.0,
            )
        )
    with_gts = [c["ap"] for c in per_class if c["num_gts"]]
    return (float(np.mean(with_gts)) if with_gts else 0.0), per_class


@METRICS.register_module()
class DOTAMetric(BaseMetric):
    """DOTA mAP at a rotated-IoU threshold, with a per-class AP table in the log.

    Ground truth comes from each data sample: ``gt_instances`` (Tensor[G, 5] boxes and
    labels) and ``ignored_instances``, the objects marked difficult (load them with
    ``LoadRotatedAnnotations(difficult_as_ignored=True)``), which DOTA's evaluation
    neither requires nor counts against a detection. Results are ``dota/mAP`` and
    ``dota/AP_<class>`` for each class.

    Testing on patches of split images (``lab data split-dota``), ``merge_patches`` maps
    each patch's detections back into its full image by the patch's name and merges them
    with class-wise rotated NMS at ``merge_iou_thr``
    (:func:`labrot.models.postprocess.merge_patch_detections`); ``outfile_prefix`` writes
    the (merged) detections as DOTA Task 1 submission files and their zip
    (:func:`labrot.evaluation.dota_submission.write_task1_submission`). As MMRotate's
    DOTAMetric, merged results are not evaluated (the patches' ground truth is not the
    full image's; DOTA's test set has none): the metric then returns no values, and with
    ``format_only`` neither do unmerged ones.

    Args:
        iou_thr: rotated-IoU threshold (0.5 in DOTA's task 1).
        ap_mode: ``'11points'`` (VOC 2007, DOTA's devkit, MMRotate's default) or ``'area'``.
        merge_patches: merge patch detections into full-image ones (needs
            ``outfile_prefix``).
        merge_iou_thr: the merging NMS's rotated-IoU threshold (MMRotate's 0.1).
        format_only: only write the submission files, do not evaluate.
        outfile_prefix: a new folder for ``Task1_<class>.txt`` and ``<folder name>.zip``.
    """

    default_prefix = "dota"

    def __init__(
        self,
        *,
        iou_thr: float = 0.5,
        ap_mode: str = "11points",
        merge_patches: bool = False,
        merge_iou_thr: float = MERGE_IOU_THR,
        format_only: bool = False,
        outfile_prefix: str | None = None,
        **kwargs,
    ):
        if ap_mode not in AP_MODES:
            raise LabError(f"DOTAMetric: ap_mode {ap_mode!r}; choose one of {', '.join(AP_MODES)}.")
        if (merge_patches or format_only) and not outfile_prefix:
            raise LabError(
                "DOTAMetric: merge_patches and format_only write DOTA submission files; set "
                "outfile_prefix to a new folder, e.g. outfile_prefix='work_dirs/dota/Task1'."
            )
        super().__init__(**kwargs)
        self.iou_thr = iou_thr
        self.ap_mode = ap_mode
        self.merge_patches = merge_patches
        self.merge_iou_thr = merge_iou_thr
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample["pred_instances"]
            gt = sample.get("gt_instances") or {}
            ignored = sample.get("ignored_instances") or {}

            def numpy(instances, key, width=None):
                value = instances.get(key)
                if value is None:
                    return np.zeros((0, width) if width else (0,))
                return value.detach().cpu().double().numpy() if width else value.cpu().numpy()

            gt_boxes, ignored_boxes = numpy(gt, "bboxes", 5), numpy(ignored, "bboxes", 5)
            self.results.append(
                dict(
                    img_id=str(sample.get("img_id", len(self.results))),
                    pred_bboxes=numpy(pred, "bboxes", 5),
                    pred_scores=pred["scores"].detach().cpu().double().numpy(),
                    pred_labels=pred["labels"].cpu().numpy(),
                    gt_bboxes=np.concatenate([gt_boxes, ignored_boxes]),
                    gt_labels=np.concatenate(
                        [numpy(gt, "labels"), numpy(ignored, "labels")]
                    ).astype(np.int64),
                    gt_difficult=np.concatenate(
                        [np.zeros(len(gt_boxes), bool), np.ones(len(ignored_boxes), bool)]
                    ),
                )
            )

    def compute_metrics(self, results: list) -> dict:
        if self.outfile_prefix:
            self._write_submission(results)
        if self.merge_patches or self.format_only:
            return {}
        classes = tuple((self.dataset_meta or {}).get("classes") or ())
        num_classes = len(classes) or 1 + max(
            [int(r["gt_labels"].max()) for r in results if len(r["gt_labels"])] or [0]
        )
        names = classes or tuple(str(i) for i in range(num_classes))
        mean_ap, per_class = dota_map(results, num_classes, iou_thr=self.iou_thr, mode=self.ap_mode)
        lines = [f"{'class':<20} {'gts':>6} {'dets':>7} {'recall':>7} {'ap':>7}"]
        for name, row in zip(names, per_class):
            lines.append(
                f"{name:<20} {row['num_gts']:>6} {row['num_dets']:>7} "
                f"{row['recall']:>7.3f} {row['ap']:>7.3f}"
            )
        lines.append(f"{'mAP':<20} {'':>6} {'':>7} {'':>7} {mean_ap:>7.3f}")
        MMLogger.get_current_instance().info(
            f"DOTA AP at rotated IoU {self.iou_thr} ({self.ap_mode}):\n" + "\n".join(lines)
        )
        metrics = {"mAP": mean_ap}
        metrics.update({f"AP_{name}": row["ap"] for name, row in zip(names, per_class)})
        return metrics

    def _write_submission(self, results: list) -> None:
        detections = [
            (
                r["img_id"],
                torch.as_tensor(r["pred_bboxes"]),
                torch.as_tensor(r["pred_scores"]),
                torch.as_tensor(r["pred_labels"]).long(),
            )
            for r in results
        ]
        if self.merge_patches:
            by_image = merge_patch_detections(detections, iou_thr=self.merge_iou_thr)
        else:
            by_image = {name: (boxes, scores, labels) for name, boxes, scores, labels in detections}
        classes = tuple((self.dataset_meta or {}).get("classes") or ())
        if not classes:
            raise LabError(
                "DOTAMetric: the data set names no classes, so the Task1_<class>.txt files "
                "cannot be named; set the dataset's classes (or its classes.txt)."
            )
        zip_path = write_task1_submission(by_image, classes, self.outfile_prefix)
        MMLogger.get_current_instance().info(
            f"DOTA Task 1 submission of {len(by_image)} images: {zip_path}"
        )
