"""Log a few validation images with their predicted boxes and masks to the visualizer."""

from __future__ import annotations

from mmengine.hooks import Hook

from labdet.apis.inference import show_result
from labdet.registry import HOOKS


@HOOKS.register_module()
class DetVisualizationHook(Hook):
    """After each validation, draw the first ``num_images`` validation images with their
    detections scoring at least ``score_thr`` and hand them to the runner's visualizer
    (``add_image``), whose backends store them: files with LocalVisBackend, MLflow
    artifacts with an MLflow backend that stores images. Names are ``val_<img_id>``; the
    step is the training iteration.
    """

    priority = "LOW"

    def __init__(self, *, num_images: int = 4, score_thr: float = 0.3):
        self.num_images = num_images
        self.score_thr = score_thr
        self._drawn = 0

    def before_val_epoch(self, runner) -> None:
        self._drawn = 0

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._drawn >= self.num_images or not outputs:
            return
        classes = (runner.val_dataloader.dataset.metainfo or {}).get("classes")
        for sample in outputs[: self.num_images - self._drawn]:
            path = sample.metainfo.get("img_path")
            if path is None:
                continue
            drawing = show_result(path, sample, classes=classes, score_thr=self.score_thr)
            runner.visualizer.add_image(
                f"val_{sample.metainfo.get('img_id', self._drawn)}", drawing, step=runner.iter
            )
            self._drawn += 1
