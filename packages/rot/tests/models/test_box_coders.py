"""Rotated delta and midpoint-offset box coders: round trips, angle normalisation."""

from __future__ import annotations

import math

import pytest
import torch

from labrot.models.task_modules import DeltaXYWHABoxCoder, MidpointOffsetBoxCoder
from labrot.structures import ANGLE_VERSIONS, hbox_of, rbox_to_poly, regularize

PI = math.pi


def same_corners(poly_a, poly_b, atol=1e-4):
    distance = (poly_a.reshape(-1, 4, 1, 2) - poly_b.reshape(-1, 1, 4, 2)).norm(dim=-1)
    return (distance.min(dim=2).values < atol).all(dim=1)


def random_boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.cat(
        (
            torch.rand(n, 2, generator=g, dtype=torch.float64) * 200,
            torch.rand(n, 2, generator=g, dtype=torch.float64) * 60 + 4,
            (torch.rand(n, 1, generator=g, dtype=torch.float64) - 0.5) * 4 * PI,
        ),
        dim=1,
    )


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
def test_delta_coder_round_trip(version):
    coder = DeltaXYWHABoxCoder(angle_version=version, weights=(1.0, 1.0, 1.0, 1.0, 2.0))
    boxes = regularize(random_boxes(300, seed=0), version)
    anchors = random_boxes(300, seed=1)
    anchors[:, 4] = 0  # horizontal anchors, as Rotated RetinaNet's
    deltas = coder.encode(boxes, anchors)
    assert (deltas[:, 4].abs() <= PI / 4 * 2 + 1e-9).all()  # da in [-pi/4, pi/4], weight 2
    decoded = coder.decode(deltas, anchors)
    assert same_corners(rbox_to_poly(decoded), rbox_to_poly(boxes)).all()
    assert torch.allclose(decoded, boxes, atol=1e-6)  # decoded in the convention
    # rotated anchors too
    anchors = random_boxes(300, seed=2)
    decoded = coder.decode(coder.encode(boxes, anchors), anchors)
    assert same_corners(rbox_to_poly(decoded), rbox_to_poly(boxes)).all()


def test_delta_coder_target_is_continuous_across_the_range_limit():
    coder = DeltaXYWHABoxCoder(angle_version="le90")
    anchor = torch.tensor([[50.0, 50.0, 32.0, 32.0, 0.0]], dtype=torch.float64)
    eps = 1e-4
    # the same (nearly) vertical box, named just inside either end of le90's range
    below = torch.tensor([[50.0, 50.0, 40.0, 10.0, PI / 2 - eps]], dtype=torch.float64)
    above = torch.tensor([[50.0, 50.0, 40.0, 10.0, -PI / 2 + eps]], dtype=torch.float64)
    t_below, t_above = coder.encode(below, anchor), coder.encode(above, anchor)
    # both become the short-side-first name at angle ~0: equal targets up to 2 eps
    assert torch.allclose(t_below, t_above, atol=3 * eps)
    assert t_below[0, 4].abs() < 1e-3
    assert torch.allclose(t_below[0, 2:4], torch.log(t_below.new_tensor([10 / 32, 40 / 32])))


def test_delta_coder_known_value():
    coder = DeltaXYWHABoxCoder()
    anchor = torch.tensor([[0.0, 0.0, 10.0, 20.0, PI / 2]], dtype=torch.float64)
    box = torch.tensor([[0.0, 10.0, 10.0, 40.0, PI / 2 + 0.1]], dtype=torch.float64)
    # the offset (0, 10) lies along the anchor's own x axis (turned by pi/2)
    expected = torch.tensor([[1.0, 0.0, 0.0, math.log(2.0), 0.1]], dtype=torch.float64)
    assert torch.allclose(coder.encode(box, anchor), expected, atol=1e-9)


@pytest.mark.parametrize("version", list(ANGLE_VERSIONS))
def test_midpoint_offset_round_trip(version):
    coder = MidpointOffsetBoxCoder(angle_version=version)
    boxes = regularize(random_boxes(300, seed=3), version)
    proposals = hbox_of(random_boxes(300, seed=4))
    deltas = coder.encode(boxes, proposals)
    assert deltas.shape == (300, 6)
    assert (deltas[:, 4:].abs() <= 0.5 + 1e-9).all()
    decoded = coder.decode(deltas, proposals)
    assert same_corners(rbox_to_poly(decoded), rbox_to_poly(boxes), atol=1e-3).all()


def test_midpoint_offset_of_an_axis_aligned_box():
    coder = MidpointOffsetBoxCoder()
    box = torch.tensor([[10.0, 20.0, 8.0, 4.0, 0.0]], dtype=torch.float64)
    proposal = torch.tensor([[6.0, 18.0, 14.0, 22.0]], dtype=torch.float64)
    # the outer box is the proposal; the top vertex is the top-right corner, the right
    # vertex the bottom-right one
    assert torch.allclose(coder.encode(box, proposal), box.new_tensor([[0, 0, 0, 0, 0.5, 0.5]]))


def test_midpoint_offset_rectifies_a_parallelogram():
    coder = MidpointOffsetBoxCoder(angle_version="le90")
    proposal = torch.tensor([[0.0, 0.0, 20.0, 20.0]], dtype=torch.float64)
    # offsets of a square turned by 45 degrees, then a skewed version of them
    deltas = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, 0.1]], dtype=torch.float64)
    box = coder.decode(deltas, proposal)[0]
    poly = rbox_to_poly(box[None]).reshape(4, 2)
    sides = (poly - poly.roll(1, dims=0)).norm(dim=1)
    diagonals = torch.stack(((poly[2] - poly[0]).norm(), (poly[3] - poly[1]).norm()))
    assert torch.allclose(diagonals[0], diagonals[1])  # a rectangle
    assert torch.allclose(sides[0], sides[2]) and torch.allclose(sides[1], sides[3])
    assert torch.allclose(box[:2], box.new_tensor([10.0, 10.0]))
