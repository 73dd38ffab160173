"""Every codec: encode then decode gives the keypoints back within its stated error,
and unlabelled or out-of-range keypoints are masked."""

from __future__ import annotations

import numpy as np
import pytest

from labpose.codecs import MSRAHeatmap, RegressionLabel, SimCCLabel, UDPHeatmap

INPUT_SIZE = (192, 256)


def random_keypoints(seed: int, num: int = 17) -> np.ndarray:
    """ndarray[1, K, 2] well inside a 192x256 input."""
    rng = np.random.default_rng(seed)
    return rng.uniform([20, 20], [172, 236], size=(1, num, 2)).astype(np.float32)


def roundtrip_error(codec, keypoints: np.ndarray) -> float:
    encoded = codec.encode(keypoints, np.ones(keypoints.shape[:2]))
    if "heatmaps" in encoded:
        decoded, scores = codec.decode(encoded["heatmaps"])
    elif "keypoint_x_labels" in encoded:
        decoded, scores = codec.decode(encoded["keypoint_x_labels"], encoded["keypoint_y_labels"])
    else:
        decoded, scores = codec.decode(encoded["keypoint_labels"])
    assert decoded.shape == keypoints.shape and scores.shape == keypoints.shape[:2]
    return float(np.abs(decoded - keypoints).max())


@pytest.mark.parametrize("seed", range(3))
def test_msra_heatmap_roundtrip_within_quarter_offset(seed):
    # at stride 4: half a heatmap pixel of rounding plus the quarter-pixel offset
    codec = MSRAHeatmap(input_size=INPUT_SIZE, heatmap_size=(48, 64), sigma=2.0)
    assert roundtrip_error(codec, random_keypoints(seed)) <= 4 * 0.75


@pytest.mark.parametrize("seed", range(3))
def test_msra_heatmap_dark_roundtrip_subpixel(seed):
    codec = MSRAHeatmap(input_size=INPUT_SIZE, heatmap_size=(48, 64), sigma=2.0, unbiased=True)
    assert roundtrip_error(codec, random_keypoints(seed)) <= 4 * 0.05


@pytest.mark.parametrize("seed", range(3))
def test_udp_heatmap_roundtrip_subpixel(seed):
    codec = UDPHeatmap(input_size=INPUT_SIZE, heatmap_size=(48, 64), sigma=2.0)
    assert roundtrip_error(codec, random_keypoints(seed)) <= 4 * 0.1


@pytest.mark.parametrize("seed", range(3))
def test_simcc_roundtrip_within_half_a_bin(seed):
    codec = SimCCLabel(input_size=INPUT_SIZE, sigma=6.0, simcc_split_ratio=2.0)
    assert roundtrip_error(codec, random_keypoints(seed)) <= 0.5 / 2.0 + 1e-6


def test_regression_roundtrip_exact():
    codec = RegressionLabel(input_size=INPUT_SIZE)
    assert roundtrip_error(codec, random_keypoints(0)) < 1e-4


def test_msra_heatmap_matches_gaussian_patch():
    codec = MSRAHeatmap(input_size=(16, 16), heatmap_size=(16, 16), sigma=1.0)
    heatmaps = codec.encode(np.array([[[5.3, 7.6]]]), np.ones((1, 1)))["heatmaps"]
    ys, xs = np.mgrid[0:16, 0:16]
    expected = np.exp(-((xs - 5) ** 2 + (ys - 8) ** 2) / 2.0)
    expected[(np.abs(xs - 5) > 3) | (np.abs(ys - 8) > 3)] = 0
    np.testing.assert_allclose(heatmaps[0], expected, atol=1e-6)


@pytest.mark.parametrize(
    "codec",
    [
        MSRAHeatmap(input_size=INPUT_SIZE, heatmap_size=(48, 64)),
        MSRAHeatmap(input_size=INPUT_SIZE, heatmap_size=(48, 64), unbiased=True),
        UDPHeatmap(input_size=INPUT_SIZE, heatmap_size=(48, 64)),
        SimCCLabel(input_size=INPUT_SIZE),
        RegressionLabel(input_size=INPUT_SIZE),
    ],
    ids=["msra", "dark", "udp", "simcc", "regression"],
)
def test_unlabelled_and_far_outside_keypoints_get_zero_weight(codec):
    keypoints = random_keypoints(1, num=4)
    keypoints[0, 2] = (-500.0, -500.0)  # far outside the input
    visible = np.array([[1.0, 0.0, 1.0, 1.0]])
    weights = codec.encode(keypoints, visible)["keypoint_weights"]
    np.testing.assert_array_equal(weights, [[1.0, 0.0, 0.0, 1.0]])
    encoded = codec.encode(keypoints, visible)
    if "heatmaps" in encoded:  # nothing is drawn for a masked keypoint
        assert encoded["heatmaps"][1].max() == 0 and encoded["heatmaps"][2].max() == 0


def test_simcc_decode_score_is_the_smaller_axis_maximum():
    codec = SimCCLabel(input_size=(4, 4), simcc_split_ratio=1.0)
    x = np.array([[[0.1, 0.9, 0.0, 0.0]]])
    y = np.array([[[0.0, 0.0, 0.3, 0.0]]])
    keypoints, scores = codec.decode(x, y)
    np.testing.assert_allclose(keypoints, [[[1.0, 2.0]]])
    np.testing.assert_allclose(scores, [[0.3]])
