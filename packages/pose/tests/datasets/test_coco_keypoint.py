"""CocoKeypointDataset: items per box, metainfo, detector boxes, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from labcore.datasets.synthetic import KEYPOINT_NAMES, KEYPOINT_SIGMAS, SKELETON
from labcore.errors import ConfigError
from labcore.evaluation.coco_metric import COCO_PERSON_KEYPOINT_SIGMAS
from labpose.datasets import AnnotationError, CocoKeypointDataset, load_metainfo


def test_shipped_metainfo_agrees_with_labcore_and_pycocotools():
    shapes = load_metainfo("shapes")
    assert shapes["keypoint_names"] == list(KEYPOINT_NAMES)
    assert shapes["sigmas"] == list(KEYPOINT_SIGMAS)
    assert sorted(tuple(sorted((a + 1, b + 1))) for a, b in shapes["skeleton"]) == sorted(
        tuple(sorted(link)) for link in SKELETON
    )
    assert shapes["flip_indices"] == [0, 1, 4, 3, 2]
    coco = load_metainfo("coco")
    assert coco["num_keypoints"] == 17
    assert coco["sigmas"] == list(COCO_PERSON_KEYPOINT_SIGMAS)
    assert coco["flip_indices"] == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert len(coco["upper_body_ids"]) == 11 and len(coco["lower_body_ids"]) == 6


def test_items_are_boxes_with_their_keypoints(shapes_pose):
    dataset = CocoKeypointDataset(
        data_root=str(shapes_pose), ann_file="annotations/keypoints_val.json",
        data_prefix=dict(img="val/"), metainfo="shapes", test_mode=True,
    )  # fmt: skip
    coco = json.loads((shapes_pose / "annotations/keypoints_val.json").read_text())
    annotations = [a for a in coco["annotations"] if a["num_keypoints"] > 0]
    assert len(dataset) == len(annotations)
    item = dataset[0]
    first = next(a for a in annotations if a["id"] == item["id"])
    x, y, w, h = first["bbox"]
    np.testing.assert_allclose(item["bbox"], [[x, y, x + w, y + h]])
    points = np.array(first["keypoints"], dtype=np.float32).reshape(-1, 3)
    np.testing.assert_allclose(item["keypoints"][0], points[:, :2])
    np.testing.assert_array_equal(item["keypoints_visible"][0], points[:, 2] > 0)
    assert dataset.metainfo["sigmas"] == list(KEYPOINT_SIGMAS)
    assert item["flip_indices"] == [0, 1, 4, 3, 2]


def write_coco(tmp_path, annotation: dict, num_keypoints: int = 5):
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 50, "width": 60}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "iscrowd": 0, **annotation}],
        "categories": [
            {"id": 1, "name": "thing", "keypoints": [str(i) for i in range(num_keypoints)]}
        ],
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(coco))
    return path


GOOD = dict(bbox=[1, 2, 30, 20], keypoints=[5, 5, 2] * 5, num_keypoints=5, area=600)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(keypoints=[5, 5, 2] * 4), "length 12"),
        (dict(bbox=[1, 2, -3, 20]), "negative box size"),
        (dict(bbox=None), "bbox=None"),
        (dict(keypoints=[5, 5, 2] * 4 + [5, 5, 3]), "visibility flags [3]"),
    ],
)
def test_bad_annotations_name_file_and_id(tmp_path, change, message):
    path = write_coco(tmp_path, {**GOOD, **change})
    with pytest.raises(AnnotationError) as error:
        CocoKeypointDataset(ann_file=str(path), metainfo="shapes")
    assert message in str(error.value) and "annotation id 7" in str(error.value)
    assert str(path) in str(error.value)


def test_detector_boxes_replace_ground_truth_above_the_threshold(tmp_path):
    path = write_coco(tmp_path, GOOD)
    boxes = tmp_path / "dets.json"
    boxes.write_text(json.dumps([
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "score": 0.1},
        {"image_id": 1, "category_id": 2, "bbox": [5, 5, 10, 10], "score": 0.9},
    ]))  # fmt: skip
    dataset = CocoKeypointDataset(
        ann_file=str(path), metainfo="shapes", bbox_file=str(boxes), bbox_score_thr=0.3,
        test_mode=True,
    )  # fmt: skip
    assert len(dataset) == 1
    np.testing.assert_allclose(dataset[0]["bbox"], [[0, 0, 10, 10]])
    np.testing.assert_allclose(dataset[0]["bbox_score"], [0.9])
    assert dataset.metainfo["bbox_file"] == str(boxes)


def test_detector_box_file_errors(tmp_path):
    path = write_coco(tmp_path, GOOD)
    boxes = tmp_path / "dets.json"
    boxes.write_text(json.dumps([{"image_id": 99, "bbox": [0, 0, 1, 1], "score": 1.0}]))
    with pytest.raises(AnnotationError, match="entry 0 of .*image_id 99"):
        CocoKeypointDataset(
            ann_file=str(path), metainfo="shapes", bbox_file=str(boxes), test_mode=True
        )
    with pytest.raises(ConfigError, match="for testing"):
        CocoKeypointDataset(ann_file=str(path), metainfo="shapes", bbox_file=str(boxes))


def test_users_metainfo_file(tmp_path):
    meta = tmp_path / "animal.yml"
    meta.write_text(yaml.safe_dump(dict(
        keypoint_names=["a", "b", "c", "d", "e"], sigmas=[0.1] * 5, skeleton=[["a", "b"]],
    )))  # fmt: skip
    loaded = load_metainfo(str(meta))
    assert loaded["flip_indices"] is None and loaded["skeleton"] == [[0, 1]]
    dataset = CocoKeypointDataset(ann_file=str(write_coco(tmp_path, GOOD)), metainfo=str(meta))
    assert dataset.metainfo["sigmas"] == [0.1] * 5
    with pytest.raises(ConfigError, match="not among keypoint_names"):
        load_metainfo(dict(keypoint_names=["a"], flip_pairs=[["a", "z"]]))
    with pytest.raises(ConfigError, match="does not exist"):
        load_metainfo(str(tmp_path / "missing.yml"))
