"""Synthetic "shapes" data sets written in real on-disk formats.

Images of circles, squares, triangles, stars, hexagons, ellipses, crosses and diamonds
in several sizes, colours and rotations over textured backgrounds, partly covering each
other, for five tasks: 'cls' (ImageNet-style folders), 'det' and 'pose' (COCO JSON), 'seg'
(PNG label maps) and 'rot' (DOTA text files of oriented boxes). Tests and the tiny benchmark protocols train on them without
downloading anything.

    from labcore.datasets.synthetic import ensure_shapes
    root = ensure_shapes("det", num_train=64, num_val=16, image_size=128)
"""

from labcore.datasets.synthetic.generate import (
    DEFAULT_SIZES,
    DEFAULT_VERSION,
    MANIFEST_NAME,
    TASKS,
    VERSIONS,
    default_data_root,
    ensure_shapes,
    generate_shapes,
    verify_shapes,
)
from labcore.datasets.synthetic.geometry import (
    KEYPOINT_NAMES,
    KEYPOINT_SIGMAS,
    SHAPE_CLASSES,
    SKELETON,
)

__all__ = [
    "DEFAULT_SIZES",
    "DEFAULT_VERSION",
    "KEYPOINT_NAMES",
    "KEYPOINT_SIGMAS",
    "MANIFEST_NAME",
    "SHAPE_CLASSES",
    "SKELETON",
    "TASKS",
    "VERSIONS",
    "default_data_root",
    "ensure_shapes",
    "generate_shapes",
    "verify_shapes",
]
