"""Multi-scale augmentation: random choice, choice resize, random crop (the DETR family) and
random resize (RTMDet's large-scale jitter)."""

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from labcore.errors import ConfigError
from labdet.datasets import (
    DetRandomChoiceResize,
    DetRandomCrop,
    DetRandomResize,
    RandomChoice,
)


@pytest.fixture(autouse=True)
def _labdet_scope():
    init_default_scope("labdet")


def _results(h=60, w=80):
    """An image whose pixel (y, x) holds (y, x, 7), three boxes with masks."""
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    img = np.stack([ys, xs, np.full_like(ys, 7)], axis=-1).astype(np.uint8)
    boxes = np.array([[5, 10, 25, 20], [50, 30, 70, 55], [60, 0, 80, 8]], dtype=np.float32)
    masks = np.zeros((3, h, w), dtype=bool)
    for mask, (x1, y1, x2, y2) in zip(masks, boxes.astype(int)):
        mask[y1:y2, x1:x2] = True
    return dict(
        img=img,
        img_shape=(h, w),
        ori_shape=(h, w),
        gt_bboxes=boxes,
        gt_labels=np.array([3, 1, 4]),
        gt_ignore_flags=np.array([False, True, False]),
        gt_masks=masks,
    )


def _reference_crop(boxes, top, left, crop_h, crop_w):
    """Box by box: shift, clip, keep those with area (the plain reference)."""
    kept, index = [], []
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        x1, x2 = (min(max(v - left, 0), crop_w) for v in (x1, x2))
        y1, y2 = (min(max(v - top, 0), crop_h) for v in (y1, y2))
        if x2 > x1 and y2 > y1:
            kept.append([x1, y1, x2, y2])
            index.append(i)
    return np.array(kept, dtype=np.float32).reshape(-1, 4), index


def test_crop_shifts_clips_and_drops_boxes_with_their_labels_flags_and_masks():
    results = _results()
    out = DetRandomCrop(crop_size=(30, 40)).crop(_results(), top=12, left=45, crop_h=30, crop_w=35)
    boxes, index = _reference_crop(results["gt_bboxes"], 12, 45, 30, 35)
    assert index == [1]  # box 0 lies left of the window, box 2 above it
    np.testing.assert_array_equal(out["gt_bboxes"], boxes)
    np.testing.assert_array_equal(out["gt_bboxes"], [[5, 18, 25, 30]])
    np.testing.assert_array_equal(out["gt_labels"], [1])
    np.testing.assert_array_equal(out["gt_ignore_flags"], [True])
    assert out["img"].shape == (30, 35, 3) and out["img_shape"] == (30, 35)
    # image content: window pixel (y, x) is the original's (12 + y, 45 + x)
    assert tuple(out["img"][0, 0]) == (12, 45, 7)
    assert tuple(out["img"][29, 34]) == (41, 79, 7)
    np.testing.assert_array_equal(out["gt_masks"], results["gt_masks"][[1], 12:42, 45:80])


def test_random_crop_matches_the_reference_and_stays_in_the_absolute_range():
    torch.manual_seed(0)
    crop = DetRandomCrop(crop_size=(20, 50), crop_type="absolute_range", allow_negative_crop=True)
    sizes = set()
    for _ in range(200):
        out = crop(_results())
        crop_h, crop_w = out["img_shape"]
        assert 20 <= crop_h <= 50 and 20 <= crop_w <= 50
        sizes.add((crop_h, crop_w))
        # recover the window's offset from the image content, then check the boxes
        top, left = int(out["img"][0, 0, 0]), int(out["img"][0, 0, 1])
        boxes, index = _reference_crop(_results()["gt_bboxes"], top, left, crop_h, crop_w)
        np.testing.assert_array_equal(out["gt_bboxes"], boxes)
        np.testing.assert_array_equal(out["gt_labels"], np.array([3, 1, 4])[index])
        assert out["gt_masks"].shape == (len(index), crop_h, crop_w)
    assert len(sizes) > 50  # heights and widths drawn independently over the range


def test_crop_larger_than_the_image_is_shrunk_to_it():
    out = DetRandomCrop(crop_size=(100, 120), crop_type="absolute_range")(_results())
    assert out["img_shape"] == (60, 80)
    np.testing.assert_array_equal(out["gt_bboxes"], _results()["gt_bboxes"])


def test_crop_without_boxes_is_kept_or_dropped_as_configured():
    args = dict(top=35, left=0, crop_h=20, crop_w=20)  # no box reaches this window
    kept = DetRandomCrop(crop_size=(20, 20), allow_negative_crop=True).crop(_results(), **args)
    assert kept["gt_bboxes"].shape == (0, 4) and kept["gt_labels"].shape == (0,)
    assert kept["gt_masks"].shape == (0, 20, 20)
    assert DetRandomCrop(crop_size=(20, 20)).crop(_results(), **args) is None


