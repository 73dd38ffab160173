"""COCO keypoint AP/AR of top-down predictions: rescoring, OKS-NMS, then COCOeval."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from labcore.errors import ConfigError
from labcore.evaluation import CocoMetric
from labpose.evaluation.oks import oks_nms
from labpose.registry import METRICS

SCORE_MODES = ("bbox", "keypoint", "bbox_keypoint")


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


@METRICS.register_module()
class PoseCocoMetric(CocoMetric):
    """labcore's CocoMetric ('keypoints') for top-down samples, one box each, as MMPose's
    COCO pipeline evaluates them.

    Per image and category the instances are rescored (``score_mode``
    'bbox_keypoint': box score times the mean of the keypoint scores above
    ``keypoint_score_thr``), then suppressed by OKS-NMS at ``nms_thr`` (None: no NMS),
    then evaluated by COCOeval against ``ann_file`` with the data set's OKS sigmas.

    Args:
        ann_file: COCO keypoint JSON; default the evaluated data set's (its metainfo).
        score_mode: 'bbox', 'keypoint' or 'bbox_keypoint'.
        keypoint_score_thr: keypoint scores counted in the rescoring.
        nms_thr: OKS threshold of the NMS, or None.
        keypoint_sigmas: OKS sigmas; default the data set's metainfo ``sigmas``.
        outfile_prefix, format_only, collect_device, prefix, collect_dir: as CocoMetric.

    Returned keys (``coco/`` prefix): ``keypoints_mAP``, ``keypoints_mAP_50``, ... the ten
    of :data:`labcore.evaluation.coco_metric.KEYPOINT_STAT_NAMES`.
    """

    def __init__(
        self,
        *,
        ann_file: str | None = None,
        score_mode: str = "bbox_keypoint",
        keypoint_score_thr: float = 0.2,
        nms_thr: float | None = 0.9,
        keypoint_sigmas: Sequence[float] | None = None,
        outfile_prefix: str | None = None,
        format_only: bool = False,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
    ):
        if score_mode not in SCORE_MODES:
            raise ConfigError(
                f"PoseCocoMetric score_mode={score_mode!r}; choose one of {SCORE_MODES}."
            )
        super().__init__(
            ann_file=ann_file or "",
            metric="keypoints",
            keypoint_sigmas=keypoint_sigmas,
            outfile_prefix=outfile_prefix,
            format_only=format_only,
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir,
        )
        self._ann_file_given = ann_file is not None
        self._sigmas_given = keypoint_sigmas is not None
        self.score_mode = score_mode
        self.keypoint_score_thr = keypoint_score_thr
        self.nms_thr = nms_thr

    @property
    def dataset_meta(self) -> dict | None:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dict(dataset_meta)
        if not self._ann_file_given:
            if "ann_file" not in dataset_meta:
                raise ConfigError(
                    "PoseCocoMetric has no ann_file and the evaluated data set names none in "
                    "its metainfo: set val_evaluator.ann_file, or use CocoKeypointDataset."
                )
            self.ann_file = Path(dataset_meta["ann_file"])
            self._coco_gt = None
        if not self._sigmas_given and dataset_meta.get("sigmas"):
            self.keypoint_sigmas = list(dataset_meta["sigmas"])

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep each sample's single instance: keypoints, scores, box score, area."""
        for sample in data_samples:
            sample = sample.to_dict() if hasattr(sample, "to_dict") else sample
            pred = sample["pred_instances"]
            pred = pred.to_dict() if hasattr(pred, "to_dict") else pred
            scale = np.asarray(sample.get("input_scale", (1.0, 1.0)), dtype=np.float64)
            self.results.append(
                dict(
                    img_id=int(sample["img_id"]),
                    label=int(_numpy(pred.get("labels", [0])).reshape(-1)[0]),
                    bbox_score=float(_numpy(pred.get("bbox_scores", [1.0])).reshape(-1)[0]),
                    keypoints=_numpy(pred["keypoints"]).astype(np.float64).reshape(-1, 2),
                    keypoint_scores=_numpy(pred["keypoint_scores"]).astype(np.float64).reshape(-1),
                    area=float(np.prod(scale)),
                )
            )

    def instance_score(self, instance: dict) -> float:
        """The rescored confidence of one instance (``score_mode``)."""
        scores = instance["keypoint_scores"]
        confident = scores[scores > self.keypoint_score_thr]
        keypoint_score = float(confident.mean()) if confident.size else 0.0
        if self.score_mode == "bbox":
            return instance["bbox_score"]
        if self.score_mode == "keypoint":
            return keypoint_score
        return instance["bbox_score"] * keypoint_score

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Group the instances by image and category, rescore, suppress, evaluate."""
        groups: dict[tuple[int, int], list[dict]] = defaultdict(list)
        for instance in results:
            groups[(instance["img_id"], instance["label"])].append(instance)
        sigmas = np.asarray(self._sigmas(self._ground_truth()), dtype=np.float64)
        per_image: dict[int, list[dict]] = defaultdict(list)
        for (img_id, _), instances in sorted(groups.items()):
            scores = np.array([self.instance_score(i) for i in instances])
            keep = list(range(len(instances)))
            if self.nms_thr is not None:
                keep = oks_nms(
                    np.stack([i["keypoints"] for i in instances]),
                    scores,
                    np.array([i["area"] for i in instances]),
                    sigmas,
                    self.nms_thr,
                )
            per_image[img_id] += [dict(instances[k], score=scores[k]) for k in keep]
        merged = []
        for img_id, instances in sorted(per_image.items()):
            merged.append(
                dict(
                    img_id=img_id,
                    scores=np.array([i["score"] for i in instances]),
                    labels=np.array([i["label"] for i in instances], dtype=np.int64),
                    bboxes=np.zeros((len(instances), 4)),
                    keypoints=np.stack([i["keypoints"] for i in instances]),
                    keypoint_scores=np.stack([i["keypoint_scores"] for i in instances]),
                )
            )
        return super().compute_metrics(merged)
