"""Top-down transforms keep image, box and keypoints consistent."""

from __future__ import annotations

import numpy as np
import pytest

from labcore.errors import ConfigError
from labpose.datasets.transforms import (
    GenerateTarget,
    GetBBoxCenterScale,
    PackPoseInputs,
    RandomBBoxTransform,
    RandomFlip,
    RandomHalfBody,
    TopdownAffine,
)
from labpose.geometry import invert_affine, transform_points, warp_matrix


def sample(flip_indices=(0, 2, 1)):
    image = np.zeros((40, 50, 3), dtype=np.uint8)
    keypoints = np.array([[[20.0, 10.0], [10.0, 30.0], [30.0, 25.0]]], dtype=np.float32)
    for x, y in keypoints[0].astype(int):
        image[y, x] = 255
    return dict(
        img=image, img_shape=(40, 50), bbox=np.array([[5.0, 5.0, 35.0, 35.0]], dtype=np.float32),
        bbox_score=np.ones(1, dtype=np.float32), keypoints=keypoints,
        keypoints_visible=np.ones((1, 3), dtype=np.float32),
        flip_indices=None if flip_indices is None else list(flip_indices),
        upper_body_ids=[0], lower_body_ids=[1, 2], img_id=1, bbox_label=0,
    )  # fmt: skip


def test_flip_mirrors_and_swaps_keypoints_with_the_image():
    results = GetBBoxCenterScale()(sample())
    flipped = RandomFlip(prob=1.0)(results)
    expected = np.array([[[29.0, 10.0], [19.0, 25.0], [39.0, 30.0]]])
    np.testing.assert_allclose(flipped["keypoints"], expected)
    for x, y in expected[0].astype(int):  # the marked pixels moved with their keypoints
        assert flipped["img"][y, x, 0] == 255
    np.testing.assert_allclose(flipped["bbox_center"], [[29.0, 20.0]])


def test_flip_without_flip_pairs_is_an_error():
    with pytest.raises(ConfigError, match="flip_pairs"):
        RandomFlip(prob=1.0)(GetBBoxCenterScale()(sample(flip_indices=None)))


@pytest.mark.parametrize("use_udp", [False, True])
def test_affine_maps_keypoints_and_back(use_udp):
    np.random.seed(0)
    results = GetBBoxCenterScale()(sample())
    results = RandomBBoxTransform(rotate_prob=1.0, shift_prob=1.0)(results)
    results = TopdownAffine(input_size=(48, 64), use_udp=use_udp)(results)
    assert results["img"].shape == (64, 48, 3)
    matrix = warp_matrix(
        results["input_center"], results["input_scale"], float(results["bbox_rotation"][0]),
        (48, 64), use_udp=use_udp,
    )  # fmt: skip
    back = transform_points(results["transformed_keypoints"], invert_affine(matrix))
    assert np.abs(back - results["keypoints"]).max() < 1e-4
    assert results["input_scale"][0] / results["input_scale"][1] == pytest.approx(48 / 64)


def test_half_body_shrinks_the_box_to_the_half_with_enough_keypoints():
    results = GetBBoxCenterScale()(dict(sample(), upper_body_ids=[0, 1], lower_body_ids=[2]))
    transform = RandomHalfBody(
        min_total_keypoints=3, min_upper_keypoints=2, min_lower_keypoints=2, padding=1.5, prob=1.0
    )
    results = transform(results)
    np.testing.assert_allclose(results["bbox_center"], [[15.0, 20.0]])
    np.testing.assert_allclose(results["bbox_scale"], [[15.0, 30.0]])


def test_generate_target_and_pack():
    results = GetBBoxCenterScale()(sample())
    results = TopdownAffine(input_size=(48, 64))(results)
    codec = dict(type="MSRAHeatmap", input_size=(48, 64), heatmap_size=(12, 16), sigma=2.0)
    packed = PackPoseInputs()(GenerateTarget(encoder=codec)(results))
    assert tuple(packed["inputs"].shape) == (3, 64, 48)
    targets = packed["data_samples"].gt_targets
    assert tuple(targets.heatmaps.shape) == (1, 3, 16, 12)
    assert tuple(targets.keypoint_weights.shape) == (1, 3)
    assert packed["data_samples"].metainfo["input_size"] == (48, 64)
