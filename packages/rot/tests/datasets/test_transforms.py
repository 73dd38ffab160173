"""Rotation-aware flips and quarter turns: boxes move with the image, in each convention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labcore.errors import LabError
from labrot.datasets import LoadRotatedAnnotations, RandomRotate90, RotatedRandomFlip
from labrot.structures import ANGLE_VERSIONS, FLIP_DIRECTIONS, rbox_to_poly, regularize

RANGES = {
    "oc": (-np.pi / 2, 0.0),
    "le90": (-np.pi / 2, np.pi / 2),
    "le135": (-np.pi / 4, 3 * np.pi / 4),
}


def sample(version: str) -> dict:
    """A 40 x 60 image whose boxes each have a marked pixel at their first corner's inner side."""
    boxes = torch.tensor(
        [
            [20.5, 15.5, 12.0, 6.0, 0.3],
            [40.5, 25.5, 10.0, 10.0, -1.2],
            [10.5, 30.5, 8.0, 14.0, 2.0],
        ],
        dtype=torch.float64,
    )
    boxes = regularize(boxes, version)
    img = np.zeros((40, 60, 3), dtype=np.uint8)
    for index, (x, y) in enumerate(boxes[:, :2].tolist()):
        img[int(y), int(x)] = 50 * (index + 1)  # the pixel holding each box's centre
    instances = [
        dict(bbox=b, bbox_label=i, ignore_flag=0, difficult=i == 2)
        for i, b in enumerate(boxes.tolist())
    ]
    results = dict(img=img, img_shape=(40, 60), ori_shape=(40, 60), instances=instances)
    return LoadRotatedAnnotations()(results)


def check_boxes_follow_image(results: dict, before: dict, point_map, version: str):
    boxes = torch.from_numpy(results["gt_bboxes"]).double()
    old = torch.from_numpy(before["gt_bboxes"]).double()
    # the polygon of each transformed box is the transformed polygon
    expected = point_map(rbox_to_poly(old).reshape(-1, 4, 2)).reshape(-1, 1, 4, 2)
    got = rbox_to_poly(boxes).reshape(-1, 4, 1, 2)
    assert ((got - expected).norm(dim=-1).min(dim=2).values < 1e-3).all()
    low, high = RANGES[version]
    assert ((boxes[:, 4] >= low - 1e-6) & (boxes[:, 4] < high)).all()
    # the image moved the same way: each box's marked centre pixel lies at its new centre
    for index, (x, y) in enumerate(boxes[:, :2].tolist()):
        assert results["img"][int(y), int(x), 0] == 50 * (index + 1)


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
@pytest.mark.parametrize("direction", FLIP_DIRECTIONS)
def test_flip(version, direction):
    before = sample(version)
    results = RotatedRandomFlip(prob=1.0, directions=[direction], angle_version=version)(
        dict(before, img=before["img"].copy())
    )
    assert results["flip"] and results["flip_direction"] == direction

    def flip(points):
        x, y = points.unbind(-1)
        if direction != "vertical":
            x = 60 - x
        if direction != "horizontal":
            y = 40 - y
        return torch.stack((x, y), -1)

    check_boxes_follow_image(results, before, flip, version)


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotate90(version, k):
    before = sample(version)
    results = RandomRotate90(prob=1.0, angle_version=version).apply(
        dict(before, img=before["img"].copy()), k
    )
    assert results["img_shape"] == ((60, 40) if k % 2 else (40, 60))

    def turn(points):
        x, y = points.unbind(-1)
        height, width = 40, 60
        for _ in range(k):
            x, y = y, width - x
            height, width = width, height
        return torch.stack((x, y), -1)

    check_boxes_follow_image(results, before, turn, version)


def test_random_rotate90_draws_every_turn():
    torch.manual_seed(0)
    transform = RandomRotate90(prob=1.0, angle_version="le90")
    drawn = {transform(sample("le90"))["rot90"] for _ in range(30)}
    assert drawn == {1, 2, 3}


def test_difficult_as_ignored():
    results = LoadRotatedAnnotations(difficult_as_ignored=True)(
        dict(instances=sample("le90")["instances"])
    )
    assert results["gt_ignore_flags"].tolist() == [False, False, True]
    assert results["gt_bboxes"].shape == (3, 5)


def test_unknown_direction_is_named():
    with pytest.raises(LabError, match="horizontal, vertical, diagonal"):
        RotatedRandomFlip(directions=["sideways"])


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
def test_transforms_without_a_convention_follow_the_samples(version):
    """The DOTA dataset writes its angle_version into every sample; a flip or turn given
    none regularises into it, so a config sets the convention once, on the dataset."""
    before = dict(sample(version), angle_version=version)
    flipped = RotatedRandomFlip(prob=1.0, directions=["diagonal"]).apply(
        dict(before, img=before["img"].copy()), "diagonal"
    )
    explicit = RotatedRandomFlip(prob=1.0, angle_version=version).apply(
        dict(before, img=before["img"].copy()), "diagonal"
    )
    assert (flipped["gt_bboxes"] == explicit["gt_bboxes"]).all()
    turned = RandomRotate90(prob=1.0).apply(dict(before, img=before["img"].copy()), 1)
    explicit = RandomRotate90(prob=1.0, angle_version=version).apply(
        dict(before, img=before["img"].copy()), 1
    )
    assert (turned["gt_bboxes"] == explicit["gt_bboxes"]).all()
    with pytest.raises(LabError, match="angle_version"):
        RandomRotate90(prob=1.0).apply(dict(sample(version)), 1)
