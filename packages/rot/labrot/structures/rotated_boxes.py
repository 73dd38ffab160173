"""Rotated boxes ``(cx, cy, w, h, angle)``: angle conventions, polygons, regularisation.

A rotated box is Tensor[..., 5] ``(cx, cy, w, h, angle)`` in pixels and radians, with x to
the right and y down. Its corners are ``center + R(angle) @ (+-w/2, +-h/2)`` with
``R = [[cos, -sin], [sin, cos]]``: the formula of :func:`labcore.ops.box_iou_rotated`,
so a positive angle turns the box clockwise on screen. Every ``(w, h, angle)`` names one
rectangle, and each rectangle has many names (``(w, h, a)``, ``(w, h, a + pi)``,
``(h, w, a + pi / 2)``, ...). An angle convention picks one of them (MMRotate's
``angle_version``; the ranges of MMRotate 1.x's ``regularize_boxes``):

- ``'oc'``: angle in [-pi/2, 0); w and h as they come (OpenCV's ``minAreaRect`` style);
- ``'le90'``: angle in [-pi/2, pi/2); w >= h (w is the long side);
- ``'le135'``: angle in [-pi/4, 3pi/4); w >= h.

A square (w == h) is named with the convention's first angle modulo pi/2.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from labcore.errors import LabError

ANGLE_VERSIONS: dict[str, tuple[float, bool]] = {
    # version: (start of the angle range, whether w is the long side)
    "oc": (-math.pi / 2, False),
    "le90": (-math.pi / 2, True),
    "le135": (-math.pi / 4, True),
}


def check_angle_version(version: str) -> None:
    """Raise a LabError naming the known conventions when ``version`` is not one of them."""
    if version not in ANGLE_VERSIONS:
        raise LabError(
            f"Unknown angle version {version!r}; choose one of {', '.join(ANGLE_VERSIONS)}."
        )


def normalize_angle(angle: Tensor, version: str) -> Tensor:
    """``angle`` shifted by a multiple of pi into the convention's half-open range of length
    pi: [-pi/2, pi/2) for ``'oc'`` and ``'le90'``, [-pi/4, 3pi/4) for ``'le135'``."""
    check_angle_version(version)
    start, _ = ANGLE_VERSIONS[version]
    return torch.remainder(angle - start, math.pi) + start


def regularize(boxes: Tensor, version: str) -> Tensor:
    """The name of each rotated box (Tensor[..., 5]) in the convention ``version``.

    The rectangle stays the same (its polygon has the same corners); only ``w``, ``h``
    and ``angle`` change: sides swap with a quarter turn, and the angle moves by multiples
    of pi into the convention's range.
    """
    check_angle_version(version)
    start, width_longer = ANGLE_VERSIONS[version]
    x, y, w, h, t = boxes.unbind(dim=-1)
    if width_longer:
        keep = w >= h
        new_w, new_h = torch.where(keep, w, h), torch.where(keep, h, w)
        t = torch.where(keep, t, t + math.pi / 2)
        t = torch.remainder(t - start, math.pi) + start
    else:
        t = torch.remainder(t - start, math.pi)
        keep = t < math.pi / 2
        new_w, new_h = torch.where(keep, w, h), torch.where(keep, h, w)
        t = torch.where(keep, t, t - math.pi / 2) + start
    # remainder can round up to the excluded end of the range
    period = math.pi if width_longer else math.pi / 2
    t = torch.where(t >= start + period, t - period, t)
    return torch.stack((x, y, new_w, new_h, t), dim=-1)


def rbox_to_poly(boxes: Tensor) -> Tensor:
    """Corners of rotated boxes Tensor[..., 5] as Tensor[..., 8] ``(x1, y1, ..., x4, y4)``.

    The corners are the local points (-w/2, -h/2), (w/2, -h/2), (w/2, h/2), (-w/2, h/2)
    turned by ``angle`` and moved to the centre.
    """
    x, y, w, h, t = boxes.unbind(dim=-1)
    cos, sin = torch.cos(t), torch.sin(t)
    corners = []
    for sx, sy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
        u, v = sx * w, sy * h
        corners += [x + u * cos - v * sin, y + u * sin + v * cos]
    return torch.stack(corners, dim=-1)


def poly_to_rbox(polys: Tensor, version: str) -> Tensor:
    """The smallest rotated rectangle around each 4-point polygon, in convention ``version``.

    Args:
        polys: Tensor[N, 8] ``(x1, y1, ..., x4, y4)``: quadrilaterals in any vertex order
            (DOTA's labels are not exact rectangles).

    Returns:
        Tensor[N, 5]. The smallest enclosing rectangle has a side along an edge of the
        convex hull; every direction between two of the four points is tried and the
        rectangle of least area is kept (the first on ties). A rectangle's own corners
        give back that rectangle.
    """
    points = polys.reshape(-1, 4, 2)
    pairs = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (1, 3)]
    edges = torch.stack([points[:, j] - points[:, i] for i, j in pairs], dim=1)  # [N, 6, 2]
    theta = torch.atan2(edges[..., 1], edges[..., 0])  # [N, 6]
    cos, sin = torch.cos(theta)[..., None], torch.sin(theta)[..., None]  # [N, 6, 1]
    px, py = points[:, None, :, 0], points[:, None, :, 1]  # [N, 1, 4]
    u = px * cos + py * sin  # coordinates along the candidate direction
    v = -px * sin + py * cos
    u_min, u_max = u.min(dim=-1).values, u.max(dim=-1).values
    v_min, v_max = v.min(dim=-1).values, v.max(dim=-1).values
    width, height = u_max - u_min, v_max - v_min
    best = (width * height).argmin(dim=1, keepdim=True)  # [N, 1]

    def pick(t: Tensor) -> Tensor:
        return t.gather(1, best).squeeze(1)

    uc, vc = pick((u_min + u_max) / 2), pick((v_min + v_max) / 2)
    t, c, s = pick(theta), pick(cos[..., 0]), pick(sin[..., 0])
    boxes = torch.stack((uc * c - vc * s, uc * s + vc * c, pick(width), pick(height), t), dim=-1)
    return regularize(boxes, version)


def polygon_area(polys: Tensor) -> Tensor:
    """Area (shoelace, unsigned) of polygons Tensor[N, 2V] ``(x1, y1, ..., xV, yV)``: Tensor[N]."""
    x, y = polys[:, 0::2], polys[:, 1::2]
    return 0.5 * (x * y.roll(-1, dims=1) - x.roll(-1, dims=1) * y).sum(dim=1).abs()


def hbox_of(boxes: Tensor) -> Tensor:
    """The axis-aligned box (x1, y1, x2, y2) around each rotated box: Tensor[..., 4]."""
    x, y, w, h, t = boxes.unbind(dim=-1)
    cos, sin = torch.cos(t).abs(), torch.sin(t).abs()
    half_w = 0.5 * (w * cos + h * sin)
    half_h = 0.5 * (w * sin + h * cos)
    return torch.stack((x - half_w, y - half_h, x + half_w, y + half_h), dim=-1)


FLIP_DIRECTIONS = ("horizontal", "vertical", "diagonal")


def flip_points(points: Tensor, img_shape: tuple[int, int], direction: str) -> Tensor:
    """Points Tensor[..., 2] ``(x, y)`` of an image of ``img_shape`` (h, w) after flipping
    it ``'horizontal'`` (x -> w - x), ``'vertical'`` (y -> h - y) or ``'diagonal'`` (both)."""
    height, width = img_shape
    x, y = points.unbind(dim=-1)
    if direction in ("horizontal", "diagonal"):
        x = width - x
    if direction in ("vertical", "diagonal"):
        y = height - y
    return torch.stack((x, y), dim=-1)


def flip_rboxes(boxes: Tensor, img_shape: tuple[int, int], direction: str, version: str) -> Tensor:
    """Rotated boxes Tensor[N, 5] of an image of ``img_shape`` (h, w) after flipping it.

    A flip along one axis mirrors the angle (``a -> -a``); the diagonal flip (a half turn)
    keeps it. The result is regularised into ``version``.
    """
    if direction not in FLIP_DIRECTIONS:
        raise LabError(
            f"Unknown flip direction {direction!r}; choose one of {', '.join(FLIP_DIRECTIONS)}."
        )
    centers = flip_points(boxes[:, :2], img_shape, direction)
    angle = boxes[:, 4] if direction == "diagonal" else -boxes[:, 4]
    flipped = torch.cat((centers, boxes[:, 2:4], angle[:, None]), dim=1)
    return regularize(flipped, version)


def rot90_points(points: Tensor, img_shape: tuple[int, int], k: int) -> Tensor:
    """Points Tensor[..., 2] of an image of ``img_shape`` (h, w) after ``numpy.rot90(image,
    k)`` (k quarter turns counter-clockwise on screen): each turn maps (x, y) -> (y, w - x)
    and the image becomes w x h."""
    height, width = img_shape
    x, y = points.unbind(dim=-1)
    for _ in range(k % 4):
        x, y = y, width - x
        height, width = width, height
    return torch.stack((x, y), dim=-1)


def rot90_rboxes(boxes: Tensor, img_shape: tuple[int, int], k: int, version: str) -> Tensor:
    """Rotated boxes Tensor[N, 5] after ``numpy.rot90(image, k)`` of an image of
    ``img_shape`` (h, w): centres as :func:`rot90_points`, angle minus ``k * pi / 2``,
    regularised into ``version``."""
    centers = rot90_points(boxes[:, :2], img_shape, k)
    angle = boxes[:, 4] - (k % 4) * math.pi / 2
    return regularize(torch.cat((centers, boxes[:, 2:4], angle[:, None]), dim=1), version)
