"""IoUMetric against a float64 confusion-matrix reference written here, in one process and
across two (gloo)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from labseg.evaluation import IoUMetric

NUM_CLASSES = 5
CLASSES = tuple(f"c{i}" for i in range(NUM_CLASSES))


def _maps(seed: int = 0, count: int = 12):
    """Random prediction / label pairs with ignore pixels, an absent class (4 is never
    labelled, but sometimes predicted), class 3 never predicted, and an all-ignore image."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        h, w = rng.integers(5, 20, size=2)
        label = rng.integers(0, 4, size=(h, w))
        pred = np.where(rng.random((h, w)) < 0.6, label, rng.integers(0, 5, size=(h, w)))
        pred[pred == 3] = 2
        label[rng.random((h, w)) < 0.15] = 255
        if i == 5:
            label[:] = 255
        pairs.append((pred, label))
    return pairs


def _samples(pairs):
    return [
        dict(
            pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
            gt_sem_seg=dict(data=torch.from_numpy(label)[None]),
        )
        for pred, label in pairs
    ]


def _confusion(pred, label):
    valid = label != 255
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.float64)
    np.add.at(matrix, (label[valid], pred[valid]), 1.0)
    return matrix  # rows: labels, columns: predictions


def _ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _reference(pairs):
    matrix = sum(_confusion(p, g) for p, g in pairs)
    tp, labelled, predicted = np.diag(matrix), matrix.sum(1), matrix.sum(0)
    iou = _ratio(tp, labelled + predicted - tp)
    precision, recall = _ratio(tp, predicted), _ratio(tp, labelled)
    fscore = 2 * precision * recall / (precision + recall)
    per_image = []
    for p, g in pairs:
        m = _confusion(p, g)
        d = np.diag(m)
        image_iou = _ratio(d, m.sum(0) + m.sum(1) - d)
        if not np.isnan(image_iou).all():
            per_image.append(np.nanmean(image_iou))
    return {
        "aAcc": tp.sum() / matrix.sum(),
        "mIoU": np.nanmean(iou),
        "mAcc": np.nanmean(recall),
        "mDice": np.nanmean(_ratio(2 * tp, labelled + predicted)),
        "mFscore": np.nanmean(fscore),
        "mPrecision": np.nanmean(precision),
        "mRecall": np.nanmean(recall),
        "per_image_mIoU": np.mean(per_image),
        "iou": iou,
    }


def _evaluate(pairs, batch_size=4):
    metric = IoUMetric(iou_metrics=("mIoU", "mDice", "mFscore"))
    metric.dataset_meta = dict(classes=CLASSES)
    samples = _samples(pairs)
    for start in range(0, len(samples), batch_size):
        metric.process({}, samples[start : start + batch_size])
    return metric.evaluate(len(samples))


def test_iou_metric_matches_confusion_matrix_reference():
    pairs = _maps()
    result = _evaluate(pairs)
    expected = _reference(pairs)
    for key in (
        "aAcc",
        "mIoU",
        "mAcc",
        "mDice",
        "mFscore",
        "mPrecision",
        "mRecall",
        "per_image_mIoU",
    ):
        assert result[f"seg/{key}"] == pytest.approx(expected[key], abs=1e-12), key
    # class 4 is predicted but never labelled: IoU 0, counted; accuracy undefined
    assert result["seg/IoU.c4"] == 0.0 and np.isnan(result["seg/Acc.c4"])
    for k, value in enumerate(expected["iou"]):
        assert result[f"seg/IoU.c{k}"] == pytest.approx(value, abs=1e-12)


def test_iou_metric_leaves_out_classes_absent_everywhere():
    pred = np.zeros((4, 4), dtype=np.int64)
    label = np.zeros((4, 4), dtype=np.int64)
    pred[0, 0] = label[0, 0] = 1
    result = _evaluate([(pred, label)])
    assert result["seg/mIoU"] == 1.0  # classes 2..4 appear nowhere and do not count
    assert np.isnan(result["seg/IoU.c2"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WORKER = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np, torch, torch.distributed as dist
    from labseg.evaluation import IoUMetric

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    pairs = json.load(open(sys.argv[1]))
    metric = IoUMetric(iou_metrics=("mIoU", "mDice", "mFscore"))
    metric.dataset_meta = dict(classes=tuple(f"c{i}" for i in range(5)))
    # MMEngine's DefaultSampler order: rank r takes samples r, r + world, ...
    for pred, label in pairs[rank::world]:
        metric.process({}, [dict(pred_sem_seg=dict(data=torch.tensor(pred)[None]),
                                 gt_sem_seg=dict(data=torch.tensor(label)[None]))])
    result = metric.evaluate(len(pairs))
    json.dump(result, open(f"{sys.argv[2]}.{rank}", "w"))
    dist.destroy_process_group()
    """
)


@pytest.mark.dist
def test_iou_metric_across_two_processes_equals_one(tmp_path):
    pairs = _maps(seed=1, count=9)  # odd: the ranks hold different numbers of images
    (tmp_path / "pairs.json").write_text(json.dumps([(p.tolist(), g.tolist()) for p, g in pairs]))
    (tmp_path / "worker.py").write_text(WORKER)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_port", str(_free_port()), str(tmp_path / "worker.py"),
         str(tmp_path / "pairs.json"), str(tmp_path / "result")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    single = _evaluate(pairs)
    for rank in (0, 1):
        result = json.loads((tmp_path / f"result.{rank}").read_text())
        assert result.keys() == single.keys()
        for key, value in single.items():
            if np.isnan(value):
                assert np.isnan(result[key]), key
            else:
                assert result[key] == pytest.approx(value, abs=1e-12), key
