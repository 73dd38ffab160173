"""labcore.ops.soft_nms and batched_soft_nms against a plain-torch float64 loop."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_iou, nms

from labcore.errors import LabError
from labcore.ops import batched_soft_nms, soft_nms

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def reference_soft_nms(
    boxes, scores, iou_threshold=0.3, sigma=0.5, min_score=1e-3, method="linear"
):
    """Soft-NMS as one vectorised step per kept box, in float64."""
    boxes, scores = boxes.double().cpu(), scores.double().cpu().clone()
    alive = scores >= min_score
    keep, kept = [], []
    while alive.any():
        i = int(torch.where(alive, scores, -torch.inf).argmax())  # first maximum
        keep.append(i)
        kept.append(float(scores[i]))
        alive[i] = False
        iou = box_iou(boxes[i : i + 1], boxes)[0].nan_to_num(0.0)
        if method == "linear":
            decay = torch.where(iou > iou_threshold, 1 - iou, torch.ones_like(iou))
        else:
            decay = torch.exp(-(iou**2) / sigma)
        scores = torch.where(alive, scores * decay, scores)
        alive &= scores >= min_score
    return torch.tensor(keep, dtype=torch.int64), torch.tensor(kept, dtype=torch.float64)


def clustered_boxes(n, seed, dtype=torch.float32):
    """Boxes in a few clusters, so that many overlap."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(max(n // 8, 1), 2, generator=g, dtype=torch.float64) * 200
    xy = centres[torch.randint(len(centres), (n,), generator=g)]
    xy = xy + torch.randn(n, 2, generator=g, dtype=torch.float64) * 6
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 30 + 10
    boxes = torch.cat([xy - wh / 2, xy + wh / 2], 1).to(dtype)
    scores = torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    return boxes, scores


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["linear", "gaussian"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference(device, method, seed):
    boxes, scores = clustered_boxes(70, seed, torch.float64)
    keep, kept = soft_nms(boxes.to(device), scores.to(device), 0.3, 0.5, 0.05, method)
    ref_keep, ref_scores = reference_soft_nms(boxes, scores, 0.3, 0.5, 0.05, method)
    torch.testing.assert_close(keep.cpu(), ref_keep)
    torch.testing.assert_close(kept.cpu(), ref_scores)
    assert (kept[:-1] >= kept[1:]).all()


@pytest.mark.parametrize("device", DEVICES)
def test_float32_and_min_score(device):
    boxes, scores = clustered_boxes(100, 7)
    keep, kept = soft_nms(boxes.to(device), scores.to(device), method="gaussian", min_score=0.2)
    ref_keep, ref_scores = reference_soft_nms(
        boxes, scores, sigma=0.5, min_score=0.2, method="gaussian"
    )
    assert kept.dtype == torch.float32
    torch.testing.assert_close(keep.cpu(), ref_keep)
    torch.testing.assert_close(kept.cpu(), ref_scores.float())
    assert (kept >= 0.2).all()


@pytest.mark.parametrize("device", DEVICES)
def test_linear_with_threshold_one_is_plain_ranking(device):
    boxes, scores = clustered_boxes(50, 3)
    keep, kept = soft_nms(boxes.to(device), scores.to(device), iou_threshold=1.0, min_score=0.0)
    torch.testing.assert_close(keep.cpu(), scores.argsort(descending=True, stable=True))
    torch.testing.assert_close(kept.cpu(), scores.sort(descending=True).values)


@pytest.mark.parametrize("device", DEVICES)
def test_edge_cases(device):
    empty_keep, empty_scores = soft_nms(
        torch.zeros(0, 4, device=device), torch.zeros(0, device=device)
    )
    assert empty_keep.shape == (0,) and empty_scores.shape == (0,)
    assert empty_keep.dtype == torch.int64
    one = torch.tensor([[0.0, 0.0, 10.0, 10.0]], device=device)
    keep, kept = soft_nms(one, torch.tensor([0.7], device=device))
    assert keep.tolist() == [0] and kept.tolist() == pytest.approx([0.7])
    # identical boxes: the linear decay (1 - iou = 0) removes all but the best
    same = one.repeat(3, 1)
    keep, _ = soft_nms(same, torch.tensor([0.5, 0.9, 0.6], device=device))
    assert keep.tolist() == [1]
    # degenerate boxes have no overlap and keep their scores
    flat = torch.tensor([[0.0, 0.0, 0.0, 10.0], [0.0, 0.0, 0.0, 10.0]], device=device)
    keep, kept = soft_nms(flat, torch.tensor([0.5, 0.4], device=device))
    assert keep.tolist() == [0, 1] and kept.tolist() == pytest.approx([0.5, 0.4])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["linear", "gaussian"])
