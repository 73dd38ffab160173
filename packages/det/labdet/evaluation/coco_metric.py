"""COCO mAP of a detection data set against its own annotation file."""

from __future__ import annotations

from pathlib import Path

from labcore.errors import ConfigError
from labcore.evaluation import CocoMetric
from labdet.registry import METRICS


@METRICS.register_module()
class DetCocoMetric(CocoMetric):
    """labcore's CocoMetric whose ``ann_file`` defaults to the evaluated data set's.

    The runner hands the data set's metainfo to the metric before evaluating; labdet's
    CocoDataset lists its ``ann_file`` there. This lets configs of generated data sets
    (whose folder is known only at run time) evaluate without naming the file.
    """

    def __init__(self, *, ann_file: str | None = None, **kwargs):
        super().__init__(ann_file=ann_file or "", **kwargs)
        self._ann_file_given = ann_file is not None

    @property
    def dataset_meta(self) -> dict | None:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dict(dataset_meta)
        if not self._ann_file_given:
            if "ann_file" not in dataset_meta:
                raise ConfigError(
                    "DetCocoMetric has no ann_file and the evaluated data set does not name "
                    "one in its metainfo: set val_evaluator.ann_file, or use labdet's CocoDataset."
                )
            self.ann_file = Path(dataset_meta["ann_file"])
            self._coco_gt = None
