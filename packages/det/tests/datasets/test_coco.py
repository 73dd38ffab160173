import json

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from pycocotools.coco import COCO

from labdet.datasets import AnnotationError, CocoDataset


@pytest.fixture(autouse=True)
def _labdet_scope():
    init_default_scope("labdet")


def _write(tmp_path, annotations, categories=({"id": 3, "name": "b"}, {"id": 1, "name": "a"})):
    data = {
        "images": [
            {"id": 1, "file_name": "x.jpg", "height": 40, "width": 50},
            {"id": 2, "file_name": "y.jpg", "height": 40, "width": 50},
        ],
        "categories": list(categories),
        "annotations": annotations,
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


def _ann(ann_id, image_id, bbox, category_id=1, **extra):
    return {
        "id": ann_id,
        "image_id": image_id,
        "bbox": bbox,
        "category_id": category_id,
        "iscrowd": 0,
        "area": 1,
        **extra,
    }


def test_items_hold_boxes_labels_crowd_and_classes(tmp_path):
    path = _write(
        tmp_path,
        [
            _ann(1, 1, [1, 2, 10, 20], 3, segmentation=[[1, 2, 11, 2, 11, 22]]),
            _ann(2, 1, [5, 5, 4, 4], 1, iscrowd=1),
        ],
    )
    ds = CocoDataset(ann_file=str(path), data_prefix=dict(img=str(tmp_path)))
    assert ds.metainfo["classes"] == ("a", "b")  # sorted category ids: 1 -> a, 3 -> b
    assert ds.metainfo["ann_file"] == str(path)
    item = ds.get_data_info(0)
    assert item["img_path"].endswith("x.jpg") and item["img_id"] == 1
    first, crowd = item["instances"]
    assert first["bbox"] == [1.0, 2.0, 11.0, 22.0] and first["bbox_label"] == 1
    assert crowd["ignore_flag"] == 1 and crowd["bbox_label"] == 0
    assert len(ds) == 2


def test_filter_empty_gt_keeps_images_with_objects(tmp_path):
    path = _write(tmp_path, [_ann(1, 1, [1, 2, 10, 20])])
    assert len(CocoDataset(ann_file=str(path), filter_empty_gt=True)) == 1
    assert len(CocoDataset(ann_file=str(path), filter_empty_gt=True, test_mode=True)) == 2


def test_degenerate_boxes_are_dropped_with_a_count(tmp_path):
    path = _write(
        tmp_path, [_ann(1, 1, [1, 2, 0, 20]), _ann(2, 1, [1, 2, 5, 0.5]), _ann(3, 2, [1, 1, 5, 5])]
    )
    with pytest.warns(UserWarning, match="dropped 2 boxes"):
        ds = CocoDataset(ann_file=str(path))
    assert [len(ds.get_data_info(i)["instances"]) for i in range(2)] == [0, 1]


@pytest.mark.parametrize(
    "bad, message",
    [
        (_ann(7, 1, [1, 2, 3]), "annotation id 7"),
        (_ann(8, 2, [1, 2, 3, 4], category_id=99), "category_id=99"),
        (_ann(9, 1, None), "annotation id 9"),
        (_ann(10, 1, [5, 2, -3, 4]), "annotation id 10 .* has a negative width"),
        (_ann(11, 2, [5, 2, 3, -4]), "annotation id 11 .* has a negative height"),
    ],
)
def test_malformed_annotation_names_file_and_id(tmp_path, bad, message):
    path = _write(tmp_path, [bad])
    with pytest.raises(AnnotationError, match=message) as err:
        CocoDataset(ann_file=str(path))
    assert str(path) in str(err.value)


def test_synthetic_shapes_set(shapes_det):
    ds = CocoDataset(
        ann_file="annotations/instances_val.json",
        data_root=str(shapes_det),
        data_prefix=dict(img="val/"),
        test_mode=True,
    )
    coco = COCO(str(shapes_det / "annotations" / "instances_val.json"))
    assert len(ds) == len(coco.getImgIds())
    item = ds.get_data_info(0)
    anns = coco.imgToAnns[item["img_id"]]
    x, y, w, h = anns[0]["bbox"]
    np.testing.assert_allclose(item["instances"][0]["bbox"], [x, y, x + w, y + h])


def test_a_cut_annotation_file_is_named(tmp_path):
    from labcore.datasets.annotation_files import AnnotationFileError

    path = _write(tmp_path, [_ann(1, 1, [1, 2, 10, 20])])
    path.write_text(path.read_text()[:100])
    with pytest.raises(AnnotationFileError, match=f"'{path}' is not valid JSON.*cut short"):
        CocoDataset(ann_file=str(path))


def test_category_id_layouts_keep_the_gaps(tmp_path):
    path = _write(tmp_path, [_ann(1, 1, [1, 2, 10, 20], 3), _ann(2, 1, [5, 5, 4, 4], 1)])

    def labels(ds):
        return [i["bbox_label"] for i in ds.get_data_info(0)["instances"]]

    minus_one = CocoDataset(ann_file=str(path), label_layout="category_id-1")
    assert minus_one.metainfo["cat_ids"] == (1, 2, 3)  # torchvision's R-CNN: label = id - 1
    assert minus_one.metainfo["classes"] == ("a", "N/A", "b") and labels(minus_one) == [2, 0]
    as_id = CocoDataset(ann_file=str(path), label_layout="category_id")
    assert as_id.metainfo["cat_ids"] == (0, 1, 2, 3)  # torchvision's RetinaNet: label = id
    assert as_id.metainfo["classes"] == ("N/A", "a", "N/A", "b") and labels(as_id) == [3, 1]
    ordered = CocoDataset(ann_file=str(path))
    assert ordered.metainfo["cat_ids"] == (1, 3) and labels(ordered) == [1, 0]


def test_unknown_label_layout_and_ids_below_the_first_label_are_named(tmp_path):
    from labcore.errors import ConfigError

    path = _write(tmp_path, [], categories=[{"id": 0, "name": "zero"}])
    with pytest.raises(ConfigError, match="label_layout='sideways'.*sorted"):
        CocoDataset(ann_file=str(path), label_layout="sideways")
    with pytest.raises(AnnotationError, match=r"category ids \[0\].*from 1.*'sorted'"):
        CocoDataset(ann_file=str(path), label_layout="category_id-1")
    assert CocoDataset(ann_file=str(path), label_layout="category_id").metainfo["cat_ids"] == (0,)
