"""OpenLab's ops: the compiled ones from ``labcore._C`` and torchvision's.

Code elsewhere in OpenLab imports ops only from here. Importing this module loads
``labcore._C`` and raises :class:`ExtensionError` (a LabError naming the rebuild command,
``nox -s ops``) when it is missing or was built against another torch; ``import labcore``
alone never needs it.

Compiled (CPU and CUDA kernels, fake kernels for torch.compile, autograd where the op
has a gradient): :func:`sigmoid_focal_loss`, :func:`soft_nms`, :func:`batched_soft_nms`,
:func:`box_iou_rotated`, :func:`nms_rotated`, :func:`multi_scale_deformable_attention`,
:func:`bbox_overlaps`, :func:`roi_align_rotated`. Differentiable: the focal loss,
deformable attention, bbox_overlaps and roi_align_rotated (its input); a backward pass
through box_iou_rotated or the soft-NMS scores raises a LabError (nms_rotated returns
indices). From torchvision: nms, batched_nms, box_iou,
roi_align, RoIAlign, roi_pool, MultiScaleRoIAlign, deform_conv2d, FrozenBatchNorm2d and
its sigmoid focal loss as ``tv_sigmoid_focal_loss``.
"""

from __future__ import annotations

from typing import Any

from torchvision.ops import (
    FrozenBatchNorm2d,
    MultiScaleRoIAlign,
    RoIAlign,
    batched_nms,
    box_iou,
    deform_conv2d,
    nms,
    roi_align,
    roi_pool,
)
from torchvision.ops import sigmoid_focal_loss as tv_sigmoid_focal_loss

from labcore.ops._extension import ExtensionError, load_extension
from labcore.ops._extension import build_info as _build_info

_C = load_extension()

from labcore.ops.bbox_overlaps import bbox_overlaps  # noqa: E402
from labcore.ops.deform_attn import multi_scale_deformable_attention  # noqa: E402
from labcore.ops.focal_loss import sigmoid_focal_loss  # noqa: E402
from labcore.ops.roi_align_rotated import roi_align_rotated  # noqa: E402
from labcore.ops.rotated_boxes import box_iou_rotated, nms_rotated  # noqa: E402
from labcore.ops.soft_nms import batched_soft_nms, soft_nms  # noqa: E402


def build_info() -> dict[str, Any]:
    """How ``labcore._C`` was built: torch and CUDA versions, arch list, compiled ops."""
    return _build_info(_C)


__all__ = [
    "ExtensionError",
    "FrozenBatchNorm2d",
    "MultiScaleRoIAlign",
    "RoIAlign",
    "batched_nms",
    "batched_soft_nms",
    "bbox_overlaps",
    "box_iou",
    "box_iou_rotated",
    "build_info",
    "deform_conv2d",
    "multi_scale_deformable_attention",
    "nms",
    "nms_rotated",
    "roi_align",
    "roi_align_rotated",
    "roi_pool",
    "sigmoid_focal_loss",
    "soft_nms",
    "tv_sigmoid_focal_loss",
]
