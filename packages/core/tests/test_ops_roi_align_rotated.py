"""labcore.ops.roi_align_rotated against a plain float64 bilinear reference written here
(forward, and backward through the reference's autograd), gradcheck and opcheck."""

from __future__ import annotations

import math

import pytest
import torch

from labcore.ops import roi_align, roi_align_rotated

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def bilinear(feature: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """feature [C, H, W] sampled at points x, y (Tensor[P]) -> [C, P]: zero more than a
    pixel outside, the border value within that pixel, bilinear inside."""
    _, height, width = feature.shape
    outside = (y < -1) | (y > height) | (x < -1) | (x > width)
    y = y.clamp(min=0)
    x = x.clamp(min=0)
    y0 = y.floor().long().clamp(max=height - 1)
    x0 = x.floor().long().clamp(max=width - 1)
    y = torch.where(y0 >= height - 1, y0.to(y.dtype), y)
    x = torch.where(x0 >= width - 1, x0.to(x.dtype), x)
    y1 = (y0 + 1).clamp(max=height - 1)
    x1 = (x0 + 1).clamp(max=width - 1)
    ly, lx = y - y0, x - x0
    hy, hx = 1 - ly, 1 - lx
    value = (
        feature[:, y0, x0] * hy * hx
        + feature[:, y0, x1] * hy * lx
        + feature[:, y1, x0] * ly * hx
        + feature[:, y1, x1] * ly * lx
    )
    return torch.where(outside, torch.zeros_like(value), value)


def reference(input, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """roi_align_rotated in float64 plain torch, one RoI at a time."""
    pooled_h, pooled_w = output_size
    input = input.double()
    outputs = []
    for roi in rois.double():
        batch = int(roi[0])
        offset = 0.5 if aligned else 0.0
        cx, cy = roi[1] * spatial_scale - offset, roi[2] * spatial_scale - offset
        w, h = roi[3] * spatial_scale, roi[4] * spatial_scale
        if not aligned:
            w, h = w.clamp(min=1), h.clamp(min=1)
        grid_h = sampling_ratio or math.ceil(float(h) / pooled_h)
        grid_w = sampling_ratio or math.ceil(float(w) / pooled_w)
        # sample offsets along the RoI's own axes, bin by bin
        v = -h / 2 + (torch.arange(pooled_h * grid_h, dtype=torch.float64) + 0.5) * h / (
            pooled_h * grid_h
        )
        u = -w / 2 + (torch.arange(pooled_w * grid_w, dtype=torch.float64) + 0.5) * w / (
            pooled_w * grid_w
        )
        vv, uu = torch.meshgrid(v, u, indexing="ij")
        cos, sin = torch.cos(roi[5]), torch.sin(roi[5])
        x = uu * cos - vv * sin + cx
        y = uu * sin + vv * cos + cy
        values = bilinear(input[batch], x.flatten(), y.flatten())
        values = values.view(-1, pooled_h, grid_h, pooled_w, grid_w)
        outputs.append(values.mean(dim=(2, 4)))
    return torch.stack(outputs) if outputs else input.new_zeros((0, input.shape[1], *output_size))


def random_rois(n, batch, size, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.cat(
        [
            torch.randint(0, batch, (n, 1), generator=g).double(),
            torch.rand(n, 2, generator=g, dtype=torch.float64) * size,
            torch.rand(n, 2, generator=g, dtype=torch.float64) * size / 2 + 0.5,
            (torch.rand(n, 1, generator=g, dtype=torch.float64) - 0.5) * 4 * math.pi,
        ],
        dim=1,
    ).to(dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize(("sampling_ratio", "seed"), [(0, 0), (2, 1), (1, 2), (0, 3)])
def test_forward_and_backward_match_reference(device, dtype, aligned, sampling_ratio, seed):
    g = torch.Generator().manual_seed(seed)
    input = torch.randn(2, 3, 13, 17, generator=g, dtype=torch.float64)
    rois = random_rois(9, 2, 64, seed).to(dtype)
    rois[0, 1:3] = torch.tensor([-20.0, 70.0])  # mostly outside the map
    args = ((5, 4), 0.25, sampling_ratio, aligned)
    ref_input = input.clone().requires_grad_()
    expected = reference(ref_input, rois, *args)
    x = input.to(dtype).to(device).requires_grad_()
    got = roi_align_rotated(x, rois.to(device), *args)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got.double().cpu(), expected.detach(), **tol)
    weights = torch.randn(expected.shape, generator=g, dtype=torch.float64)
    (expected * weights).sum().backward()
    (got * weights.to(dtype).to(device)).sum().backward()
    torch.testing.assert_close(x.grad.double().cpu(), ref_input.grad, **tol)


def test_angle_zero_matches_torchvision_roi_align():
    g = torch.Generator().manual_seed(4)
    input = torch.randn(2, 4, 20, 24, generator=g, dtype=torch.float64)
    boxes = torch.tensor(
        [[0, 3.0, 4.0, 15.0, 11.0], [1, 0.5, 2.0, 22.0, 19.5]], dtype=torch.float64
    )
    rotated = torch.stack(
        [
            boxes[:, 0],
            (boxes[:, 1] + boxes[:, 3]) / 2,
            (boxes[:, 2] + boxes[:, 4]) / 2,
            boxes[:, 3] - boxes[:, 1],
            boxes[:, 4] - boxes[:, 2],
            torch.zeros(2, dtype=torch.float64),
        ],
        dim=1,
    )
    for aligned in (True, False):
        expected = roi_align(input, boxes, (6, 5), 1.0, 2, aligned)
        got = roi_align_rotated(input, rotated, (6, 5), 1.0, 2, aligned)
        torch.testing.assert_close(got, expected)


def test_quarter_turn_transposes_the_pooled_map():
    input = torch.arange(64, dtype=torch.float64).view(1, 1, 8, 8)
    roi = torch.tensor([[0, 4.0, 4.0, 8.0, 8.0, 0.0]], dtype=torch.float64)
    turned = roi.clone()
    turned[0, 5] = math.pi / 2
    straight = roi_align_rotated(input, roi, 4, sampling_ratio=1)[0, 0]
    quarter = roi_align_rotated(input, turned, 4, sampling_ratio=1)[0, 0]
    # turning the RoI by +90 degrees: its u axis runs down the image, its v axis leftwards
    torch.testing.assert_close(quarter, straight.T.flip(0))


@pytest.mark.parametrize("device", DEVICES)
def test_empty_and_invalid_batch_index(device):
    input = torch.randn(1, 2, 5, 5, dtype=torch.float64, device=device)
    empty = roi_align_rotated(input, torch.zeros(0, 6, dtype=torch.float64, device=device), 3)
    assert empty.shape == (0, 2, 3, 3)
    rois = torch.tensor([[3, 2.0, 2.0, 2.0, 2.0, 0.1]], dtype=torch.float64, device=device)
    assert (roi_align_rotated(input, rois, 3) == 0).all()


@pytest.mark.parametrize("device", DEVICES)
def test_gradcheck(device):
    g = torch.Generator().manual_seed(5)
    input = torch.randn(2, 2, 7, 8, generator=g, dtype=torch.float64).to(device)
    rois = random_rois(4, 2, 8, 5, torch.float64).to(device)
    assert torch.autograd.gradcheck(
        lambda x: roi_align_rotated(x, rois, (3, 2), 1.0, 2, True), (input.requires_grad_(),)
    )


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    input = torch.randn(2, 3, 9, 10, device=device, requires_grad=True)
    rois = random_rois(5, 2, 10, 6).to(device)
    for aligned in (True, False):
        torch.library.opcheck(torch.ops.lab.roi_align_rotated, (input, rois, 0.5, 3, 4, 2, aligned))
    grad = torch.randn(5, 3, 3, 4, device=device)
    torch.library.opcheck(
        torch.ops.lab.roi_align_rotated_backward,
        (grad, rois, 0.5, 3, 4, 2, 3, 9, 10, 2, True),
        test_utils=("test_schema", "test_faketensor"),
    )


def test_user_errors():
    input = torch.randn(1, 2, 5, 5)
    with pytest.raises(RuntimeError, match=r"rois must have shape \[K, 6\]"):
        roi_align_rotated(input, torch.zeros(2, 5), 3)
    with pytest.raises(RuntimeError, match="same dtype and device"):
        roi_align_rotated(input, torch.zeros(2, 6, dtype=torch.float64), 3)
    with pytest.raises(RuntimeError, match="float32 or float64"):
        roi_align_rotated(input.half(), torch.zeros(2, 6).half(), 3)
    with pytest.raises(RuntimeError, match="pooled_height and pooled_width must be positive"):
        roi_align_rotated(input, torch.zeros(2, 6), (0, 3))
