"""Geometry of the synthetic shapes: outlines as polygons, and their keypoints.

Every shape class is a closed polygon around the origin that fits in the unit circle.
:func:`shape_polygon` scales, rotates and moves it into image coordinates (x to the
right, y down, pixel ``(r, c)`` covers ``[c, c + 1) x [r, r + 1)``). Round shapes
(circle, ellipse) are polygons with many vertices, so one rasteriser serves all.

Classes that a rotation could turn into each other differ in proportion: an ellipse
is a circle squashed to 55 % along one axis, a diamond a square stretched into a
rhombus whose diagonals are 1 : 0.55.
"""

from __future__ import annotations

import numpy as np

SHAPE_CLASSES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "hexagon",
    "ellipse",
    "cross",
    "diamond",
)

KEYPOINT_NAMES: tuple[str, ...] = ("center", "top", "right", "bottom", "left")
"""Keypoints of every shape: its centre and its extremal points in image axes (the
topmost, rightmost, bottommost and leftmost point of the outline)."""

SKELETON: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (3, 4), (4, 5), (5, 2),
)  # fmt: skip
"""Links between keypoints, 1-based as in COCO's ``skeleton`` field."""

KEYPOINT_SIGMAS: tuple[float, ...] = (0.05, 0.04, 0.04, 0.04, 0.04)
"""Per-keypoint OKS sigmas for evaluating pose on the shapes data (COCO's role of
``kpt_oks_sigmas``): extremal points are sharp, the centre is implied by them."""

_EXTREMAL_TOLERANCE = 0.5  # pixels: outline points this close to an extreme share it


def _regular(num_vertices: int, *, radius: float = 1.0, phase: float = 0.0) -> np.ndarray:
    angles = phase + 2.0 * np.pi * np.arange(num_vertices) / num_vertices
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(num_points: int, *, inner: float) -> np.ndarray:
    angles = -np.pi / 2 + np.pi * np.arange(2 * num_points) / num_points
    radii = np.where(np.arange(2 * num_points) % 2 == 0, 1.0, inner)
    return radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _cross(half_width: float) -> np.ndarray:
    w = half_width
    return np.array(
        [(w, 1), (w, w), (1, w), (1, -w), (w, -w), (w, -1),
         (-w, -1), (-w, -w), (-1, -w), (-1, w), (-w, w), (-w, 1)],
        dtype=np.float64,
    )  # fmt: skip


def _fit_unit_circle(outline: np.ndarray) -> np.ndarray:
    return outline / np.linalg.norm(outline, axis=1).max()


_UNIT_OUTLINES: dict[str, np.ndarray] = {
    "circle": _regular(40),
    "square": _regular(4, phase=np.pi / 4),
    "triangle": _regular(3, phase=-np.pi / 2),
    "star": _star(5, inner=0.45),
    "hexagon": _regular(6),
    "ellipse": _regular(40) * np.array([1.0, 0.55]),
    "cross": _fit_unit_circle(_cross(0.33)),
    "diamond": np.array([(0.0, 1.0), (0.55, 0.0), (0.0, -1.0), (-0.55, 0.0)]),
}


def shape_polygon(
    name: str, *, center: tuple[float, float], size: float, angle: float
) -> np.ndarray:
    """The outline of shape class ``name`` in image coordinates.

    Args:
        name: one of :data:`SHAPE_CLASSES`.
        center: ``(x, y)`` of the shape's centre, in pixels.
        size: diameter of the circle that encloses the shape, in pixels.
        angle: rotation in radians (counter-clockwise on screen).

    Returns:
        ndarray[V, 2] of float64 ``(x, y)`` vertices, in order along the outline.
    """
    unit = _UNIT_OUTLINES[name]
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, sin], [-sin, cos]])  # y grows downwards on screen
    return unit @ rotation.T * (size / 2.0) + np.asarray(center, dtype=np.float64)


def polygon_keypoints(polygon: np.ndarray, center: tuple[float, float]) -> np.ndarray:
    """The :data:`KEYPOINT_NAMES` of a shape, from its outline and centre.

    An extremal point is the mean of the vertices that lie within half a pixel of the
    extreme, so a flat top edge yields its midpoint and a sampled circle its true top.

    Args:
        polygon: ndarray[V, 2] ``(x, y)`` outline from :func:`shape_polygon`.
        center: ``(x, y)`` of the shape's centre.

    Returns:
        ndarray[5, 2] of ``(x, y)``: center, top, right, bottom, left.
    """
    x, y = polygon[:, 0], polygon[:, 1]
    extremes = [
        y <= y.min() + _EXTREMAL_TOLERANCE,  # top
        x >= x.max() - _EXTREMAL_TOLERANCE,  # right
        y >= y.max() - _EXTREMAL_TOLERANCE,  # bottom
        x <= x.min() + _EXTREMAL_TOLERANCE,  # left
    ]
    points = [np.asarray(center, dtype=np.float64)]
    points += [polygon[selected].mean(axis=0) for selected in extremes]
    return np.stack(points)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of ``points`` (ndarray[P, 2]) as ndarray[V, 2], counter-clockwise in
    (x, y) with y up (Andrew's monotone chain); collinear points are left out."""
    pts = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(pts) <= 2:
        return pts

    def half(sequence: np.ndarray) -> list[np.ndarray]:
        chain: list[np.ndarray] = []
        for p in sequence:
            while len(chain) >= 2:
                (ax, ay), (bx, by) = chain[-2], chain[-1]
                if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) > 0:
                    break
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def min_area_rectangle(points: np.ndarray) -> np.ndarray:
    """The smallest rotated rectangle that holds ``points`` (ndarray[P, 2] ``(x, y)``).

    One side of the smallest rectangle lies along an edge of the points' convex hull, so
    each hull edge's direction is tried (rotating calipers); the first of equal areas wins.

    Returns:
        ndarray[4, 2]: the corners in order along the outline, starting at the corner of
        smallest ``(u, v)`` in the frame of the winning edge.
    """
    hull = convex_hull(points)
    if len(hull) < 3:
        raise ValueError(f"min_area_rectangle needs 3 points not on a line, got {len(hull)}")
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.arctan2(edges[:, 1], edges[:, 0])
    best = None
    for angle in angles:
        cos, sin = np.cos(angle), np.sin(angle)
        u = hull[:, 0] * cos + hull[:, 1] * sin
        v = -hull[:, 0] * sin + hull[:, 1] * cos
        area = (u.max() - u.min()) * (v.max() - v.min())
        if best is None or area < best[0] - 1e-9:
            best = (area, cos, sin, u.min(), u.max(), v.min(), v.max())
    _, cos, sin, u0, u1, v0, v1 = best
    local = np.array([(u0, v0), (u1, v0), (u1, v1), (u0, v1)])
    return np.stack(
        [local[:, 0] * cos - local[:, 1] * sin, local[:, 0] * sin + local[:, 1] * cos], 1
    )
