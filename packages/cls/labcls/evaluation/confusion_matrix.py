"""The confusion matrix, returned as a tensor and logged as an image."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MessageHub
from mmengine.visualization import Visualizer

from labcls.evaluation.single_label import (
    class_names,
    collect_labels,
    confusion_matrix,
    infer_num_classes,
)
from labcls.registry import METRICS


def plot_confusion_matrix(
    matrix: torch.Tensor, names: Sequence[str], *, title: str = "Confusion matrix"
) -> np.ndarray:
    """The matrix drawn as an RGB image, uint8 ndarray[H, W, 3].

    Rows are true classes, columns predicted classes; cells show counts and are shaded
    by the fraction of their row.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = matrix.numpy()
    rows = counts.sum(axis=1, keepdims=True)
    fractions = counts / np.maximum(rows, 1)
    k = len(names)
    size = min(max(4.0, 0.5 * k + 2), 30.0)
    fig = Figure(figsize=(size, size), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set(title=title, xlabel="Predicted class", ylabel="True class")
    if k <= 50:
        ax.set_xticks(range(k), labels=names, rotation=45, ha="right")
        ax.set_yticks(range(k), labels=names)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                color = "white" if fractions[i, j] > 0.5 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _current_visualizer() -> Visualizer | None:
    try:
        return Visualizer.get_current_instance()
    except RuntimeError:  # no runner or visualizer created yet
        return None


def _training_iterations_done() -> int:
    """Training iterations finished in the current run (0 outside training).

    MMEngine's RuntimeInfoHook records the index of the iteration that starts as ``iter``,
    so during a validation within training that is the count done minus one. Unlike the
    epoch index, the count is unique to each validation in epoch- and iteration-based
    loops alike."""
    try:
        hub = MessageHub.get_current_instance()
    except RuntimeError:
        return 0
    last = hub.get_info("iter")
    return 0 if last is None else int(last) + 1


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
            image = plot_confusion_matrix(matrix, class_names(self.dataset_meta, num_classes))
            visualizer = _current_visualizer()
            if visualizer is not None:
                visualizer.add_image("confusion_matrix", image, step=_training_iterations_done())
            if self.out_file is not None:
                from PIL import Image

                Path(self.out_file).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(self.out_file)
        return {"result": matrix}
