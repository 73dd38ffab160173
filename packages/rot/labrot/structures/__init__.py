"""Rotated boxes: angle conventions, polygons, regularisation; names of image patches."""

from labrot.structures.patches import PatchName
from labrot.structures.rotated_boxes import (
    ANGLE_VERSIONS,
    FLIP_DIRECTIONS,
    check_angle_version,
    flip_points,
    flip_rboxes,
    hbox_of,
    normalize_angle,
    poly_to_rbox,
    polygon_area,
    rbox_to_poly,
    regularize,
    rot90_points,
    rot90_rboxes,
)

__all__ = [
    "ANGLE_VERSIONS",
    "PatchName",
    "FLIP_DIRECTIONS",
    "flip_points",
    "flip_rboxes",
    "rot90_points",
    "rot90_rboxes",
    "hbox_of",
    "check_angle_version",
    "normalize_angle",
    "poly_to_rbox",
    "polygon_area",
    "rbox_to_poly",
    "regularize",
]
