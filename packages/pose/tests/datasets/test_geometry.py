"""The crop affine: keypoints through the forward map and its inverse come back exactly,
and the image warp agrees with the keypoint map."""

from __future__ import annotations

import numpy as np
import pytest

from labpose.geometry import (
    fix_aspect_ratio,
    flip_indices,
    invert_affine,
    transform_points,
    warp_image,
    warp_matrix,
)


@pytest.mark.parametrize("use_udp", [False, True])
@pytest.mark.parametrize("rotation", [0.0, 37.5, -80.0])
def test_forward_then_inverse_affine_returns_the_keypoints(use_udp, rotation):
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 640, size=(1, 17, 2))
    matrix = warp_matrix((320.5, 211.0), (150.0, 200.0), rotation, (192, 256), use_udp=use_udp)
    back = transform_points(transform_points(keypoints, matrix), invert_affine(matrix))
    assert np.abs(back - keypoints).max() < 1e-4


def test_box_maps_onto_the_crop():
    # regular: the box's edges are the crop's edges; UDP: its extent spans the pixel centres
    matrix = warp_matrix((50.0, 40.0), (20.0, 10.0), 0.0, (40, 20))
    corners = transform_points(np.array([[40.0, 35.0], [60.0, 45.0]]), matrix)
    np.testing.assert_allclose(corners, [[0, 0], [40, 20]], atol=1e-9)
    udp = warp_matrix((50.0, 40.0), (20.0, 10.0), 0.0, (41, 21), use_udp=True)
    corners = transform_points(np.array([[40.0, 35.0], [60.0, 45.0]]), udp)
    np.testing.assert_allclose(corners, [[0, 0], [40, 20]], atol=1e-9)


def test_rotation_turns_points_about_the_centre():
    matrix = warp_matrix((0.0, 0.0), (10.0, 10.0), 90.0, (10, 10))
    # +90 degrees: the crop shows the image turned by -90 (a point right of the centre
    # ends above it)
    np.testing.assert_allclose(
        transform_points(np.array([[1.0, 0.0]]), matrix), [[5.0, 4.0]], atol=1e-9
    )


def test_warp_image_moves_a_pixel_where_the_keypoint_goes():
    image = np.zeros((60, 80, 3), dtype=np.uint8)
    image[23, 31] = 255
    matrix = warp_matrix((40.0, 30.0), (40.0, 40.0), 30.0, (64, 64), use_udp=True)
    crop = warp_image(image, matrix, (64, 64))
    x, y = transform_points(np.array([[31.0, 23.0]]), matrix)[0]
    peak = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    assert abs(peak[0] - y) <= 1 and abs(peak[1] - x) <= 1


def test_fix_aspect_ratio_grows_one_side():
    np.testing.assert_allclose(fix_aspect_ratio(np.array([[30.0, 80.0]]), 0.75), [[60.0, 80.0]])
    np.testing.assert_allclose(fix_aspect_ratio(np.array([[90.0, 80.0]]), 0.75), [[90.0, 120.0]])


def test_flip_indices_swap_pairs_and_keep_the_rest():
    names = ["nose", "left_eye", "right_eye", "tail"]
    assert flip_indices(names, [["left_eye", "right_eye"]]) == [0, 2, 1, 3]
