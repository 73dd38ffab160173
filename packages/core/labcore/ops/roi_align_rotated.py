"""RoI Align on rotated RoIs: bilinear features of oriented boxes, differentiable."""

from __future__ import annotations

import torch
from torch import Tensor


def roi_align_rotated(
    input: Tensor,
    rois: Tensor,
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
    aligned: bool = True,
) -> Tensor:
    """Pool a fixed-size feature map from inside each rotated RoI.

    Args:
        input (Tensor[B, C, H, W]): float32 or float64 feature maps.
        rois (Tensor[K, 6]): ``(batch index, cx, cy, w, h, angle)`` in input-image pixels
            and radians, the dtype and device of ``input``; the corner formula of
            :func:`box_iou_rotated` (``center + R(angle) @ (+-w/2, +-h/2)``), so the
            output's rows run along the RoI's own ``h`` axis and its columns along ``w``.
        output_size: (pooled_height, pooled_width), or one int for both.
        spatial_scale: feature-map pixels per input-image pixel (1 / stride).
        sampling_ratio: bilinear samples per bin along each side; 0 takes
            ``ceil(roi side / pooled side)`` for each RoI.
        aligned: shift the RoI by -0.5 pixel, so that pixel ``(i, j)`` has its centre at
            ``(j + 0.5, i + 0.5)`` (detectron2's ``ROIAlignRotated``; mmcv's
            ``roi_align_rotated`` with ``clockwise=True``); False also forces RoIs to at
            least 1 x 1.

    Returns:
        Tensor[K, C, pooled_height, pooled_width]: each bin the mean of its samples; a
        sample more than a pixel outside the map counts as 0, one within that pixel takes
        the border value. A RoI whose batch index names no image gives zeros.

    Differentiable with respect to ``input`` (not ``rois``). The CUDA backward adds with
    atomics, so its last bits may vary from run to run; the CPU one is deterministic.
    """
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    pooled_height, pooled_width = (int(s) for s in output_size)
    return torch.ops.lab.roi_align_rotated(
        input, rois, float(spatial_scale), pooled_height, pooled_width, int(sampling_ratio),
        bool(aligned),
    )  # fmt: skip


@torch.library.register_fake("lab::roi_align_rotated")
def _(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned):
    return input.new_empty((rois.shape[0], input.shape[1], pooled_height, pooled_width))


@torch.library.register_fake("lab::roi_align_rotated_backward")
def _(
    grad, rois, spatial_scale, pooled_height, pooled_width, batch, channels, height, width,
    sampling_ratio, aligned,
):  # fmt: skip
    return grad.new_empty((batch, channels, height, width))


def _setup_context(ctx, inputs, output):
    input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned = inputs
    ctx.save_for_backward(rois)
    ctx.input_shape = tuple(input.shape)
    ctx.args = (spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned)


def _backward(ctx, grad):
    (rois,) = ctx.saved_tensors
    spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned = ctx.args
    batch, channels, height, width = ctx.input_shape
    grad_input = torch.ops.lab.roi_align_rotated_backward(
        grad.contiguous(), rois, spatial_scale, pooled_height, pooled_width, batch, channels,
        height, width, sampling_ratio, aligned,
    )  # fmt: skip
    return grad_input, None, None, None, None, None, None


torch.library.register_autograd("lab::roi_align_rotated", _backward, setup_context=_setup_context)
