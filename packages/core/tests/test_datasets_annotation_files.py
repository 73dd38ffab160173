"""labcore.datasets.annotation_files: broken annotation files are named, with where."""

from __future__ import annotations

import json

import pytest
from pycocotools.coco import COCO

from labcore.datasets.annotation_files import (
    AnnotationFileError,
    load_coco,
    read_json,
    read_text_lines,
)

COCO_DATA = {
    "images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 8}],
    "annotations": [
        {"id": 7, "image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0}
    ],
    "categories": [{"id": 3, "name": "square"}],
}


def test_a_cut_coco_file_names_the_file_and_the_place(tmp_path):
    path = tmp_path / "train.json"
    text = json.dumps(COCO_DATA, indent=1)
    path.write_text(text[: len(text) // 2])
    with pytest.raises(AnnotationFileError) as err:
        load_coco(path)
    message = str(err.value)
    assert f"'{path}' is not valid JSON" in message and "cut short" in message
    assert "line" in message and "column" in message
    path.write_text(text.replace('"bbox"', "bbox", 1))  # broken in the middle, not cut
    with pytest.raises(
        AnnotationFileError, match="at line 15, column 4; fix the file or regenerate it"
    ):
        read_json(path)


def test_a_coco_file_of_another_format_or_encoding_is_named(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text("[1, 2]")
    with pytest.raises(AnnotationFileError, match="holds a JSON list, not an object"):
        load_coco(path)
    path.write_text(json.dumps({"images": {}, "annotations": []}))
    with pytest.raises(AnnotationFileError, match="'images' is not a list"):
        load_coco(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(AnnotationFileError, match=f"'{path}' is not UTF-8 text"):
        load_coco(path)
    with pytest.raises(AnnotationFileError, match="is not UTF-8 text"):
        read_text_lines(path, what="Image list")
    with pytest.raises(AnnotationFileError, match="does not exist"):
        read_json(tmp_path / "missing.json")


def test_load_coco_indexes_like_pycocotools(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(COCO_DATA))
    ours, reference = load_coco(path), COCO(str(path))
    assert ours.imgs == reference.imgs and ours.anns == reference.anns
    assert ours.cats == reference.cats and dict(ours.imgToAnns) == dict(reference.imgToAnns)
    from faster_coco_eval import COCO as FasterCOCO

    assert load_coco(path, FasterCOCO).getAnnIds() == [7]


def test_coco_metric_names_a_cut_ground_truth_file(tmp_path):
    from labcore.evaluation.coco_metric import CocoMetric

    path = tmp_path / "val.json"
    path.write_text(json.dumps(COCO_DATA)[:40])
    metric = CocoMetric(ann_file=str(path))
    with pytest.raises(AnnotationFileError, match=f"'{path}' is not valid JSON"):
        metric._ground_truth()