def test_batched_is_per_category(device, method):
    boxes, scores = clustered_boxes(150, 5)
    idxs = torch.randint(0, 4, (150,), generator=torch.Generator().manual_seed(1))
    keep, kept = batched_soft_nms(
        boxes.to(device), scores.to(device), idxs.to(device), method=method
    )
    expected = []
    for c in range(4):
        members = torch.nonzero(idxs == c).flatten()
        k, s = reference_soft_nms(boxes[members], scores[members], method=method)
        expected += list(zip(s.tolist(), members[k].tolist(), strict=True))
    expected.sort(key=lambda item: (-item[0], item[1]))
    assert keep.cpu().tolist() == [i for _, i in expected]
    torch.testing.assert_close(
        kept.cpu(), torch.tensor([s for s, _ in expected], dtype=torch.float32)
    )


@pytest.mark.parametrize("device", DEVICES)
def test_huge_coordinates(device):
    # boxes of 1e3 to 4e3 at about 1e5 from the origin, in float32
    boxes, scores = clustered_boxes(80, 4, torch.float64)
    boxes = (boxes * 100 + 1e5).float()
    keep, kept = soft_nms(boxes.to(device), scores.float().to(device))
    ref_keep, ref_scores = reference_soft_nms(boxes, scores.float())
    torch.testing.assert_close(keep.cpu(), ref_keep)
    torch.testing.assert_close(kept.cpu(), ref_scores.float(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["linear", "gaussian"])
def test_degenerate_boxes_among_others(device, method):
    boxes, scores = clustered_boxes(40, 8, torch.float64)
    degenerate = boxes[:9].clone()
    degenerate[:3, 2] = degenerate[:3, 0]  # zero width
    degenerate[3:6, 3] = degenerate[3:6, 1]  # zero height
    degenerate[6:, 2:] = degenerate[6:, :2]  # a point
    boxes = torch.cat([boxes, degenerate, degenerate[:2]])  # two of them twice
    scores = torch.cat([scores, torch.linspace(0.95, 0.5, 11, dtype=torch.float64)])
    keep, kept = soft_nms(boxes.to(device), scores.to(device), method=method)
    ref_keep, ref_scores = reference_soft_nms(boxes, scores, method=method)
    torch.testing.assert_close(keep.cpu(), ref_keep)
    torch.testing.assert_close(kept.cpu(), ref_scores)
    # a degenerate box overlaps nothing: it keeps its score and decays no other box
    for index in range(40, 51):
        assert kept[keep == index].item() == scores[index].item()


@pytest.mark.parametrize("device", DEVICES)
def test_batched_edge_cases(device):
    empty = torch.zeros(0, 4, device=device)
    keep, kept = batched_soft_nms(
        empty, torch.zeros(0, device=device), torch.zeros(0, dtype=torch.int64, device=device)
    )
    assert keep.shape == (0,) and kept.shape == (0,) and keep.dtype == torch.int64
    one = torch.tensor([[5.0, 5.0, 20.0, 30.0]], device=device)
    keep, kept = batched_soft_nms(
        one, torch.tensor([0.6], device=device), torch.tensor([3], device=device)
    )
    assert keep.tolist() == [0] and kept.tolist() == pytest.approx([0.6])


@pytest.mark.parametrize("device", DEVICES)
def test_batched_classes_that_overlap_do_not_suppress_each_other(device):
    # the same three boxes in classes 0, 1 and 2: each class keeps all its boxes with
    # exactly the scores that soft-NMS gives it alone
    base = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [0.0, 0.0, 10.0, 10.0]])
    boxes = base.repeat(3, 1)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.85, 0.6, 0.5, 0.95, 0.4, 0.3])
    idxs = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    keep, kept = batched_soft_nms(
        boxes.to(device), scores.to(device), idxs.to(device), method="gaussian"
    )
    expected = []
    for c in range(3):
        k, s = reference_soft_nms(base, scores[3 * c : 3 * c + 3], method="gaussian")
        expected += list(zip(s.tolist(), (k + 3 * c).tolist(), strict=True))
    expected.sort(key=lambda item: (-item[0], item[1]))
    assert keep.cpu().tolist() == [i for _, i in expected]
    torch.testing.assert_close(kept.cpu(), torch.tensor([s for s, _ in expected]))
    assert sorted(keep.tolist()) == list(range(9))
    # hard suppression across classes would have dropped the identical boxes of class 1
    keep, _ = batched_soft_nms(boxes.to(device), scores.to(device), idxs.to(device))
    assert {3, 6} <= set(keep.tolist())


