"""Rendering of synthetic images: shapes painted over a textured background.

Masks come from COCO's own polygon rasteriser (``frPyObjects``, through faster-coco-eval's
copy of pycocotools' mask API), so a polygon written to an annotation file decodes to
exactly the pixels that were painted.
Shapes are painted bottom to top; a new shape is only accepted where it leaves every
shape below it at least ``min_visible`` of its area, so each painted shape is
annotated, with the mask of its visible part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faster_coco_eval.core import mask as mask_utils

from labcore.datasets.synthetic.geometry import SHAPE_CLASSES, polygon_keypoints, shape_polygon
from labcore.datasets.synthetic.textures import contrasting_colour, random_background

MIN_SHAPE_PIXELS = 12  # a shape must cover at least this many pixels to be placed
_MIN_COLOUR_DISTANCE = 110.0  # RGB distance between a shape and what lies under it


@dataclass
class ShapeInstance:
    """One painted shape.

    Attributes:
        label: index into :data:`SHAPE_CLASSES`.
        polygon: ndarray[V, 2] ``(x, y)`` outline, rounded to 1/100 pixel.
        full_mask: BoolArray[H, W], the whole shape.
        visible_mask: BoolArray[H, W], the part not covered by shapes painted later.
        keypoints: ndarray[5, 3] ``(x, y, v)`` per :data:`KEYPOINT_NAMES`; ``v`` is 2
            where the point is visible and 1 where a later shape covers it.
    """

    label: int
    polygon: np.ndarray
    full_mask: np.ndarray
    visible_mask: np.ndarray | None = None
    keypoints: np.ndarray | None = None

    @property
    def occluded(self) -> bool:
        return int(self.visible_mask.sum()) < int(self.full_mask.sum())


@dataclass
class Scene:
    """A rendered image and the shapes in it (bottom to top).

    Attributes:
        image: ndarray[H, W, 3] uint8 RGB.
        instances: the annotated shapes.
    """

    image: np.ndarray
    instances: list[ShapeInstance]


def rasterize(polygon: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixels inside ``polygon`` (ndarray[V, 2] ``(x, y)``) as BoolArray[H, W], using
    the rasteriser that ``pycocotools.COCO.annToMask`` applies to polygons."""
    rles = mask_utils.frPyObjects([polygon.reshape(-1).tolist()], height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def _random_polygon(
    rng: np.random.Generator, label: int, image_size: int, size: float
) -> np.ndarray:
    radius = size / 2.0
    center = rng.uniform(radius, image_size - radius, size=2)
    polygon = shape_polygon(
        SHAPE_CLASSES[label], center=tuple(center), size=size, angle=rng.uniform(0, 2 * np.pi)
    )
    return np.round(polygon, 2)


def _random_size(rng: np.random.Generator, image_size: int, size_range: tuple[float, float]):
    """A diameter drawn log-uniformly, so small and large shapes are equally common."""
    low, high = np.log(size_range[0] * image_size), np.log(size_range[1] * image_size)
    return float(np.exp(rng.uniform(low, high)))


def _paint(rng: np.random.Generator, canvas: np.ndarray, polygon: np.ndarray, mask: np.ndarray):
    """Paint a shape with a colour that contrasts with what lies under it, shaded by a
    gentle linear ramp across the shape."""
    colour = contrasting_colour(rng, canvas[mask].mean(axis=0), min_distance=_MIN_COLOUR_DISTANCE)
    ys, xs = np.nonzero(mask)
    center = polygon.mean(axis=0)
    radius = max(float(np.abs(polygon - center).max()), 1.0)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ramp = ((xs - center[0]) * np.cos(angle) + (ys - center[1]) * np.sin(angle)) / radius
    shade = 1.0 + rng.uniform(0.0, 0.2) * ramp
    canvas[ys, xs] = np.clip(colour[None, :] * shade[:, None], 0.0, 255.0)


def _finish(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    noisy = canvas + rng.normal(0.0, rng.uniform(2.0, 8.0), size=canvas.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def render_classification_image(
    rng: np.random.Generator,
    *,
    label: int,
    image_size: int,
    size_range: tuple[float, float],
    max_distractors: int,
) -> np.ndarray:
    """An image dominated by one shape of class ``label``, over up to ``max_distractors``
    small shapes of random classes (clutter, at most a third of its size).

    Returns:
        ndarray[H, W, 3] uint8 RGB with ``H = W = image_size``.
    """
    canvas = random_background(rng, image_size, image_size)
    size = _random_size(rng, image_size, size_range)
    for _ in range(int(rng.integers(0, max_distractors + 1))):
        clutter_label = int(rng.integers(len(SHAPE_CLASSES)))
        clutter_size = rng.uniform(0.15, 0.33) * size
        polygon = _random_polygon(rng, clutter_label, image_size, clutter_size)
        mask = rasterize(polygon, image_size, image_size)
        if mask.any():
            _paint(rng, canvas, polygon, mask)
    polygon = _random_polygon(rng, label, image_size, size)
    _paint(rng, canvas, polygon, rasterize(polygon, image_size, image_size))
    return _finish(rng, canvas)


def render_scene(
    rng: np.random.Generator,
    *,
    image_size: int,
    num_shapes: tuple[int, int],
    size_range: tuple[float, float],
    min_visible: float,
    max_tries: int = 12,
) -> Scene:
    """An image with several shapes of random classes that may partly cover each other.

    Args:
        rng: the source of randomness; the scene is a pure function of its state.
        image_size: height and width in pixels.
        num_shapes: inclusive range of how many shapes to try to place.
        size_range: diameters as fractions of ``image_size`` (drawn log-uniformly).
        min_visible: the fraction of each shape's area that must stay visible; a new
            shape that would cover more of any shape below it is drawn again, and
            after ``max_tries`` failures left out.
    """
    canvas = random_background(rng, image_size, image_size)
    owner = np.full((image_size, image_size), -1, dtype=np.int32)  # top-most shape index
    instances: list[ShapeInstance] = []
    for _ in range(int(rng.integers(num_shapes[0], num_shapes[1] + 1))):
        label = int(rng.integers(len(SHAPE_CLASSES)))
        for _ in range(max_tries):
            size = _random_size(rng, image_size, size_range)
            polygon = _random_polygon(rng, label, image_size, size)
            mask = rasterize(polygon, image_size, image_size)
            if mask.sum() >= MIN_SHAPE_PIXELS and _keeps_others_visible(
                owner, mask, instances, min_visible
            ):
                break
        else:
            continue
        _paint(rng, canvas, polygon, mask)
        owner[mask] = len(instances)
        instances.append(ShapeInstance(label=label, polygon=polygon, full_mask=mask))

    for index, instance in enumerate(instances):
        instance.visible_mask = owner == index
        instance.keypoints = _keypoints_with_visibility(instance, index, owner)
    return Scene(image=_finish(rng, canvas), instances=instances)


def _keeps_others_visible(
    owner: np.ndarray, mask: np.ndarray, instances: list[ShapeInstance], min_visible: float
) -> bool:
    covered = owner[mask]
    covered = covered[covered >= 0]
    if covered.size == 0:
        return True
    lost = np.bincount(covered, minlength=len(instances))
    visible = np.bincount(owner[owner >= 0], minlength=len(instances))
    full = np.array([int(instance.full_mask.sum()) for instance in instances])
    return bool(np.all(visible - lost >= min_visible * full))


def _keypoints_with_visibility(instance: ShapeInstance, index: int, owner: np.ndarray):
    height, width = owner.shape
    points = polygon_keypoints(instance.polygon, tuple(instance.polygon.mean(axis=0)))
    columns = np.clip(np.floor(points[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.floor(points[:, 1]).astype(int), 0, height - 1)
    visibility = np.where(owner[rows, columns] > index, 1.0, 2.0)
    return np.concatenate([points, visibility[:, None]], axis=1)
