"""Angle conventions, polygons and rotation-aware flips of rotated boxes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labcore.errors import LabError
from labcore.ops import box_iou_rotated
from labrot.structures import (
    ANGLE_VERSIONS,
    FLIP_DIRECTIONS,
    flip_points,
    flip_rboxes,
    hbox_of,
    poly_to_rbox,
    polygon_area,
    rbox_to_poly,
    regularize,
    rot90_points,
    rot90_rboxes,
)

PI = math.pi
RANGES = {"oc": (-PI / 2, 0.0), "le90": (-PI / 2, PI / 2), "le135": (-PI / 4, 3 * PI / 4)}


def same_corners(poly_a: torch.Tensor, poly_b: torch.Tensor, atol: float = 1e-4) -> torch.Tensor:
    """Whether two sets of polygons Tensor[N, 8] have the same four corners, in any order."""
    a = poly_a.reshape(-1, 4, 1, 2)
    b = poly_b.reshape(-1, 1, 4, 2)
    distance = (a - b).norm(dim=-1)  # [N, 4, 4]
    return (distance.min(dim=2).values < atol).all(dim=1) & (distance.min(dim=1).values < atol).all(
        dim=1
    )


def random_boxes(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centers = torch.rand(n, 2, generator=g, dtype=torch.float64) * 100
    sizes = torch.rand(n, 2, generator=g, dtype=torch.float64) * 40 + 2
    angles = (torch.rand(n, 1, generator=g, dtype=torch.float64) - 0.5) * 8 * PI
    return torch.cat((centers, sizes, angles), dim=1)


# angles at and just across each range limit, and far outside every range
LIMIT_ANGLES = [
    -PI, -3 * PI / 4, -PI / 2, -PI / 2 + 1e-6, -PI / 2 - 1e-6, -PI / 4, -PI / 4 - 1e-6,
    -1e-6, 0.0, 1e-6, PI / 4, PI / 2 - 1e-6, PI / 2, PI / 2 + 1e-6, 3 * PI / 4 - 1e-6,
    3 * PI / 4, 3 * PI / 4 + 1e-6, PI, 7.5 * PI, -9.25 * PI,
]  # fmt: skip


def limit_boxes() -> torch.Tensor:
    rows = []
    for angle in LIMIT_ANGLES:
        for w, h in ((30.0, 10.0), (10.0, 30.0), (20.0, 20.0)):
            rows.append((50.0, 40.0, w, h, angle))
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
def test_regularize_lands_in_range_and_keeps_the_rectangle(version):
    boxes = torch.cat((limit_boxes(), random_boxes(200)))
    out = regularize(boxes, version)
    low, high = RANGES[version]
    assert (out[:, 4] >= low - 1e-12).all() and (out[:, 4] < high).all()
    if version != "oc":
        assert (out[:, 2] >= out[:, 3]).all()  # w is the long side
    assert same_corners(rbox_to_poly(out), rbox_to_poly(boxes)).all()
    # a name already in the convention is kept
    assert torch.allclose(regularize(out, version), out, atol=1e-9)


def test_regularize_known_values():
    box = torch.tensor([[0.0, 0.0, 10.0, 20.0, 0.0]], dtype=torch.float64)
    # le90: the long side becomes w, turned by a quarter
    assert torch.allclose(regularize(box, "le90"), box.new_tensor([[0, 0, 20, 10, -PI / 2]]))
    assert torch.allclose(regularize(box, "le135"), box.new_tensor([[0, 0, 20, 10, PI / 2]]))
    # oc keeps w and h as they come, with an angle in [-pi/2, 0)
    assert torch.allclose(regularize(box, "oc"), box.new_tensor([[0, 0, 20, 10, -PI / 2]]))
    box = torch.tensor([[0.0, 0.0, 20.0, 10.0, PI / 2]], dtype=torch.float64)  # the upper limit
    assert torch.allclose(regularize(box, "le90"), box.new_tensor([[0, 0, 20, 10, -PI / 2]]))


@pytest.mark.parametrize("source", list(ANGLE_VERSIONS))
@pytest.mark.parametrize("target", list(ANGLE_VERSIONS))
def test_conversion_between_conventions(source, target):
    boxes = regularize(torch.cat((limit_boxes(), random_boxes(100, seed=1))), source)
    converted = regularize(boxes, target)
    assert same_corners(rbox_to_poly(converted), rbox_to_poly(boxes)).all()
    # and back to the same name (a square's name is unique only up to its quarter turns)
    oblong = boxes[:, 2] != boxes[:, 3]
    assert torch.allclose(regularize(converted, source)[oblong], boxes[oblong], atol=1e-9)


def test_unknown_version_is_named():
    with pytest.raises(LabError, match="le90"):
        regularize(torch.zeros(1, 5), "le45")


def test_rbox_to_poly_corners():
    box = torch.tensor([[10.0, 20.0, 4.0, 2.0, PI / 2]], dtype=torch.float64)
    expected = torch.tensor([[11, 18, 11, 22, 9, 22, 9, 18]], dtype=torch.float64)
    assert torch.allclose(rbox_to_poly(box), expected)
    assert torch.allclose(polygon_area(rbox_to_poly(box)), box.new_tensor([8.0]))


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
def test_poly_to_rbox_inverts_rbox_to_poly(version):
    boxes = regularize(torch.cat((limit_boxes(), random_boxes(300, seed=2))), version)
    polys = rbox_to_poly(boxes)
    back = poly_to_rbox(polys, version)
    assert same_corners(rbox_to_poly(back), polys).all()
    # the vertices may come in any order
    shuffled = polys.reshape(-1, 4, 2)[:, [2, 0, 3, 1]].reshape(-1, 8)
    assert same_corners(rbox_to_poly(poly_to_rbox(shuffled, version)), polys).all()


def test_poly_to_rbox_of_a_quadrilateral_is_the_smallest_enclosing_rectangle():
    # a trapezoid: the smallest rectangle around it is axis-aligned, 10 x 4
    quad = torch.tensor([[0.0, 0.0, 10.0, 0.0, 8.0, 4.0, 2.0, 4.0]], dtype=torch.float64)
    box = poly_to_rbox(quad, "le90")
    assert torch.allclose(box, quad.new_tensor([[5.0, 2.0, 10.0, 4.0, 0.0]]), atol=1e-9)


def test_hbox_of():
    box = torch.tensor([[0.0, 0.0, 2.0, 2.0, PI / 4]], dtype=torch.float64)
    r = math.sqrt(2)
    assert torch.allclose(hbox_of(box), box.new_tensor([[-r, -r, r, r]]))


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
@pytest.mark.parametrize("direction", FLIP_DIRECTIONS)
def test_flip_moves_the_polygon_as_the_image(version, direction):
    img_shape = (90, 120)
    boxes = regularize(torch.cat((limit_boxes(), random_boxes(100, seed=3))), version)
    flipped = flip_rboxes(boxes, img_shape, direction, version)
    expected = flip_points(rbox_to_poly(boxes).reshape(-1, 4, 2), img_shape, direction)
    assert same_corners(rbox_to_poly(flipped), expected.reshape(-1, 8)).all()
    low, high = RANGES[version]
    assert (flipped[:, 4] >= low - 1e-12).all() and (flipped[:, 4] < high).all()


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_rot90_moves_the_polygon_as_the_image(version, k):
    img_shape = (90, 120)
    boxes = regularize(torch.cat((limit_boxes(), random_boxes(100, seed=4))), version)
    turned = rot90_rboxes(boxes, img_shape, k, version)
    expected = rot90_points(rbox_to_poly(boxes).reshape(-1, 4, 2), img_shape, k)
    assert same_corners(rbox_to_poly(turned), expected.reshape(-1, 8)).all()


def test_rot90_points_follow_numpy_rot90():
    image = np.zeros((5, 7))
    image[1, 4] = 1  # the pixel covering x in [4, 5), y in [1, 2): centre (4.5, 1.5)
    row, col = np.argwhere(np.rot90(image, 1) == 1)[0]
    x, y = rot90_points(torch.tensor([4.5, 1.5]), (5, 7), 1).tolist()
    assert (col + 0.5, row + 0.5) == pytest.approx((x, y))


def test_rotated_iou_agrees_with_the_corner_formula():
    # labcore's box_iou_rotated uses the same corner formula: a box and its regularised
    # name have IoU 1
    boxes = random_boxes(50, seed=5).float()
    for version in ANGLE_VERSIONS:
        iou = box_iou_rotated(boxes, regularize(boxes, version), aligned=True)
        assert torch.allclose(iou, torch.ones_like(iou), atol=1e-4)
