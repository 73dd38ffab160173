import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from labcore.errors import ConfigError
from labdet.datasets import CocoDataset
from labdet.evaluation import DetCocoMetric


@pytest.fixture
def val_set(shapes_det):
    init_default_scope("labdet")
    pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="LoadDetAnnotations", with_mask=True),
        dict(type="PackDetInputs"),
    ]
    return CocoDataset(
        ann_file="annotations/instances_val.json",
        data_root=str(shapes_det),
        data_prefix=dict(img="val/"),
        test_mode=True,
        pipeline=pipeline,
    )


def test_ground_truth_as_predictions_scores_one(val_set):
    metric = DetCocoMetric(metric=["bbox", "segm"])
    metric.dataset_meta = val_set.metainfo  # what the runner does before evaluating
    for index in range(len(val_set)):
        sample = val_set[index]["data_samples"]
        gt = sample.gt_instances
        sample.pred_instances = InstanceData(
            bboxes=gt.bboxes, scores=torch.ones(len(gt.bboxes)), labels=gt.labels, masks=gt.masks
        )
        metric.process({}, [sample])
    results = metric.evaluate(len(val_set))
    assert results["coco/bbox_mAP"] == pytest.approx(1.0)
    assert results["coco/segm_mAP"] == pytest.approx(1.0)


def test_without_ann_file_anywhere_is_a_config_error():
    metric = DetCocoMetric()
    with pytest.raises(ConfigError, match="ann_file"):
        metric.dataset_meta = {"classes": ("a",)}
