"""ImageNet-style folder datasets, the shapes set, and packing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from labcls.datasets import CustomDataset, DatasetError, ShapesDataset
from labcls.registry import DATASETS

PIPELINE = [dict(type="LoadImageFromFile"), dict(type="PackClsInputs")]


def _write_folder(root, classes=("cat", "dog"), per_class=2):
    lines = []
    for label, name in enumerate(classes):
        (root / "train" / name).mkdir(parents=True)
        for i in range(per_class):
            img = np.full((8, 6, 3), 40 * label + i, dtype=np.uint8)
            Image.fromarray(img).save(root / "train" / name / f"{i}.png")
            lines.append(f"{name}/{i}.png {label}")
    (root / "meta").mkdir()
    (root / "meta" / "train.txt").write_text("\n".join(lines) + "\n")
    (root / "classes.txt").write_text("\n".join(classes) + "\n")


def test_annotation_file_and_class_folders_agree(tmp_path):
    _write_folder(tmp_path)
    with_ann = CustomDataset(
        data_root=str(tmp_path), ann_file="meta/train.txt", data_prefix="train", pipeline=PIPELINE
    )
    folders = DATASETS.build(
        dict(type="ImageNet", data_root=str(tmp_path), data_prefix="train", pipeline=PIPELINE)
    )
    assert with_ann.classes == folders.classes == ("cat", "dog")
    assert len(with_ann) == len(folders) == 4
    for i in range(4):
        a, b = with_ann[i], folders[i]
        torch.testing.assert_close(a["inputs"], b["inputs"])
        assert a["data_samples"].gt_label.tolist() == b["data_samples"].gt_label.tolist()
    sample = with_ann[3]
    assert sample["inputs"].shape == (3, 8, 6) and sample["inputs"].dtype == torch.uint8
    assert sample["data_samples"].gt_label.tolist() == [1]
    assert sample["data_samples"].img_path.endswith("dog/1.png")
    assert sample["data_samples"].ori_shape == (8, 6)


def test_label_out_of_range_names_the_line(tmp_path):
    _write_folder(tmp_path)
    ann = tmp_path / "meta" / "train.txt"
    ann.write_text(ann.read_text() + "dog/1.png 7\n")
    with pytest.raises(DatasetError, match=r"train\.txt:5: label 7 is out of range"):
        CustomDataset(data_root=str(tmp_path), ann_file="meta/train.txt", data_prefix="train")
    ann.write_text("cat/0.png\n")
    with pytest.raises(DatasetError, match=r"train\.txt:1: expected"):
        CustomDataset(data_root=str(tmp_path), ann_file="meta/train.txt", data_prefix="train")


def test_missing_image_names_the_file(tmp_path):
    _write_folder(tmp_path)
    (tmp_path / "train" / "cat" / "1.png").unlink()
    dataset = CustomDataset(
        data_root=str(tmp_path), ann_file="meta/train.txt", data_prefix="train", pipeline=PIPELINE
    )
    with pytest.raises(FileNotFoundError, match=r"cat/1\.png"):
        dataset[1]


def test_unknown_folder_is_reported(tmp_path):
    _write_folder(tmp_path)
    (tmp_path / "train" / "bird").mkdir()
    with pytest.raises(DatasetError, match="bird"):
        CustomDataset(data_root=str(tmp_path), data_prefix="train", classes=["cat", "dog"])


def test_shapes_dataset_reads_the_generated_set(shapes_cls):
    classes = tuple((shapes_cls / "classes.txt").read_text().split())
    train = ShapesDataset(split="train", data_root=str(shapes_cls), pipeline=PIPELINE)
    val = ShapesDataset(split="val", data_root=str(shapes_cls))
    assert train.classes == classes and len(classes) == 8
    expected = len((shapes_cls / "meta" / "train.txt").read_text().splitlines())
    assert len(train) == expected and len(val) > 0
    sample = train[0]
    assert sample["inputs"].shape == (3, 32, 32)
    label = sample["data_samples"].gt_label.item()
    assert f"/{classes[label]}/" in sample["data_samples"].img_path
    with pytest.raises(DatasetError, match="split"):
        ShapesDataset(split="test", data_root=str(shapes_cls))


def test_annotation_and_class_files_that_are_not_text_are_named(tmp_path):
    from labcore.datasets.annotation_files import AnnotationFileError

    _write_folder(tmp_path)
    ann = tmp_path / "meta" / "train.txt"
    ann.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")  # an image given as the annotation file
    with pytest.raises(AnnotationFileError, match=rf"'{ann}' is not UTF-8 text"):
        CustomDataset(data_root=str(tmp_path), ann_file="meta/train.txt", data_prefix="train")
    classes = tmp_path / "classes.txt"
    classes.write_bytes(b"\xff\xfe\x00c")
    with pytest.raises(AnnotationFileError, match=rf"Class-name file '{classes}' is not UTF-8"):
        CustomDataset(data_root=str(tmp_path), data_prefix="train", classes=str(classes))
