import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from labcore.errors import ConfigError
from labdet.datasets import (
    AnnotationError,
    CocoDataset,
    DetPad,
    DetRandomFlip,
    DetResize,
    LoadDetAnnotations,
    PackDetInputs,
    decode_segmentation,
)


@pytest.fixture(autouse=True)
def _labdet_scope():
    init_default_scope("labdet")


def _results(h=40, w=60):
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[10:20, 5:25] = 255
    masks = np.zeros((1, h, w), dtype=bool)
    masks[0, 10:20, 5:25] = True
    return dict(
        img=img,
        img_shape=(h, w),
        ori_shape=(h, w),
        gt_bboxes=np.array([[5, 10, 25, 20]], dtype=np.float32),
        gt_labels=np.array([2]),
        gt_ignore_flags=np.array([False]),
        gt_masks=masks,
    )


def _mask_box(mask):
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_resize_keeps_ratio_and_moves_boxes_and_masks():
    out = DetResize(scale=(120, 100), keep_ratio=True)(_results())
    assert out["img_shape"] == (80, 120)
    assert out["scale_factor"] == (2.0, 2.0)
    np.testing.assert_allclose(out["gt_bboxes"], [[10, 20, 50, 40]])
    assert out["gt_masks"].shape == (1, 80, 120)
    assert _mask_box(out["gt_masks"][0]) == [10, 20, 50, 40]


def test_flip_moves_boxes_and_masks_together():
    torch.manual_seed(0)
    out = DetRandomFlip(prob=1.0)(_results())
    assert out["flip"]
    np.testing.assert_allclose(out["gt_bboxes"], [[35, 10, 55, 20]])
    assert _mask_box(out["gt_masks"][0]) == [35, 10, 55, 20]
    assert out["img"][15, 40].max() == 255 and out["img"][15, 10].max() == 0
    assert not DetRandomFlip(prob=0.0)(_results())["flip"]


def test_pad_to_multiple_keeps_content_and_boxes():
    out = DetPad(size_divisor=32)(_results())
    assert out["img"].shape == (64, 64, 3) and out["pad_shape"] == (64, 64)
    assert out["img_shape"] == (40, 60) and out["gt_masks"].shape == (1, 64, 64)
    np.testing.assert_allclose(out["gt_bboxes"], [[5, 10, 25, 20]])


def test_pad_to_size_fills_bottom_right_and_keeps_content_and_boxes():
    results = _results()
    out = DetPad(size=(64, 48), pad_value=114)(_results())  # size is (w, h)
    assert out["img"].shape == (48, 64, 3) and out["pad_shape"] == (48, 64)
    assert out["img_shape"] == (40, 60) and out["gt_masks"].shape == (1, 48, 64)
    np.testing.assert_array_equal(out["img"][:40, :60], results["img"])
    assert (out["img"][40:] == 114).all() and (out["img"][:, 60:] == 114).all()
    np.testing.assert_array_equal(out["gt_masks"][0, :40, :60], results["gt_masks"][0])
    assert not out["gt_masks"][0, 40:].any() and not out["gt_masks"][0, :, 60:].any()
    np.testing.assert_array_equal(out["gt_bboxes"], results["gt_bboxes"])
    exact = DetPad(size=(60, 40), pad_value=114)(_results())
    np.testing.assert_array_equal(exact["img"], results["img"])
    assert "size=(64, 48)" in repr(DetPad(size=(64, 48)))


def test_pad_to_a_size_smaller_than_the_image_is_an_error():
    with pytest.raises(ConfigError, match=r"larger than size=\(50, 50\)"):
        DetPad(size=(50, 50))(_results())  # 40 x 60 is wider than 50
    with pytest.raises(ConfigError, match="size="):
        DetPad(size=(0, 64))


def test_pack_splits_crowd_and_converts_to_tensors():
    results = _results()
    results["gt_bboxes"] = np.array([[5, 10, 25, 20], [0, 0, 4, 4]], dtype=np.float32)
    results["gt_labels"] = np.array([2, 1])
    results["gt_ignore_flags"] = np.array([False, True])
    results["gt_masks"] = np.repeat(results["gt_masks"], 2, axis=0)
    results["img_id"] = 5
    packed = PackDetInputs()(results)
    assert packed["inputs"].shape == (3, 40, 60) and packed["inputs"].dtype == torch.uint8
    sample = packed["data_samples"]
    assert sample.img_id == 5 and sample.scale_factor == (1.0, 1.0)
    assert sample.gt_instances.labels.tolist() == [2]
    assert sample.ignored_instances.bboxes.tolist() == [[0, 0, 4, 4]]
    assert sample.gt_instances.masks.dtype == torch.bool


def test_decode_segmentation_polygon_and_rle():
    poly = [[2.0, 2.0, 12.0, 2.0, 12.0, 8.0, 2.0, 8.0]]
    mask = decode_segmentation(poly, 10, 15)
    expected = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(poly, 10, 15))).astype(
        bool
    )
    assert np.array_equal(mask, expected) and mask.sum() > 0
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert np.array_equal(decode_segmentation(rle, 10, 15), mask)


def test_pipeline_on_shapes_matches_pycocotools_masks(shapes_det):
    pipeline = [
        dict(type="LoadImageFromFile"),
        dict(type="LoadDetAnnotations", with_mask=True),
        dict(type="DetResize", scale=(256, 256), keep_ratio=True),
        dict(type="PackDetInputs"),
    ]
    ds = CocoDataset(
        ann_file="annotations/instances_train.json",
        data_root=str(shapes_det),
        data_prefix=dict(img="train/"),
        pipeline=pipeline,
    )
    coco = COCO(str(shapes_det / "annotations" / "instances_train.json"))
    kinds = set()
    for index in range(8):
        sample = ds[index]["data_samples"]
        anns = [a for a in coco.imgToAnns[sample.img_id] if not a["iscrowd"]]
        kinds.update(type(a["segmentation"]).__name__ for a in anns)
        reference = torch.from_numpy(np.stack([coco.annToMask(a) for a in anns])).bool()
        ours = sample.gt_instances.masks
        assert ours.shape[-2:] == (256, 256) and sample.scale_factor == (2.0, 2.0)
        # masks are resized with nearest neighbour: every pixel of ours is the reference's
        assert torch.equal(ours, reference.repeat_interleave(2, 1).repeat_interleave(2, 2))
    assert kinds == {"list", "dict"}, "the shapes set has polygon and RLE masks"


def test_loading_masks_without_segmentation_names_the_annotation():
    results = dict(
        instances=[dict(bbox=[0, 0, 2, 2], bbox_label=0, ignore_flag=0, ann_id=42)],
        ori_shape=(4, 4),
        img_path="a.jpg",
    )
    with pytest.raises(AnnotationError, match="annotation id 42"):
        LoadDetAnnotations(with_mask=True)(results)


def test_compose_builds_from_names():
    assert (
        len(Compose([dict(type="DetPad", size_divisor=8), dict(type="PackDetInputs")]).transforms)
        == 2
    )
