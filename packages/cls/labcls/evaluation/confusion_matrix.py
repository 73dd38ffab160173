"""The confusion matrix, returned as a tensor and logged as an image."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from mmengine.evaluator import BaseMetric

from labcls.evaluation.single_label import (
    class_names,
    collect_labels,
    confusion_matrix,
    infer_num_classes,
)
from labcls.registry import METRICS
from labcore.evaluation.confusion_plot import log_evaluation_image, plot_confusion_matrix


@METRICS.register_module()
class ConfusionMatrix(BaseMetric):
    """Counts of (true class, predicted class) pairs.

    Returns ``confusion_matrix/result`` (Tensor[K, K] int64, row = true class) and logs a
    plot of it through the current visualizer (``add_image('confusion_matrix', ...)``),
    so the run's log folder and MLflow both receive it as an image artifact, with the
    number of training iterations done as its step (MLflow:
    ``images/confusion_matrix_<iterations>.png``; 0 in a test run). With ``out_file`` the
    plot is also written there as a PNG.

    Args:
        num_classes: K; default: the dataset's number of classes.
        plot: draw and log the plot.
        out_file: optional PNG path for the plot.
        collect_device, prefix: as in :class:`mmengine.evaluator.BaseMetric`.
    """

    default_prefix = "confusion_matrix"

    def __init__(
        self,
        *,
        num_classes: int | None = None,
        plot: bool = True,
        out_file: str | os.PathLike | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self.plot = plot
        self.out_file = out_file

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(collect_labels(data_samples))

    def compute_metrics(self, results: list[dict]) -> dict[str, torch.Tensor]:
        num_classes = infer_num_classes(results, self.num_classes, self.dataset_meta)
        pred = torch.cat([r["pred_label"] for r in results])
        target = torch.cat([r["gt_label"] for r in results])
        matrix = confusion_matrix(pred, target, num_classes)
        if self.plot:
            names = class_names(self.dataset_meta, num_classes)
            image = plot_confusion_matrix(matrix.numpy(), names, cells="counts")
            log_evaluation_image("confusion_matrix", image)
            if self.out_file is not None:
                from PIL import Image

                Path(self.out_file).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(self.out_file)
        return {"result": matrix}
