"""Multi-scale deformable attention (Zhu et al., "Deformable DETR: Deformable Transformers
for End-to-End Object Detection"), the sampling core of a deformable attention layer.

Each query samples P points in each of L feature levels per head, bilinearly, and sums
them weighted by its attention weights. The kernels never materialise the sampled values
(the plain formulation with ``grid_sample`` holds B*H*D*Q*L*P of them).
"""

from __future__ import annotations

import torch
from torch import Tensor

from labcore.errors import LabError


def multi_scale_deformable_attention(
    value: Tensor,
    spatial_shapes: Tensor,
    level_start_index: Tensor,
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """Deformable attention over several feature levels, differentiable.

    Args:
        value (Tensor[B, S, H, D]): the levels' features flattened and concatenated,
            ``S = sum(h_l * w_l)``, split into H heads of D channels.
        spatial_shapes (Tensor[L, 2] int64): (h_l, w_l) of each level, on value's device.
        level_start_index (Tensor[L] int64): where each level starts in S, on value's
            device.
        sampling_locations (Tensor[B, Q, H, L, P, 2]): (x, y) in [0, 1] of each level;
            outside points sample zeros (``grid_sample(align_corners=False)``).
        attention_weights (Tensor[B, Q, H, L, P]): weights of the samples (usually a
            softmax over L * P).

    Returns:
        Tensor[B, Q, H * D]. float32 or float64; gradients flow to ``value``,
        ``sampling_locations`` and ``attention_weights``.
    """
    for name, tensor in (
        ("spatial_shapes", spatial_shapes),
        ("level_start_index", level_start_index),
    ):
        if tensor.device != value.device:
            raise LabError(
                f"multi_scale_deformable_attention: {name} is on {tensor.device} but value is on "
                f"{value.device}; move it with {name}.to(value.device)"
            )
    return torch.ops.lab.multi_scale_deformable_attention(
        value, spatial_shapes, level_start_index, sampling_locations, attention_weights
    )


@torch.library.register_fake("lab::multi_scale_deformable_attention")
def _(value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
    batch, _, heads, channels = value.shape
    return value.new_empty((batch, sampling_locations.shape[1], heads * channels))


@torch.library.register_fake("lab::multi_scale_deformable_attention_backward")
def _(grad_output, value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
    return (
        torch.empty_like(value),
        torch.empty_like(sampling_locations),
        torch.empty_like(attention_weights),
    )


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad_output):
    value, shapes, starts, locations, weights = ctx.saved_tensors
    grad_value, grad_locations, grad_weights = (
        torch.ops.lab.multi_scale_deformable_attention_backward(
            grad_output, value, shapes, starts, locations, weights
        )
    )
    return grad_value, None, None, grad_locations, grad_weights


torch.library.register_autograd(
    "lab::multi_scale_deformable_attention", _backward, setup_context=_setup_context
)
