"""Geometry and scene rendering of the synthetic shapes."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.path import Path

from labcore.datasets.synthetic.geometry import SHAPE_CLASSES, polygon_keypoints, shape_polygon
from labcore.datasets.synthetic.scene import (
    MIN_SHAPE_PIXELS,
    rasterize,
    render_classification_image,
    render_scene,
)


@pytest.mark.parametrize("name", SHAPE_CLASSES)
def test_every_shape_fits_its_enclosing_circle(name):
    polygon = shape_polygon(name, center=(50.0, 40.0), size=30.0, angle=0.7)
    radii = np.linalg.norm(polygon - [50.0, 40.0], axis=1)
    assert radii.max() == pytest.approx(15.0)
    assert np.allclose(polygon.mean(axis=0), [50.0, 40.0], atol=1e-9)


def test_rotation_turns_counter_clockwise_on_screen():
    upright = shape_polygon("triangle", center=(0.0, 0.0), size=2.0, angle=0.0)
    assert np.allclose(upright[0], [0.0, -1.0])  # apex at the top (y grows downwards)
    turned = shape_polygon("triangle", center=(0.0, 0.0), size=2.0, angle=np.pi / 2)
    assert np.allclose(turned[0], [-1.0, 0.0])  # a quarter turn moves it to the left


def test_classes_that_rotation_could_confuse_differ_in_proportion():
    def aspect(name):
        polygon = shape_polygon(name, center=(0.0, 0.0), size=2.0, angle=0.0)
        extent = polygon.max(axis=0) - polygon.min(axis=0)
        return extent.min() / extent.max()

    assert aspect("circle") == pytest.approx(1.0, abs=0.01)
    assert aspect("ellipse") == pytest.approx(0.55, abs=0.01)
    assert aspect("square") == pytest.approx(1.0)
    assert aspect("diamond") == pytest.approx(0.55)


def test_keypoints_of_an_axis_aligned_square_are_edge_midpoints():
    polygon = shape_polygon("square", center=(20.0, 30.0), size=2 * np.sqrt(2) * 5, angle=0.0)
    points = polygon_keypoints(polygon, (20.0, 30.0))
    expected = [(20, 30), (20, 25), (25, 30), (20, 35), (15, 30)]
    np.testing.assert_allclose(points, expected, atol=1e-9)


def test_rasterize_matches_point_in_polygon_at_pixel_centres():
    """A pixel is inside when its centre is: matplotlib's point-in-polygon test is the
    independent reference; they may differ only where the outline passes within a
    fraction of a pixel of a centre."""
    polygon = shape_polygon("star", center=(32.0, 30.0), size=50.0, angle=0.3)
    ours = rasterize(polygon, 64, 64)
    ys, xs = np.mgrid[0:64, 0:64]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    outline = Path(polygon)
    reference = outline.contains_points(centres).reshape(64, 64)
    near_outline = (
        outline.contains_points(centres, radius=0.4)
        != outline.contains_points(centres, radius=-0.4)
    ).reshape(64, 64)
    assert ours.sum() > 200
    assert not (ours != reference)[~near_outline].any()
    assert (ours != reference).sum() <= 0.02 * reference.sum()


def test_scenes_keep_every_shape_visible_enough():
    fractions, occluded = [], 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        scene = render_scene(
            rng, image_size=96, num_shapes=(4, 7), size_range=(0.2, 0.6), min_visible=0.5
        )
        assert scene.image.shape == (96, 96, 3) and scene.image.dtype == np.uint8
        covered_later = np.zeros((96, 96), dtype=bool)
        for instance in reversed(scene.instances):  # top to bottom
            np.testing.assert_array_equal(
                instance.visible_mask, instance.full_mask & ~covered_later
            )
            covered_later |= instance.full_mask
            fraction = instance.visible_mask.sum() / instance.full_mask.sum()
            fractions.append(fraction)
            occluded += instance.occluded
            assert instance.full_mask.sum() >= MIN_SHAPE_PIXELS
            ys, xs = np.nonzero(instance.full_mask)
            assert instance.keypoints.shape == (5, 3)
        for index, instance in enumerate(scene.instances):
            for x, y, v in instance.keypoints:
                later = [other.full_mask[int(y), int(x)] for other in scene.instances[index + 1 :]]
                assert v == (1 if any(later) else 2)
    assert min(fractions) >= 0.5
    assert occluded > 5  # occlusion does happen


def test_classification_image_is_dominated_by_its_shape():
    rng = np.random.default_rng(0)
    image = render_classification_image(
        rng, label=0, image_size=32, size_range=(0.5, 0.9), max_distractors=2
    )
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert image.std() > 10  # not a flat image
