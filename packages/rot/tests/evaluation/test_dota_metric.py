"""DOTA mAP against a reference written here: shapely polygon IoU and DOTA devkit's voc_eval."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from shapely.geometry import Polygon

from labrot.evaluation import DOTAMetric, dota_map, voc_ap
from labrot.structures import rbox_to_poly


def polygon(box: np.ndarray) -> Polygon:
    return Polygon(rbox_to_poly(torch.as_tensor(box, dtype=torch.float64)).reshape(4, 2).numpy())


def reference_ap(rec: np.ndarray, prec: np.ndarray, use_07: bool) -> float:
    """DOTA devkit's voc_ap."""
    if use_07:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0.0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap += p / 11.0
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def reference_map(results, num_classes, iou_thr, use_07):
    """DOTA devkit's voc_eval per class with shapely IoU, mean over classes with objects."""
    aps = []
    for label in range(num_classes):
        gts, npos = {}, 0
        for image, r in enumerate(results):
            keep = r["gt_labels"] == label
            difficult = r["gt_difficult"][keep]
            gts[image] = dict(
                boxes=r["gt_bboxes"][keep], difficult=difficult, det=[False] * int(keep.sum())
            )
            npos += int((~difficult).sum())
        dets = [
            (image, score, box)
            for image, r in enumerate(results)
            for box, score, lab in zip(r["pred_bboxes"], r["pred_scores"], r["pred_labels"])
            if lab == label
        ]
        dets.sort(key=lambda d: -d[1])
        tp, fp = np.zeros(len(dets)), np.zeros(len(dets))
        for d, (image, _, box) in enumerate(dets):
            gt = gts[image]
            ovmax, jmax = -np.inf, -1
            for j, gt_box in enumerate(gt["boxes"]):
                a, b = polygon(box), polygon(gt_box)
                inter = a.intersection(b).area
                iou = inter / (a.area + b.area - inter)
                if iou > ovmax:
                    ovmax, jmax = iou, j
            if ovmax > iou_thr:
                if not gt["difficult"][jmax]:
                    if not gt["det"][jmax]:
                        tp[d] = 1.0
                        gt["det"][jmax] = True
                    else:
                        fp[d] = 1.0
            else:
                fp[d] = 1.0
        if npos == 0:
            continue
        fp, tp = np.cumsum(fp), np.cumsum(tp)
        rec = tp / float(npos)
        prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        aps.append(reference_ap(rec, prec, use_07))
    return float(np.mean(aps))


def random_results(seed: int, num_images: int = 12, num_classes: int = 3):
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(num_images):
        g = int(rng.integers(0, 6))
        gt = np.column_stack(
            [
                rng.uniform(20, 180, (g, 2)),
                rng.uniform(8, 40, (g, 2)),
                rng.uniform(-np.pi / 2, np.pi / 2, g),
            ]
        )
        labels = rng.integers(0, num_classes, g)
        difficult = rng.random(g) < 0.2
        # detections: noisy copies of most objects (some twice), some wrong labels, clutter
        det, det_labels = [], []
        for box, lab in zip(gt, labels):
            for _ in range(int(rng.integers(0, 3))):
                noise = np.concatenate(
                    [rng.normal(0, 3, 2), rng.normal(0, 3, 2), rng.normal(0, 0.2, 1)]
                )
                det.append(box + noise)
                det_labels.append(lab if rng.random() < 0.85 else rng.integers(0, num_classes))
        for _ in range(int(rng.integers(0, 3))):
            det.append(
                np.concatenate(
                    [rng.uniform(20, 180, 2), rng.uniform(8, 40, 2), rng.uniform(-1.5, 1.5, 1)]
                )
            )
            det_labels.append(rng.integers(0, num_classes))
        det = np.array(det).reshape(-1, 5)
        det[:, 2:4] = np.abs(det[:, 2:4]) + 1
        results.append(
            dict(
                pred_bboxes=det,
                pred_scores=np.round(rng.random(len(det)), 6),
                pred_labels=np.array(det_labels, dtype=np.int64),
                gt_bboxes=gt,
                gt_labels=labels,
                gt_difficult=difficult,
            )
        )
    return results


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("mode", ["11points", "area"])
def test_dota_map_matches_the_reference(seed, mode):
    results = random_results(seed)
    mean_ap, per_class = dota_map(results, 3, iou_thr=0.5, mode=mode)
    expected = reference_map(results, 3, 0.5, use_07=mode == "11points")
    assert mean_ap == pytest.approx(expected, abs=1e-6)
    assert 0.05 < mean_ap < 0.95  # the data exercise both matches and misses
    assert len(per_class) == 3


def test_voc_ap_known_values():
    recall = np.array([0.5, 1.0])
    precision = np.array([1.0, 0.5])
    assert voc_ap(recall, precision, "area") == pytest.approx(0.75)
    assert voc_ap(recall, precision, "11points") == pytest.approx((6 * 1.0 + 5 * 0.5) / 11)


def test_perfect_detections_and_difficult_objects():
    boxes = np.array([[50.0, 50.0, 30.0, 10.0, 0.3], [120.0, 80.0, 20.0, 20.0, -0.7]])
    results = [
        dict(
            pred_bboxes=boxes[:1],
            pred_scores=np.array([0.9]),
            pred_labels=np.array([0]),
            gt_bboxes=boxes,
            gt_labels=np.array([0, 0]),
            gt_difficult=np.array([False, True]),
        )
    ]
    # the difficult object is not required: recall 1 with one detection
    assert dota_map(results, 1)[0] == pytest.approx(1.0)
    # detecting it costs nothing either
    results[0].update(
        pred_bboxes=boxes, pred_scores=np.array([0.9, 0.8]), pred_labels=np.array([0, 0])
    )
    assert dota_map(results, 1)[0] == pytest.approx(1.0)


def test_metric_reads_data_samples():
    boxes = torch.tensor([[50.0, 50.0, 30.0, 10.0, 0.3], [120.0, 80.0, 20.0, 20.0, -0.7]])
    metric = DOTAMetric(ap_mode="area")
    metric.dataset_meta = dict(classes=("a", "b"))
    sample = dict(
        pred_instances=InstanceData(
            bboxes=boxes, scores=torch.tensor([0.9, 0.8]), labels=torch.tensor([0, 1])
        ).to_dict(),
        gt_instances=dict(bboxes=boxes[:1], labels=torch.tensor([0])),
        ignored_instances=dict(bboxes=boxes[1:], labels=torch.tensor([1])),
    )
    metric.process({}, [sample])
    out = metric.evaluate(1)
    # class b has only a difficult object: it is left out of the mean
    assert out == {"dota/mAP": 1.0, "dota/AP_a": 1.0, "dota/AP_b": 0.0}
