"""A confusion matrix drawn as an image and logged through the run's visualizer.

labcls's ConfusionMatrix and labseg's IoUMetric draw their matrices with
:func:`plot_confusion_matrix` and log them with :func:`log_evaluation_image`, so the
run's log folder and MLflow receive them as image artifacts (MLflow:
``images/<name>_<iterations>.png``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmengine.logging import MessageHub
from mmengine.visualization import Visualizer


def plot_confusion_matrix(
    matrix: np.ndarray,
    names: Sequence[str],
    *,
    title: str = "Confusion matrix",
    cells: str = "counts",
) -> np.ndarray:
    """The matrix (ndarray[K, K], row = true class, column = predicted class) drawn as an
    RGB image, uint8 ndarray[H, W, 3].

    Cells are shaded by the fraction of their row (rows of classes never seen stay
    empty). ``cells`` writes each cell's ``"counts"`` (images) or row ``"percent"``
    (pixels, whose counts are too long to read), the non-zero ones only in percent;
    class names are written up to 50 classes, cell values up to 30.
    """
    if cells not in ("counts", "percent"):
        raise ValueError(f"cells={cells!r}: use 'counts' or 'percent'")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(matrix)
    rows = counts.sum(axis=1, keepdims=True)
    fractions = counts / np.where(rows > 0, rows, 1)
    k = len(names)
    size = min(max(4.0, 0.5 * k + 2), 30.0)
    fig = Figure(figsize=(size, size), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ax.set(title=title, xlabel="Predicted class", ylabel="True class")
    if k <= 50:
        ax.set_xticks(range(k), labels=names, rotation=45, ha="right")
        ax.set_yticks(range(k), labels=names)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                if cells == "percent" and fractions[i, j] == 0:
                    continue
                text = str(counts[i, j]) if cells == "counts" else f"{100 * fractions[i, j]:.0f}"
                color = "white" if fractions[i, j] > 0.5 else "black"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def log_evaluation_image(name: str, image: np.ndarray) -> bool:
    """Hand ``image`` (uint8 ndarray[H, W, 3]) to the current visualizer, with the
    number of training iterations done as its step; False when no visualizer exists
    (no runner was built)."""
    try:
        visualizer = Visualizer.get_current_instance()
    except RuntimeError:
        return False
    visualizer.add_image(name, image, step=training_iterations_done())
    return True


def training_iterations_done() -> int:
    """Training iterations finished in the current run (0 outside training): the step of
    an image logged by an evaluation, unique to each validation in epoch- and
    iteration-based loops alike. MMEngine's RuntimeInfoHook records the index of the
    iteration that starts as ``iter``, so during a validation within training that is
    the count done minus one."""
    try:
        last = MessageHub.get_current_instance().get_info("iter")
    except RuntimeError:
        return 0
    return 0 if last is None else int(last) + 1
