"""Metrics against scikit-learn: top-k accuracy, precision / recall / F1, confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.visualization import LocalVisBackend, Visualizer
from sklearn import metrics as skm

from labcls.evaluation import Accuracy, ConfusionMatrix, SingleLabelMetric


def _samples(num=60, k=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(num, k, generator=generator).softmax(dim=1)
    labels = torch.randint(0, k, (num,), generator=generator)
    labels[:20] = scores[:20].argmax(dim=1)  # some right answers
    return (
        [
            dict(pred_score=s, pred_label=s.argmax().reshape(1), gt_label=y.reshape(1))
            for s, y in zip(scores, labels)
        ],
        scores.numpy(),
        labels.numpy(),
    )


def _evaluate(metric, samples, classes=None):
    metric.dataset_meta = dict(classes=classes) if classes else None
    for start in range(0, len(samples), 16):
        metric.process({}, samples[start : start + 16])
    return metric.evaluate(len(samples))


def test_topk_accuracy_matches_sklearn():
    samples, scores, labels = _samples()
    result = _evaluate(Accuracy(topk=(1, 3)), samples)
    assert result["accuracy/top1"] == pytest.approx(skm.accuracy_score(labels, scores.argmax(1)))
    assert result["accuracy/top3"] == pytest.approx(
        skm.top_k_accuracy_score(labels, scores, k=3, labels=range(5))
    )


def test_precision_recall_f1_match_sklearn():
    samples, scores, labels = _samples()
    pred = scores.argmax(1)
    result = _evaluate(SingleLabelMetric(classwise=True), samples, classes=list("abcde"))
    p, r, f, _ = skm.precision_recall_fscore_support(labels, pred, labels=range(5), zero_division=0)
    assert result["single-label/precision"] == pytest.approx(p.mean())
    assert result["single-label/recall"] == pytest.approx(r.mean())
    assert result["single-label/f1-score"] == pytest.approx(f.mean())
    assert result["single-label/recall/c"] == pytest.approx(r[2])


def test_confusion_matrix_matches_sklearn_and_is_logged_as_image(tmp_path):
    samples, scores, labels = _samples()
    visualizer = Visualizer.get_instance(
        "cls_test_confusion", vis_backends=[dict(type="LocalVisBackend")], save_dir=str(tmp_path)
    )
    assert isinstance(visualizer._vis_backends["LocalVisBackend"], LocalVisBackend)
    out_file = tmp_path / "cm.png"
    result = _evaluate(ConfusionMatrix(out_file=out_file), samples, classes=list("abcde"))
    expected = skm.confusion_matrix(labels, scores.argmax(1), labels=range(5))
    np.testing.assert_array_equal(result["confusion_matrix/result"].numpy(), expected)
    assert out_file.stat().st_size > 1000
    logged = list(tmp_path.rglob("confusion_matrix_*.png"))
    assert logged, "the plot was not logged through the visualizer"
