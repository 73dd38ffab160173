"""IoUMetric against a float64 confusion-matrix reference written here, in one process and
across two (gloo); its confusion matrix, drawn and logged to MLflow by a test run."""

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

from labcore.evaluation.confusion_plot import plot_confusion_matrix
from labseg.evaluation import IoUMetric, confusion_cells, confusion_matrix

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
    metric = IoUMetric(iou_metrics=("mIoU", "mDice", "mFscore"), plot=False)
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


def test_confusion_matrix_sums_the_images_cells():
    pairs = _maps()
    cells = [
        confusion_cells(torch.from_numpy(p), torch.from_numpy(g), NUM_CLASSES, 255)
        for p, g in pairs
    ]
    assert max(len(c) for c in cells) <= NUM_CLASSES**2
    expected = sum(_confusion(p, g) for p, g in pairs)
    np.testing.assert_array_equal(confusion_matrix(cells, NUM_CLASSES), expected)


def test_confusion_plot_normalises_rows():
    matrix = sum(_confusion(p, g) for p, g in _maps())
    image = plot_confusion_matrix(matrix, CLASSES, cells="percent")
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    rescaled = matrix * np.array([[3.0], [1.0], [7.0], [0.5], [1.0]])  # each row scaled
    np.testing.assert_array_equal(plot_confusion_matrix(rescaled, CLASSES, cells="percent"), image)
    swapped = matrix.copy()
    swapped[0, [0, 1]] = swapped[0, [1, 0]]  # a row's fractions change: the plot does
    assert not np.array_equal(plot_confusion_matrix(swapped, CLASSES, cells="percent"), image)


def test_test_run_logs_the_confusion_matrix_to_mlflow(shapes_seg, tmp_path, monkeypatch):
    """``runner.test()`` of the tiny FCN with the default MLflow backend (a sqlite store
    in the work dir): the PNG artifact is the plot of the test set's confusion matrix,
    which the test recomputes from the model's predictions."""
    from mlflow import MlflowClient
    from PIL import Image

    from labcore.engine.config import load_config
    from labcore.engine.training import build_runner

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = load_config("labseg::fcn/fcn_r18-d8_shapes.py")
    cfg.model.backbone.init_cfg = None  # random weights: the plot need not be a good one
    cfg.test_dataloader.dataset.update(synthetic=None, data_root=str(shapes_seg))
    cfg.randomness = dict(seed=0)
    work_dir = tmp_path / "work"
    runner = build_runner(cfg, work_dir=work_dir)
    metrics = runner.test()
    assert "seg/mIoU" in metrics

    classes = runner.test_dataloader.dataset.metainfo["classes"]
    expected = np.zeros((len(classes), len(classes)))
    runner.model.eval()
    with torch.no_grad():
        for batch in runner.test_dataloader:
            for sample in runner.model.test_step(batch):
                pred = sample.pred_sem_seg.data[0].numpy()
                label = sample.gt_sem_seg.data[0].numpy()
                valid = label != 255
                np.add.at(expected, (label[valid], pred[valid]), 1.0)

    client = MlflowClient(f"sqlite:///{work_dir.resolve()}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("openlab").experiment_id])
    assert run.info.status == "FINISHED"
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "images")]
    assert artifacts == ["images/confusion_matrix_0.png"]
    path = client.download_artifacts(run.info.run_id, artifacts[0], str(tmp_path))
    logged = np.asarray(Image.open(path).convert("RGB"))
    np.testing.assert_array_equal(logged, plot_confusion_matrix(expected, classes, cells="percent"))


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
