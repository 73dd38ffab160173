"""Backgrounds and colours of the synthetic shapes."""

from __future__ import annotations

import numpy as np
import pytest

from labcore.datasets.synthetic import textures


@pytest.mark.parametrize("kind", textures.BACKGROUND_KINDS)
def test_every_background_kind_is_a_textured_image(kind):
    rng = np.random.default_rng(0)
    background = textures._BACKGROUNDS[kind](rng, 40, 56)
    assert background.shape == (40, 56, 3)
    assert background.min() >= 0.0 and background.max() <= 255.0
    assert background.std(axis=(0, 1)).max() > 1.0  # not a flat colour
    # Two colours at most 70 apart per channel: texture, not shapes of its own.
    assert np.ptp(background, axis=(0, 1)).max() <= 70.0 + 1e-6


def test_contrasting_colour_keeps_its_distance():
    rng = np.random.default_rng(1)
    reference = np.array([120.0, 130.0, 125.0])
    distances = [
        np.linalg.norm(textures.contrasting_colour(rng, reference, min_distance=110.0) - reference)
        for _ in range(200)
    ]
    assert np.mean(np.array(distances) >= 110.0) > 0.98


def test_backgrounds_are_a_pure_function_of_the_generator():
    first = textures.random_background(np.random.default_rng(7), 32, 32)
    second = textures.random_background(np.random.default_rng(7), 32, 32)
    np.testing.assert_array_equal(first, second)
