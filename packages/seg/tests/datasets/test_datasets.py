"""Folder datasets on PNG label maps: the shapes set, ADE20K / Cityscapes / VOC layouts,
a user's own binary data, and the errors for bad label maps."""

from __future__ import annotations

import numpy as np
import pytest
from mmengine.registry import DefaultScope
from PIL import Image

from labseg.datasets import (
    ADE20KDataset,
    CityscapesDataset,
    LoadSegAnnotations,
    PascalVOCDataset,
    SegDataError,
    SegDataset,
)
from labseg.datasets.class_names import ADE20K_CLASSES, CITYSCAPES_CLASSES, VOC_CLASSES

PIPELINE = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadSegAnnotations"),
    dict(type="PackSegInputs"),
]


def _dataset(cls, **kwargs):
    with DefaultScope.overwrite_default_scope("labseg"):
        return cls(pipeline=PIPELINE, **kwargs)


def _write(root, image_rel, label_rel, label, size=None):
    size = size or label.shape
    (root / image_rel).parent.mkdir(parents=True, exist_ok=True)
    (root / label_rel).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), 100, dtype=np.uint8)).save(root / image_rel)
    Image.fromarray(label.astype(np.uint8)).save(root / label_rel)


def test_shapes_set_loads_with_its_classes(shapes_seg):
    dataset = _dataset(
        SegDataset, data_root=str(shapes_seg),
        data_prefix=dict(img_path="images/val", seg_map_path="annotations/val"),
    )  # fmt: skip
    assert len(dataset) == 8
    assert dataset.metainfo["classes"][0] == "background" and len(dataset.metainfo["classes"]) == 9
    sample = dataset[0]
    label = sample["data_samples"].gt_sem_seg.data
    assert sample["inputs"].shape == (3, 128, 128) and label.shape == (1, 128, 128)
    assert set(label.unique().tolist()) <= set(range(9)) | {255}


def test_public_layouts(tmp_path):
    assert (len(ADE20K_CLASSES), len(CITYSCAPES_CLASSES), len(VOC_CLASSES)) == (150, 19, 21)
    label = np.array([[0, 1], [150, 2]])
    _write(tmp_path, "images/training/a.jpg", "annotations/training/a.png", label)
    ade = _dataset(
        ADE20KDataset, data_root=str(tmp_path),
        data_prefix=dict(img_path="images/training", seg_map_path="annotations/training"),
    )  # fmt: skip
    assert ade[0]["data_samples"].gt_sem_seg.data[0].tolist() == [[255, 0], [149, 1]]

    _write(tmp_path, "leftImg8bit/val/aachen/x_leftImg8bit.png",
           "gtFine/val/aachen/x_gtFine_labelTrainIds.png", np.array([[18, 255]]))  # fmt: skip
    city = _dataset(
        CityscapesDataset, data_root=str(tmp_path),
        data_prefix=dict(img_path="leftImg8bit/val", seg_map_path="gtFine/val"),
    )  # fmt: skip
    assert city.get_data_info(0)["img_path"].endswith("aachen/x_leftImg8bit.png")
    assert city[0]["data_samples"].gt_sem_seg.data[0].tolist() == [[18, 255]]

    for name in ("a", "b", "c"):
        _write(
            tmp_path,
            f"JPEGImages/{name}.jpg",
            f"SegmentationClassAug/{name}.png",
            np.array([[20, 0]]),
        )
    (tmp_path / "train.txt").write_text("a\nb\n")
    (tmp_path / "aug.txt").write_text("c\n")
    voc = _dataset(
        PascalVOCDataset, data_root=str(tmp_path), ann_file=["train.txt", "aug.txt"],
        data_prefix=dict(img_path="JPEGImages", seg_map_path="SegmentationClassAug"),
    )  # fmt: skip
    assert [info["img_path"][-5:] for info in voc.load_data_list()] == ["a.jpg", "b.jpg", "c.jpg"]


def test_generic_binary_folder_with_classes_file(tmp_path):
    (tmp_path / "classes.txt").write_text("background\ncrack\n")
    _write(tmp_path, "img/1.png", "ann/1.png", np.array([[0, 1], [1, 255]]))
    dataset = _dataset(
        SegDataset, data_root=str(tmp_path), img_suffix=".png",
        data_prefix=dict(img_path="img", seg_map_path="ann"),
    )  # fmt: skip
    assert dataset.metainfo["classes"] == ("background", "crack")
    assert dataset[0]["data_samples"].gt_sem_seg.data.sum() == 2 + 255


def _load(tmp_path, label, *, num_classes, reduce_zero_label=False, image_size=None):
    _write(tmp_path, "i.png", "l.png", label, size=image_size)
    results = dict(
        img_path=str(tmp_path / "i.png"), seg_map_path=str(tmp_path / "l.png"),
        num_classes=num_classes, ignore_index=255, reduce_zero_label=reduce_zero_label,
        ori_shape=image_size or label.shape,
    )  # fmt: skip
    return LoadSegAnnotations()(results)


def test_label_values_out_of_range_name_the_file_and_the_reduce_zero_label_hint(tmp_path):
    label = np.array([[0, 1], [2, 3]])  # 0..3 for 3 classes: counted from 1 with 0 'other'
    with pytest.raises(
        SegDataError, match=r"l\.png' holds the value\(s\) 3.*reduce_zero_label=True"
    ):
        _load(tmp_path, label, num_classes=3)
    assert _load(tmp_path, label, num_classes=3, reduce_zero_label=True)["gt_seg_map"].tolist() == [
        [255, 0], [1, 2],
    ]  # fmt: skip
    with pytest.raises(SegDataError, match=r"value\(s\) 7.*With reduce_zero_label=True"):
        _load(tmp_path, np.array([[0, 8]]), num_classes=3, reduce_zero_label=True)
    with pytest.raises(SegDataError, match=r"value\(s\) 26, 33.*labelTrainIds"):
        _load(tmp_path, np.array([[26, 33, 1]]), num_classes=19)


def test_label_map_of_another_size_or_missing_is_named(tmp_path):
    with pytest.raises(
        SegDataError, match=r"l\.png' is 2x1 \(width x height\) but its image '.*i\.png' is 3x2"
    ):
        _load(tmp_path, np.array([[0, 1]]), num_classes=2, image_size=(2, 3))
    (tmp_path / "img").mkdir()
    Image.fromarray(np.zeros((2, 2, 3), dtype=np.uint8)).save(tmp_path / "img" / "x.jpg")
    with pytest.raises(SegDataError, match=r"label map of 'x' is missing: '.*ann/x\.png'"):
        _dataset(
            SegDataset, data_root=str(tmp_path), classes=("a", "b"),
            data_prefix=dict(img_path="img", seg_map_path="ann"),
        )  # fmt: skip
    with pytest.raises(SegDataError, match="Classes file not found"):
        _dataset(SegDataset, data_root=str(tmp_path / "nowhere"))