def test_choice_resize_draws_every_scale_and_keeps_the_ratio():
    torch.manual_seed(0)
    resize = DetRandomChoiceResize(scales=[(480, 1333), (800, 1333)])
    shapes = {resize(_results())["img_shape"] for _ in range(30)}
    assert shapes == {(480, 640), (800, 1067)}  # short side 480 / 800, ratio 4:3 kept
    out = DetRandomChoiceResize(scales=[(600, 4200)])(_results())
    np.testing.assert_allclose(out["gt_bboxes"][0], [50, 100, 250, 200])  # x10
    assert out["scale_factor"] == (10.0, 10.0)


def test_random_resize_jitters_the_scale_and_moves_boxes_and_masks_with_the_image():
    resize = DetRandomResize(scale=(100, 100), ratio_range=(0.5, 2.0))
    long_sides = set()
    for seed in range(30):
        torch.manual_seed(seed)
        results = _results()  # 60 x 80: the long side fits the target's 100 * r
        out = resize(results)
        h, w = out["img_shape"]
        assert out["img"].shape == (h, w, 3) and out["gt_masks"].shape == (3, h, w)
        assert 50 <= w <= 200 and abs(w / h - 80 / 60) < 0.05
        long_sides.add(w)
        sx, sy = out["scale_factor"]
        assert (sx, sy) == (w / 80, h / 60)
        expected = _results()["gt_bboxes"] * np.array([sx, sy, sx, sy], dtype=np.float32)
        np.testing.assert_allclose(out["gt_bboxes"], expected, rtol=1e-5)
    assert len(long_sides) > 20 and min(long_sides) < 70 and max(long_sides) > 180


def test_random_resize_without_a_ratio_range_is_a_resize_to_the_scale():
    assert DetRandomResize(scale=(120, 100))(_results())["img_shape"] == (90, 120)
    torch.manual_seed(0)
    out = DetRandomResize(scale=(100, 50), ratio_range=(1.2, 1.5), keep_ratio=False)(_results())
    h, w = out["img_shape"]
    assert 60 <= h <= 75 and w in (2 * h, 2 * h + 1)  # the target's (w, h) = (100r, 50r)
    with pytest.raises(ConfigError, match="one \\(w, h\\) scale"):
        DetRandomResize(scale=[(1280, 1280), (640, 640)])
    with pytest.raises(ConfigError, match="ratio_range"):
        DetRandomResize(scale=(640, 640), ratio_range=(2.0, 0.1))
    assert "ratio_range=(0.1, 2.0)" in repr(DetRandomResize(scale=(64, 64), ratio_range=(0.1, 2)))


def test_random_choice_runs_one_branch_and_passes_a_dropped_sample_on():
    torch.manual_seed(0)
    choice = RandomChoice(
        transforms=[
            [dict(type="DetRandomChoiceResize", scales=[(120, 160)])],
            [
                dict(type="DetRandomChoiceResize", scales=[(30, 40)]),
                dict(type="DetRandomChoiceResize", scales=[(90, 120)]),
            ],
        ]
    )
    shapes = [choice(_results())["img_shape"] for _ in range(40)]
    assert set(shapes) == {(120, 160), (90, 120)}
    assert 10 < shapes.count((120, 160)) < 30
    only_second = RandomChoice(
        transforms=[[dict(type="DetRandomChoiceResize", scales=[(120, 160)])], []], prob=[0, 1]
    )
    assert only_second(_results())["img_shape"] == (60, 80)
    dropping = RandomChoice(transforms=[dict(type="DetRandomCrop", crop_size=(1, 1))])
    empty = _results()
    empty["gt_bboxes"] = empty["gt_bboxes"][:0]
    assert dropping(empty) is None
    with pytest.raises(ConfigError, match="one probability per pipeline"):
        RandomChoice(transforms=[[], []], prob=[1.0])


def test_the_detr_recipe_builds_from_its_config_and_keeps_boxes_in_the_image():
    scales = [(480 + 32 * i, 1333) for i in range(11)]
    pipeline = Compose(
        [
            dict(type="DetRandomFlip", prob=0.5),
            dict(
                type="RandomChoice",
                transforms=[
                    [dict(type="DetRandomChoiceResize", scales=scales, keep_ratio=True)],
                    [
                        dict(type="DetRandomChoiceResize", scales=[(400, 4200), (500, 4200)]),
                        dict(
                            type="DetRandomCrop",
                            crop_type="absolute_range",
                            crop_size=(384, 600),
                            allow_negative_crop=True,
                        ),
                        dict(type="DetRandomChoiceResize", scales=scales, keep_ratio=True),
                    ],
                ],
            ),
        ]
    )
    torch.manual_seed(0)
    for _ in range(10):
        out = pipeline(_results())
        h, w = out["img_shape"]
        assert min(h, w) in {s for s, _ in scales} or max(h, w) == 1333
        assert out["img"].shape[:2] == (h, w)
        boxes = out["gt_bboxes"]
        assert len(boxes) == len(out["gt_labels"]) == len(out["gt_masks"])
        assert (boxes[:, 0::2] <= w + 1e-3).all() and (boxes[:, 1::2] <= h + 1e-3).all()
