"""labcore.ops.box_iou_rotated and nms_rotated against torchvision (angle 0), analytic
values, and a float64 polygon reference (convex hull of the intersection points)."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import box_iou, nms

from labcore.errors import LabError
from labcore.ops import box_iou_rotated, nms_rotated

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def corners(box):
    cx, cy, w, h, a = (float(v) for v in box)
    c, s = math.cos(a), math.sin(a)
    local = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [(cx + c * x - s * y, cy + s * x + c * y) for x, y in local]


def inside(p, poly):
    """Is p inside (or on) the convex counter-clockwise polygon?"""
    eps = 1e-9
    for i in range(len(poly)):
        (ax, ay), (bx, by) = poly[i], poly[(i + 1) % len(poly)]
        if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) < -eps:
            return False
    return True


def segment_intersection(p1, p2, q1, q2):
    d = (p2[0] - p1[0]) * (q2[1] - q1[1]) - (p2[1] - p1[1]) * (q2[0] - q1[0])
    if abs(d) < 1e-12:
        return None
    t = ((q1[0] - p1[0]) * (q2[1] - q1[1]) - (q1[1] - p1[1]) * (q2[0] - q1[0])) / d
    u = ((q1[0] - p1[0]) * (p2[1] - p1[1]) - (q1[1] - p1[1]) * (p2[0] - p1[0])) / d
    if 0 <= t <= 1 and 0 <= u <= 1:
        return (p1[0] + t * (p2[0] - p1[0]), p1[1] + t * (p2[1] - p1[1]))
    return None


def reference_iou(a, b):
    """IoU from the convex hull of: corners of each box inside the other, edge crossings."""
    if min(float(a[2]), float(a[3]), float(b[2]), float(b[3])) <= 0:
        return 0.0
    pa, pb = corners(a), corners(b)
    points = [p for p in pa if inside(p, pb)] + [p for p in pb if inside(p, pa)]
    for i in range(4):
        for j in range(4):
            x = segment_intersection(pa[i], pa[(i + 1) % 4], pb[j], pb[(j + 1) % 4])
            if x is not None:
                points.append(x)
    inter = 0.0
    if len(points) >= 3:
        mx = sum(p[0] for p in points) / len(points)
        my = sum(p[1] for p in points) / len(points)
        points.sort(key=lambda p: math.atan2(p[1] - my, p[0] - mx))
        for i in range(len(points)):
            (x1, y1), (x2, y2) = points[i], points[(i + 1) % len(points)]
            inter += x1 * y2 - x2 * y1
        inter = abs(inter) / 2
    area_a, area_b = float(a[2] * a[3]), float(b[2] * b[3])
    return inter / (area_a + area_b - inter)


def random_rotated(n, seed, dtype=torch.float64, spread=20.0):
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 2, generator=g, dtype=torch.float64) * spread
    size = torch.rand(n, 2, generator=g, dtype=torch.float64) * 15 + 1
    angle = (torch.rand(n, 1, generator=g, dtype=torch.float64) - 0.5) * 4 * math.pi  # +-2 pi
    return torch.cat([centre, size, angle], 1).to(dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_polygon_reference(device, seed, dtype):
    a = random_rotated(14, seed, dtype).to(device)
    b = random_rotated(11, seed + 7, dtype).to(device)
    b[:3] = a[:3]  # identical boxes
    expected = torch.tensor([[reference_iou(x, y) for y in b.cpu()] for x in a.cpu()], dtype=dtype)
    tol = {"atol": 1e-5, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 1e-9, "rtol": 1e-9}
    got = box_iou_rotated(a, b)
    torch.testing.assert_close(got.cpu(), expected, **tol)
    torch.testing.assert_close(
        box_iou_rotated(a[:11], b, aligned=True).cpu(), expected.diagonal(), **tol
    )
    assert (got.diagonal()[:3].cpu() - 1).abs().max() < 1e-5


@pytest.mark.parametrize("device", DEVICES)
def test_angle_zero_matches_torchvision(device):
    boxes = random_rotated(30, 3).to(device)
    boxes[:, 4] = 0
    xyxy = torch.cat([boxes[:, :2] - boxes[:, 2:4] / 2, boxes[:, :2] + boxes[:, 2:4] / 2], 1)
    torch.testing.assert_close(box_iou_rotated(boxes, boxes[:17]), box_iou(xyxy, xyxy[:17]))


@pytest.mark.parametrize("device", DEVICES)
def test_analytic_values_and_symmetries(device):
    unit = torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0]], dtype=torch.float64, device=device)
    turned = unit.clone()
    turned[0, 4] = math.pi / 4  # a square and itself turned by 45 degrees: IoU = 1 / sqrt(2)
    torch.testing.assert_close(box_iou_rotated(unit, turned)[0, 0].item(), 1 / math.sqrt(2))
    box = torch.tensor([[3.0, -2.0, 4.0, 1.5, 0.3]], dtype=torch.float64, device=device)
    swapped = torch.tensor(
        [[3.0, -2.0, 1.5, 4.0, 0.3 + math.pi / 2]], dtype=torch.float64, device=device
    )
    wrapped = box.clone()
    wrapped[0, 4] += 4 * math.pi  # angles past +-pi
    flipped = box.clone()
    flipped[0, 4] -= math.pi
    others = torch.cat([swapped, wrapped, flipped])
    torch.testing.assert_close(
        box_iou_rotated(box, others).cpu(), torch.ones(1, 3, dtype=torch.float64)
    )


@pytest.mark.parametrize("device", DEVICES)
def test_edge_cases(device):
    box = torch.tensor([[10.0, 10.0, 4.0, 2.0, 0.5]], device=device)
    degenerate = torch.tensor(
        [[10.0, 10.0, 0.0, 2.0, 0.5], [10.0, 10.0, 4.0, 0.0, 0.1], [10.0, 10.0, 0.0, 0.0, 0.0]],
        device=device,
    )
    assert (box_iou_rotated(box, degenerate) == 0).all()
    assert (box_iou_rotated(degenerate, degenerate) == 0).all()
    far = torch.tensor([[1e4, 1e4, 4.0, 2.0, 0.5]], device=device)
    assert box_iou_rotated(box, far).item() == 0
    # huge boxes far from the origin keep their precision in float32
    huge = torch.tensor([[1e5, 1e5, 3e4, 1e4, 0.2]], device=device)
    shifted = huge.clone()
    shifted[0, 0] += 1e3
    expected = reference_iou(huge[0].double().cpu(), shifted[0].double().cpu())
    assert abs(box_iou_rotated(huge, shifted).item() - expected) < 1e-4
    empty = box[:0]
    assert box_iou_rotated(empty, box).shape == (0, 1)
    assert box_iou_rotated(box, empty).shape == (1, 0)
    assert box_iou_rotated(empty, empty, aligned=True).shape == (0,)


def reference_nms(boxes, scores, threshold):
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep, removed = [], set()
    for i in order:
        if i in removed:
            continue
        keep.append(i)
        removed |= {j for j in order if reference_iou(boxes[i], boxes[j]) > threshold}
    return torch.tensor(keep, dtype=torch.int64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("threshold", [0.1, 0.5])
def test_nms_rotated_matches_reference(device, threshold):
    boxes = random_rotated(40, 11, torch.float32, spread=15.0)
    scores = torch.rand(40, generator=torch.Generator().manual_seed(4))
    scores[5] = scores[9]  # a tie: the lower index comes first
    expected = reference_nms(boxes.double(), scores, threshold)
    got = nms_rotated(boxes.to(device), scores.to(device), threshold)
    torch.testing.assert_close(got.cpu(), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_nms_rotated_angle_zero_matches_torchvision(device):
    boxes = random_rotated(300, 12, torch.float32, spread=60.0).to(device)
    boxes[:, 4] = 0
    scores = torch.rand(300, generator=torch.Generator().manual_seed(2)).to(device)
    xyxy = torch.cat([boxes[:, :2] - boxes[:, 2:4] / 2, boxes[:, :2] + boxes[:, 2:4] / 2], 1)
    torch.testing.assert_close(nms_rotated(boxes, scores, 0.3), nms(xyxy, scores, 0.3))


@pytest.mark.parametrize("device", DEVICES)
def test_nms_rotated_edge_cases(device):
    empty = torch.zeros(0, 5, device=device)
    assert nms_rotated(empty, torch.zeros(0, device=device), 0.5).shape == (0,)
    one = torch.tensor([[1.0, 1.0, 2.0, 2.0, 3.5]], device=device)
    assert nms_rotated(one, torch.ones(1, device=device), 0.5).tolist() == [0]
    same = one.repeat(4, 1)
    scores = torch.tensor([0.1, 0.9, 0.5, 0.9], device=device)
    assert nms_rotated(same, scores, 0.5).tolist() == [1]


@pytest.mark.parametrize("device", DEVICES)
def test_nms_rotated_degenerate_boxes_are_always_kept(device):
    boxes = random_rotated(30, 13, torch.float32, spread=10.0)
    degenerate = boxes[:6].clone()
    degenerate[:2, 2] = 0  # zero width
    degenerate[2:4, 3] = 0  # zero height
    degenerate[4:, 2:4] = 0  # a point
    boxes = torch.cat([boxes, degenerate])
    scores = torch.rand(36, generator=torch.Generator().manual_seed(5))
    scores[30:] += 1  # the best scores: they suppress nothing and nothing suppresses them
    got = nms_rotated(boxes.to(device), scores.to(device), 0.3).cpu()
    torch.testing.assert_close(got, reference_nms(boxes.double(), scores, 0.3))
    assert sorted(got[:6].tolist()) == list(range(30, 36))


@pytest.mark.parametrize("device", DEVICES)
def test_nms_rotated_huge_boxes(device):
    # boxes of 1e3 to 3e4 around (1e5, 1e5): float32 keeps their IoU through the centring
    boxes = random_rotated(40, 14, torch.float64, spread=10.0)
    boxes[:, :2] = boxes[:, :2] * 2e3 + 1e5
    boxes[:, 2:4] *= 2e3
    boxes = boxes.float()
    scores = torch.rand(40, generator=torch.Generator().manual_seed(6))
    expected = reference_nms(boxes.double(), scores, 0.3)
    assert 1 < len(expected) < 40
    got = nms_rotated(boxes.to(device), scores.to(device), 0.3)
    torch.testing.assert_close(got.cpu(), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_not_differentiable(device):
    boxes = random_rotated(4, 2).to(device).requires_grad_()
    iou = box_iou_rotated(boxes, boxes.detach())
    with pytest.raises(LabError, match=r"box_iou_rotated is not differentiable.*detach"):
        iou.sum().backward()
    # detached boxes give a plain tensor
    assert not box_iou_rotated(boxes.detach(), boxes.detach()).requires_grad
    # nms_rotated returns indices, which carry no gradient
    keep = nms_rotated(boxes, torch.rand(4, device=device, dtype=boxes.dtype), 0.5)
    assert keep.dtype == torch.int64 and not keep.requires_grad


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    a = random_rotated(5, 0, torch.float32).to(device)
    b = random_rotated(4, 1, torch.float32).to(device)
    torch.library.opcheck(torch.ops.lab.box_iou_rotated, (a, b, False))
    torch.library.opcheck(torch.ops.lab.box_iou_rotated, (a[:4], b, True))
    torch.library.opcheck(
        torch.ops.lab.nms_rotated,
        (a, torch.rand(5, device=device), 0.5),
        test_utils=("test_schema", "test_faketensor"),
    )
