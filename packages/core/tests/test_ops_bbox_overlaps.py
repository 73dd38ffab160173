"""labcore.ops.bbox_overlaps against torchvision's box_iou / generalized_box_iou and a
plain float64 reference."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_iou, generalized_box_iou

from labcore.errors import LabError
from labcore.ops import bbox_overlaps

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


def test_huge_and_disjoint_boxes():
    a = torch.tensor([[0.0, 0.0, 1e5, 1e5], [0.0, 0.0, 1.0, 1.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]], dtype=torch.float64)
    torch.testing.assert_close(bbox_overlaps(a, b, "giou"), reference_overlaps(a, b, "giou"))
    torch.testing.assert_close(bbox_overlaps(a, b, "iof"), reference_overlaps(a, b, "iof"))
    assert bbox_overlaps(a, b)[1, 1] == 0


def test_large_set_matches_torchvision():
    a = random_boxes(1000, 7, scale=1000)
    b = random_boxes(300, 8, scale=1000)
    torch.testing.assert_close(bbox_overlaps(a, b), box_iou(a, b), rtol=1e-5, atol=1e-6)


def test_half_precision():
    a = random_boxes(20, 1)
    b = random_boxes(15, 2)
    got = bbox_overlaps(a.half(), b.half())
    assert got.dtype == torch.float16
    torch.testing.assert_close(
        got.float(), box_iou(a.half().float(), b.half().float()), atol=2e-3, rtol=1e-2
    )


def test_opcheck():
    a = random_boxes(6, 0)
    b = random_boxes(4, 1)
    torch.library.opcheck(torch.ops.lab.bbox_overlaps, (a, b, 2, False, 1e-6))
    torch.library.opcheck(torch.ops.lab.bbox_overlaps, (a[:4], b, 0, True, 1e-6))


def test_user_errors():
    a = random_boxes(3, 0)
    with pytest.raises(LabError, match="mode"):
        bbox_overlaps(a, a, "dice")
    with pytest.raises(RuntimeError, match=r"boxes2 must have shape \[N, 4\]"):
        bbox_overlaps(a, a[:, :3])
    with pytest.raises(RuntimeError, match="aligned=True"):
        bbox_overlaps(a, a[:2], aligned=True)
