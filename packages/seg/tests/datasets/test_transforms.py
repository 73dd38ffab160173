"""The joint transforms keep every labelled pixel on the colour of its class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from labseg.datasets.transforms import SegRandomCrop

COLOURS = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], np.uint8)


def _scene(height=60, width=80):
    """A label map of blocks of classes 0..4 (and an ignored band) and the image painting
    each class in its own colour."""
    label = np.zeros((height, width), dtype=np.int64)
    label[5:30, 10:50] = 1
    label[30:55, 40:75] = 2
    label[10:25, 55:70] = 3
    label[40:58, 5:30] = 4
    label[:, 76:] = 255
    image = COLOURS[np.where(label == 255, 0, label)]
    return dict(img=image, gt_seg_map=label, img_shape=(height, width), ori_shape=(height, width))


def _interior(label):
    """Pixels whose 3x3 neighbourhood has one label (bilinear image resizing blends at edges)."""
    padded = np.pad(label, 1, mode="edge")
    same = np.ones_like(label, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            same &= padded[dy : dy + label.shape[0], dx : dx + label.shape[1]] == label
    return same & (label != 255)


@pytest.mark.parametrize("seed", range(5))
def test_warped_pixels_keep_the_colour_of_their_class(seed):
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope("labseg"):
        pipeline = Compose([
            dict(type="SegRandomResize", scale=(80, 60), ratio_range=(0.5, 2.0)),
            dict(type="SegRandomCrop", crop_size=(32, 32), cat_max_ratio=0.75),
            dict(type="SegRandomFlip", prob=0.5),
        ])  # fmt: skip
    out = pipeline(_scene())
    image, label = out["img"], out["gt_seg_map"]
    assert image.shape[:2] == label.shape == out["img_shape"]
    assert max(label.shape) <= 32  # smaller where the resized image is (padded later)
    inside = _interior(label)
    assert inside.sum() > 100
    np.testing.assert_array_equal(image[inside], COLOURS[label[inside]])


def test_crop_with_cat_max_ratio_avoids_single_class_crops():
    torch.manual_seed(0)
    results = _scene()
    results["gt_seg_map"][:, :] = 0
    results["gt_seg_map"][50:, 70:76] = 1  # a small corner of class 1
    crop = SegRandomCrop(crop_size=(20, 20), cat_max_ratio=0.95)
    chosen = crop(dict(results))["gt_seg_map"]
    assert chosen.shape == (20, 20)  # gives up after 10 draws when no crop qualifies


def test_photometric_distortion_keeps_shape_and_labels():
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope("labseg"):
        pipeline = Compose([dict(type="PhotoMetricDistortion"), dict(type="PackSegInputs")])
    scene = _scene()
    out = pipeline(dict(scene))
    assert out["inputs"].shape == (3, 60, 80) and out["inputs"].dtype == torch.uint8
    assert torch.equal(
        out["data_samples"].gt_sem_seg.data[0], torch.from_numpy(scene["gt_seg_map"])
    )


def test_test_resize_leaves_the_label_at_its_original_size(tmp_path):
    from PIL import Image

    Image.fromarray(COLOURS[np.zeros((30, 40), dtype=np.int64)]).save(tmp_path / "i.png")
    Image.fromarray(np.ones((30, 40), dtype=np.uint8)).save(tmp_path / "l.png")
    with DefaultScope.overwrite_default_scope("labseg"):
        pipeline = Compose([
            dict(type="LoadImageFromFile"), dict(type="SegResize", scale=(80, 60)),
            dict(type="LoadSegAnnotations"), dict(type="PackSegInputs"),
        ])  # fmt: skip
    out = pipeline(
        dict(img_path=str(tmp_path / "i.png"), seg_map_path=str(tmp_path / "l.png"), num_classes=2)
    )
    assert out["inputs"].shape == (3, 60, 80)
    assert out["data_samples"].gt_sem_seg.data.shape == (1, 30, 40)
    assert out["data_samples"].ori_shape == (30, 40)
