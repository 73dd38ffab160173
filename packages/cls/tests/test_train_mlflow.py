"""End to end: ``lab train`` with validation on the default MLflow backend puts the
confusion matrix (a PNG artifact) and the per-class metrics into the run's sqlite store."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from mlflow import MlflowClient
from PIL import Image

from labcore.cli.main import main
from labcore.evaluation.confusion_plot import plot_confusion_matrix


def test_lab_train_logs_confusion_matrix_and_per_class_metrics(
    shapes_cls, tmp_path, monkeypatch, one_thread
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the work dir's sqlite store
    work_dir = tmp_path / "work"
    data = str(shapes_cls)
    status = main(
        ["train", "labcls::resnet/resnet18_tiny_shapes.py", "--work-dir", str(work_dir),
         "--cfg-options",
         f"+train_dataloader.dataset.data_root={data}", "train_dataloader.dataset.generate=None",
         f"+val_dataloader.dataset.data_root={data}", "val_dataloader.dataset.generate=None",
         "train_dataloader.batch_size=50", "train_cfg.max_epochs=1", "train_cfg.val_interval=1",
         "default_hooks.checkpoint.interval=-1", "+val_evaluator.1.classwise=True"]
    )  # fmt: skip
    assert status == 0

    client = MlflowClient(f"sqlite:///{work_dir.resolve()}/mlflow.db")
    experiment = client.get_experiment_by_name("openlab")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    run_id, metrics = run.info.run_id, run.data.metrics

    # the confusion matrix of the validation after the 4 training iterations, as a PNG
    assert [a.path for a in client.list_artifacts(run_id, "images")] == [
        "images/confusion_matrix_4.png"
    ]
    logged = np.asarray(
        Image.open(client.download_artifacts(run_id, "images/confusion_matrix_4.png", tmp_path))
    )
    classes = (shapes_cls / "classes.txt").read_text().split()
    empty_plot = plot_confusion_matrix(np.zeros((8, 8), dtype=np.int64), classes)
    assert logged.shape[:2] == empty_plot.shape[:2] and logged.dtype == np.uint8
    local = next(work_dir.rglob("vis_image/confusion_matrix_4.png"))  # LocalVisBackend's copy
    np.testing.assert_array_equal(logged[..., :3], np.asarray(Image.open(local))[..., :3])

    # per-class precision, recall and F1 under the dataset's class names
    for name in ("precision", "recall", "f1-score"):
        per_class = [metrics[f"single-label/{name}/{c}"] for c in classes]
        assert all(0.0 <= v <= 1.0 for v in per_class)
        assert metrics[f"single-label/{name}"] == pytest.approx(np.mean(per_class))
    # recall times support counts the correct predictions: top-1 accuracy, which the
    # Accuracy metric computes on its own from the scores
    lines = (shapes_cls / "meta" / "val.txt").read_text().splitlines()  # "<file> <label>"
    support = Counter(int(line.split()[1]) for line in lines)
    correct = sum(metrics[f"single-label/recall/{c}"] * support[i] for i, c in enumerate(classes))
    assert correct / len(lines) == pytest.approx(metrics["accuracy/top1"], abs=1e-6)
