"""labcore.ops.bbox_overlaps against torchvision's box_iou / generalized_box_iou and a
plain float64 reference, forward and backward (the reference's autograd)."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_iou, generalized_box_iou

from labcore.errors import LabError
from labcore.ops import bbox_overlaps
from labcore.ops.bbox_overlaps import MODES

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def reference_overlaps(a, b, mode, eps=1e-6):
    """Pairwise overlaps in float64, by broadcasting."""
    a, b = a.double()[:, None], b.double()[None]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp(
        min=0
    )
    inter = wh[..., 0] * wh[..., 1]
    denom = (area_a + area_b - inter) if mode != "iof" else area_a.expand_as(inter)
    denom = denom.clamp(min=eps)
    ratio = inter / denom
    if mode != "giou":
        return ratio
    ewh = (torch.maximum(a[..., 2:], b[..., 2:]) - torch.minimum(a[..., :2], b[..., :2])).clamp(
        min=0
    )
    enclose = (ewh[..., 0] * ewh[..., 1]).clamp(min=eps)
    return ratio - (enclose - denom) / enclose


def random_boxes(n, seed, scale=100.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * scale
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * scale / 3 + 0.5
    return torch.cat([xy, xy + wh], 1).to(dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iou_and_giou_match_torchvision(device, seed):
    a = random_boxes(57, seed).to(device)
    b = random_boxes(31, seed + 10).to(device)
    torch.testing.assert_close(bbox_overlaps(a, b), box_iou(a, b), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        bbox_overlaps(a, b, "giou"), generalized_box_iou(a, b), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["iou", "iof", "giou"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pairwise_and_aligned_match_reference(device, mode, dtype):
    a = random_boxes(40, 5, dtype=dtype).to(device)
    b = random_boxes(40, 6, dtype=dtype).to(device)
    b[:10] = a[:10]  # identical boxes
    b[10:13, 2:] = b[10:13, :2]  # zero-area boxes
    expected = reference_overlaps(a, b, mode).to(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(bbox_overlaps(a, b, mode), expected, **tol)
    torch.testing.assert_close(bbox_overlaps(a, b, mode, aligned=True), expected.diagonal(), **tol)
    if mode != "giou":
        assert torch.allclose(
            bbox_overlaps(a[:10], b[:10], mode, aligned=True),
            torch.ones(10, dtype=dtype, device=device),
        )


@pytest.mark.parametrize("device", DEVICES)
def test_empty_and_single(device):
    a = random_boxes(3, 0).to(device)
    empty = a[:0]
    assert bbox_overlaps(empty, a).shape == (0, 3)
    assert bbox_overlaps(a, empty).shape == (3, 0)
    assert bbox_overlaps(empty, empty, aligned=True).shape == (0,)
    torch.testing.assert_close(bbox_overlaps(a[:1], a[:1]), torch.ones(1, 1, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_huge_and_disjoint_boxes(device):
    a = torch.tensor([[0.0, 0.0, 1e5, 1e5], [0.0, 0.0, 1.0, 1.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]], dtype=torch.float64)
    got = {mode: bbox_overlaps(a.to(device), b.to(device), mode).cpu() for mode in MODES}
    torch.testing.assert_close(got["giou"], reference_overlaps(a, b, "giou"))
    torch.testing.assert_close(got["iof"], reference_overlaps(a, b, "iof"))
    assert got["iou"][1, 1] == 0


@pytest.mark.parametrize("device", DEVICES)
def test_large_set_matches_torchvision(device):
    a = random_boxes(1000, 7, scale=1000).to(device)
    b = random_boxes(300, 8, scale=1000).to(device)
    torch.testing.assert_close(bbox_overlaps(a, b), box_iou(a, b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_half_precision(device):
    a = random_boxes(20, 1).to(device)
    b = random_boxes(15, 2).to(device)
    got = bbox_overlaps(a.half(), b.half())
    assert got.dtype == torch.float16
    torch.testing.assert_close(
        got.float(), box_iou(a.half().float(), b.half().float()), atol=2e-3, rtol=1e-2
    )


def gradient_boxes(device):
    """Pairs (boxes1[i], boxes2[i]) that overlap partly, hold one another, and are disjoint;
    no two edges touch, where the overlap has a kink."""
    boxes1 = torch.tensor(
        [[0.0, 0.0, 10.0, 10.0], [2.0, 3.0, 6.0, 9.0], [20.0, 20.0, 25.0, 24.0], [1, 1, 4, 4.5]],
        dtype=torch.float64,
    )
    boxes2 = torch.tensor(
        [[5.0, 4.0, 15.0, 12.0], [0.5, 1.0, 8.0, 9.5], [40.0, 41.0, 45.0, 50.0], [2, 2.5, 3, 3.5]],
        dtype=torch.float64,
    )
    return boxes1.to(device), boxes2.to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["iou", "iof", "giou"])
@pytest.mark.parametrize("aligned", [False, True])
def test_gradcheck_float64(device, mode, aligned):
    boxes1, boxes2 = gradient_boxes(device)
    inputs = (boxes1.requires_grad_(), boxes2.requires_grad_())
    assert torch.autograd.gradcheck(lambda a, b: bbox_overlaps(a, b, mode, aligned), inputs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["iou", "iof", "giou"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_matches_reference_autograd(device, mode, dtype, seed):
    a = random_boxes(30, seed, dtype=dtype)
    b = random_boxes(30, seed + 20, dtype=dtype)
    b[:5] = a[:5]  # identical boxes: min and max split the gradient on ties
    b[5:8, 2:] = b[5:8, :2]  # zero-area boxes
    b[8:11] += 1000  # disjoint from every box
    g = torch.Generator().manual_seed(seed)
    grad = torch.randn(30, 30, generator=g, dtype=torch.float64)
    tol = {} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    for aligned in (False, True):
        ref_inputs = [a.double().requires_grad_(), b.double().requires_grad_()]
        expected = reference_overlaps(*ref_inputs, mode)
        expected = expected.diagonal() if aligned else expected
        upstream = grad.diagonal() if aligned else grad
        expected_grads = torch.autograd.grad(expected, ref_inputs, upstream)
        inputs = [a.to(device).requires_grad_(), b.to(device).requires_grad_()]
        out = bbox_overlaps(*inputs, mode, aligned)
        grads = torch.autograd.grad(out, inputs, upstream.to(device, dtype))
        for got, want in zip(grads, expected_grads, strict=True):
            assert got.dtype == dtype
            torch.testing.assert_close(got.cpu(), want.to(dtype), **tol)


@pytest.mark.parametrize("device", DEVICES)
def test_gradient_of_degenerate_and_empty_sets(device):
    # two zero-area boxes: union and intersection are 0, the gradient is finite
    points = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 2.0, 3.0, 2.0]], device=device)
    for mode in MODES:
        a = points.clone().requires_grad_()
        bbox_overlaps(a, points.flip(0), mode).sum().backward()
        assert torch.isfinite(a.grad).all(), mode
    a = random_boxes(3, 0).to(device).requires_grad_()
    empty = a.detach()[:0].requires_grad_()
    out = bbox_overlaps(a, empty, "giou")
    grad_a, grad_empty = torch.autograd.grad(out.sum(), (a, empty))
    assert (grad_a == 0).all() and grad_empty.shape == (0, 4)


@pytest.mark.parametrize("device", DEVICES)
def test_giou_loss_trains_boxes_towards_targets(device):
    target = torch.tensor([[10.0, 10.0, 30.0, 40.0], [50.0, 5.0, 60.0, 25.0]], device=device)
    boxes = torch.tensor([[0.0, 0.0, 8.0, 9.0], [40.0, 30.0, 45.0, 50.0]], device=device)
    boxes.requires_grad_()
    optimizer = torch.optim.Adam([boxes], lr=0.5)
    for _ in range(200):
        optimizer.zero_grad()
        loss = (1 - bbox_overlaps(boxes, target, "giou", aligned=True)).sum()
        loss.backward()
        optimizer.step()
    assert bbox_overlaps(boxes.detach(), target, aligned=True).min() > 0.9


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    a = random_boxes(6, 0).to(device)
    b = random_boxes(4, 1).to(device)
    b[0] = a[0]
    for mode in MODES.values():
        torch.library.opcheck(
            torch.ops.lab.bbox_overlaps,
            (a.clone().requires_grad_(), b.clone().requires_grad_(), mode, False, 1e-6),
        )
        torch.library.opcheck(
            torch.ops.lab.bbox_overlaps,
            (a[:4].clone().requires_grad_(), b.clone().requires_grad_(), mode, True, 1e-6),
        )
    for aligned, grad in ((False, torch.rand(6, 4)), (True, torch.rand(4))):
        torch.library.opcheck(
            torch.ops.lab.bbox_overlaps_backward,
            (grad.to(device), a[: len(grad)], b, 2, aligned, 1e-6),
            test_utils=("test_schema", "test_faketensor"),
        )


def test_user_errors():
    a = random_boxes(3, 0)
    with pytest.raises(LabError, match="mode"):
        bbox_overlaps(a, a, "dice")
    with pytest.raises(RuntimeError, match=r"boxes2 must have shape \[N, 4\]"):
        bbox_overlaps(a, a[:, :3])
    with pytest.raises(RuntimeError, match="aligned=True"):
        bbox_overlaps(a, a[:2], aligned=True)
    with pytest.raises(RuntimeError, match=r"grad must be .* shape \[3, 2\]"):
        torch.ops.lab.bbox_overlaps_backward(torch.rand(3, 3), a, a[:2], 0, False, 1e-6)
