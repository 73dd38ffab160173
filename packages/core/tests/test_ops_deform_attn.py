"""labcore.ops.multi_scale_deformable_attention against the plain grid_sample
formulation of Deformable DETR, in float64, forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labcore.errors import LabError
from labcore.ops import multi_scale_deformable_attention

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def reference_msda(value, spatial_shapes, sampling_locations, attention_weights):
    """Sample every level with grid_sample, then weight and sum: [B, Q, H * D]."""
    batch, _, heads, channels = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    sizes = [int(h) * int(w) for h, w in spatial_shapes]
    grids = 2 * sampling_locations - 1  # grid_sample wants [-1, 1]
    sampled = []
    for level, (value_l, (h, w)) in enumerate(
        zip(value.split(sizes, dim=1), spatial_shapes, strict=True)
    ):
        # [B, h*w, H, D] -> [B*H, D, h, w]
        image = value_l.flatten(2).transpose(1, 2).reshape(batch * heads, channels, int(h), int(w))
        # [B, Q, H, P, 2] -> [B*H, Q, P, 2]
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        sampled.append(
            F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        )
    # [B*H, D, Q, L*P] weighted by [B*H, 1, Q, L*P]
    weights = attention_weights.transpose(1, 2).reshape(batch * heads, 1, queries, levels * points)
    out = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1)
    return out.view(batch, heads * channels, queries).transpose(1, 2).contiguous()


def make_inputs(
    shapes,
    batch=2,
    heads=2,
    channels=3,
    queries=5,
    points=2,
    dtype=torch.float64,
    device="cpu",
    seed=0,
):
    g = torch.Generator().manual_seed(seed)
    spatial_shapes = torch.tensor(shapes, dtype=torch.int64)
    starts = torch.cat([spatial_shapes.new_zeros(1), spatial_shapes.prod(1).cumsum(0)[:-1]])
    keys = int(spatial_shapes.prod(1).sum())
    levels = len(shapes)
    value = torch.randn(batch, keys, heads, channels, generator=g, dtype=torch.float64)
    # some points fall outside [0, 1] and sample zero padding
    loc = (
        torch.rand(batch, queries, heads, levels, points, 2, generator=g, dtype=torch.float64) * 1.2
        - 0.1
    )
    attn = torch.rand(batch, queries, heads, levels, points, generator=g, dtype=torch.float64)
    attn = attn / attn.sum((-1, -2), keepdim=True)
    to = {"dtype": dtype, "device": device}
    return value.to(**to), spatial_shapes.to(device), starts.to(device), loc.to(**to), attn.to(**to)


LEVELS = [[(6, 4), (3, 2), (1, 1)], [(5, 7)]]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shapes", LEVELS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_and_backward_match_grid_sample(device, shapes, dtype):
    value, shapes_t, starts, loc, attn = make_inputs(shapes, dtype=dtype, device=device)
    ours_in = [t.clone().requires_grad_() for t in (value, loc, attn)]
    ref_in = [t.clone().requires_grad_() for t in (value, loc, attn)]
    ours = multi_scale_deformable_attention(ours_in[0], shapes_t, starts, ours_in[1], ours_in[2])
    ref = reference_msda(ref_in[0], shapes_t.cpu(), ref_in[1], ref_in[2])
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {}
    torch.testing.assert_close(ours, ref, **tol)
    grad = torch.randn_like(ref)
    ours.backward(grad)
    ref.backward(grad)
    for mine, theirs in zip(ours_in, ref_in, strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, **tol)


@pytest.mark.parametrize("device", DEVICES)
def test_gradcheck_float64(device):
    value, shapes_t, starts, loc, attn = make_inputs(
        [(4, 3), (2, 2)], batch=1, queries=3, device=device, seed=1
    )
    # keep the points away from pixel centres, where bilinear sampling has a kink
    loc = (loc * 7).round() / 7 + 0.03
    inputs = [value.requires_grad_(), loc.requires_grad_(), attn.requires_grad_()]
    assert torch.autograd.gradcheck(
        lambda v, lo, a: multi_scale_deformable_attention(v, shapes_t, starts, lo, a), inputs
    )


@pytest.mark.parametrize("device", DEVICES)
def test_edge_cases(device):
    # no queries
    value, shapes_t, starts, loc, attn = make_inputs([(3, 3)], queries=0, device=device)
    assert multi_scale_deformable_attention(value, shapes_t, starts, loc, attn).shape == (2, 0, 6)
    # every point outside the image samples zeros, and value gets no gradient
    value, shapes_t, starts, loc, attn = make_inputs([(3, 3)], device=device)
    value.requires_grad_()
    out = multi_scale_deformable_attention(value, shapes_t, starts, loc + 5, attn)
    assert (out == 0).all()
    out.sum().backward()
    assert (value.grad == 0).all()
    # a 1x1 level: every inside point samples the single pixel, weighted bilinearly
    value, shapes_t, starts, loc, attn = make_inputs([(1, 1)], device=device)
    torch.testing.assert_close(
        multi_scale_deformable_attention(value, shapes_t, starts, loc, attn),
        reference_msda(value, shapes_t.cpu(), loc, attn),
    )


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    value, shapes_t, starts, loc, attn = make_inputs(
        [(4, 3), (2, 2)], dtype=torch.float32, device=device
    )
    args = (value.requires_grad_(), shapes_t, starts, loc.requires_grad_(), attn.requires_grad_())
    torch.library.opcheck(torch.ops.lab.multi_scale_deformable_attention, args)
    grad = torch.randn(2, 5, 6, device=device)
    torch.library.opcheck(
        torch.ops.lab.multi_scale_deformable_attention_backward,
        (grad, value.detach(), shapes_t, starts, loc.detach(), attn.detach()),
        test_utils=("test_schema", "test_faketensor"),
    )


def test_wrong_shapes_name_the_argument():
    value, shapes_t, starts, loc, attn = make_inputs([(3, 3)])
    with pytest.raises(RuntimeError, match="attention_weights must have shape"):
        multi_scale_deformable_attention(value, shapes_t, starts, loc, attn[..., :1])
    with pytest.raises(RuntimeError, match="spatial_shapes must be an int64"):
        multi_scale_deformable_attention(value, shapes_t.int(), starts, loc, attn)


@pytest.mark.cuda
@CUDA
def test_shapes_on_another_device_is_a_lab_error():
    value, shapes_t, starts, loc, attn = make_inputs([(3, 3)], device="cuda")
    with pytest.raises(LabError, match=r"spatial_shapes.to\(value.device\)"):
        multi_scale_deformable_attention(value, shapes_t.cpu(), starts, loc, attn)
