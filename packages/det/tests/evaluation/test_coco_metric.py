import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement, InstanceData

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


@pytest.mark.parametrize("layout, first_id", [("category_id-1", 1), ("category_id", 0)])
def test_category_id_layouts_are_scored_as_pycocotools_scores_their_ids(tmp_path, layout, first_id):
    """torchvision's label layouts (label = category id - 1, or the id itself) on a file
    with a gap in its ids: the metric writes the right category ids, so its AP equals
    pycocotools' on the same detections written by hand as COCO results."""
    import contextlib
    import io
    import json

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    boxes = {1: [[2, 2, 10, 12], [20, 5, 8, 8]], 2: [[4, 4, 15, 10]]}  # xywh per image
    cats = {1: [1, 3], 2: [3]}
    data = {
        "images": [{"id": i, "file_name": f"{i}.jpg", "height": 40, "width": 50} for i in boxes],
        "categories": [{"id": 1, "name": "a"}, {"id": 3, "name": "b"}],
        "annotations": [
            dict(id=10 * i + k, image_id=i, bbox=b, category_id=cats[i][k], iscrowd=0,
                 area=b[2] * b[3])
            for i in boxes for k, b in enumerate(boxes[i])
        ],
    }  # fmt: skip
    ann_file = tmp_path / "gapped.json"
    ann_file.write_text(json.dumps(data))
    # per image: (xywh, category id, score): one good match, one wrong class, one shifted
    detections = {
        1: [([2, 2, 10, 12], 1, 0.9), ([20, 5, 8, 8], 1, 0.8), ([21, 6, 8, 8], 3, 0.6)],
        2: [([6, 5, 15, 10], 3, 0.7), ([30, 20, 5, 5], 1, 0.3)],
    }
    dataset = CocoDataset(ann_file=str(ann_file), label_layout=layout, test_mode=True)
    metric = DetCocoMetric()
    metric.dataset_meta = dataset.metainfo
    for img_id, dets in detections.items():
        sample = BaseDataElement(metainfo=dict(img_id=img_id))
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor([[x, y, x + w, y + h] for (x, y, w, h), _, _ in dets]),
            scores=torch.tensor([s for _, _, s in dets]),
            labels=torch.tensor([c - first_id for _, c, _ in dets]),
        )
        metric.process({}, [sample])
    ours = metric.evaluate(len(detections))["coco/bbox_mAP"]

    results = [
        dict(image_id=i, category_id=c, bbox=b, score=s) for i in detections
        for b, c, s in detections[i]
    ]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_file))
        reference = COCOeval(gt, gt.loadRes(results), "bbox")
        reference.evaluate()
        reference.accumulate()
        reference.summarize()
    assert 0 < ours < 1 and ours == pytest.approx(reference.stats[0], abs=1e-6)