@pytest.mark.parametrize("device", DEVICES)
def test_linear_with_high_min_score_is_hard_nms(device):
    # Scores in [0.9, 1] and min_score 0.9: any linear decay (a factor <= 1 - threshold)
    # drops the box, and boxes below the threshold keep their score; that is greedy NMS.
    boxes, _ = clustered_boxes(80, 9)
    scores = torch.linspace(1.0, 0.9, 80)[
        torch.randperm(80, generator=torch.Generator().manual_seed(0))
    ]
    boxes, scores = boxes.to(device), scores.to(device)
    keep, kept = soft_nms(boxes, scores, iou_threshold=0.5, min_score=0.9)
    torch.testing.assert_close(keep, nms(boxes, scores, 0.5))
    torch.testing.assert_close(kept, scores[keep])


@pytest.mark.parametrize("device", DEVICES)
def test_not_differentiable(device):
    boxes, scores = clustered_boxes(20, 1)
    scores = scores.to(device).requires_grad_()
    keep, kept = soft_nms(boxes.to(device), scores)
    assert not keep.requires_grad
    with pytest.raises(LabError, match=r"soft_nms and batched_soft_nms are not differentiable"):
        kept.sum().backward()
    idxs = torch.zeros(20, dtype=torch.int64, device=device)
    keep, kept = batched_soft_nms(boxes.to(device), scores, idxs)
    with pytest.raises(LabError, match=r"scores\[keep\]"):
        kept.sum().backward()
    scores[keep].sum().backward()  # the suggested differentiable alternative
    assert scores.grad[keep].eq(1).all()


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    boxes, scores = clustered_boxes(30, 0)
    for method in (0, 1):
        torch.library.opcheck(
            torch.ops.lab.soft_nms,
            (boxes.to(device), scores.to(device), 0.3, 0.5, 0.01, method),
            test_utils=("test_schema", "test_faketensor"),
        )


def test_user_errors():
    boxes, scores = clustered_boxes(5, 0)
    with pytest.raises(LabError, match="method"):
        soft_nms(boxes, scores, method="hard")
    with pytest.raises(LabError, match="sigma"):
        soft_nms(boxes, scores, sigma=0.0, method="gaussian")
    with pytest.raises(LabError, match="idxs"):
        batched_soft_nms(boxes, scores, torch.zeros(4, dtype=torch.int64))
