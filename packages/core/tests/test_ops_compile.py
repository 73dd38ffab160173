"""Every compiled op under ``torch.compile(fullgraph=True)``: no graph break, the eager
result, and for the differentiable ops the eager gradients.

The ``aot_eager`` backend traces the ops through their fake kernels and autograd
registrations (as inductor does) but runs the traced graph eagerly, which keeps the test
fast.
"""

from __future__ import annotations

import math

import pytest
import torch

from labcore.ops import (
    batched_soft_nms,
    bbox_overlaps,
    box_iou_rotated,
    multi_scale_deformable_attention,
    nms_rotated,
    roi_align_rotated,
    sigmoid_focal_loss,
    soft_nms,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def boxes_xyxy(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 60
    wh = torch.rand(n, 2, generator=g) * 30 + 5
    return torch.cat([xy, xy + wh], 1), torch.rand(n, generator=g)


def boxes_rotated(n, seed):
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 2, generator=g) * 20
    size = torch.rand(n, 2, generator=g) * 10 + 1
    angle = (torch.rand(n, 1, generator=g) - 0.5) * 2 * math.pi
    return torch.cat([centre, size, angle], 1), torch.rand(n, generator=g)


def focal_loss_case():
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(16, 4, generator=g) * 3).requires_grad_()
    targets = (torch.rand(16, 4, generator=g) < 0.3).float()
    return lambda x, t: sigmoid_focal_loss(x, t, reduction="mean"), (logits, targets)


def msda_case():
    g = torch.Generator().manual_seed(0)
    shapes = torch.tensor([[4, 3], [2, 2]])
    starts = torch.tensor([0, 12])
    value = torch.randn(1, 16, 2, 3, generator=g).requires_grad_()
    loc = torch.rand(1, 5, 2, 2, 2, 2, generator=g).requires_grad_()
    attn = torch.rand(1, 5, 2, 2, 2, generator=g).softmax(-1).detach().requires_grad_()
    return multi_scale_deformable_attention, (value, shapes, starts, loc, attn)


def soft_nms_case():
    boxes, scores = boxes_xyxy(40, 0)
    return lambda b, s: soft_nms(b, s, 0.3, 0.5, 1e-3, "gaussian"), (boxes, scores)


def batched_soft_nms_case():
    boxes, scores = boxes_xyxy(40, 1)
    idxs = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(1))
    return batched_soft_nms, (boxes, scores, idxs)


def box_iou_rotated_case():
    a, _ = boxes_rotated(7, 0)
    b, _ = boxes_rotated(5, 1)
    return box_iou_rotated, (a, b)


def nms_rotated_case():
    boxes, scores = boxes_rotated(30, 2)
    return lambda b, s: nms_rotated(b, s, 0.3), (boxes, scores)


def bbox_overlaps_case(mode, aligned):
    def make():
        a, _ = boxes_xyxy(6, 2)
        b, _ = boxes_xyxy(6, 3)
        fn = lambda x, y: bbox_overlaps(x, y, mode, aligned)  # noqa: E731
        return fn, (a.requires_grad_(), b.requires_grad_())

    return make


def roi_align_rotated_case():
    g = torch.Generator().manual_seed(4)
    features = torch.randn(2, 3, 9, 11, generator=g).requires_grad_()
    boxes, _ = boxes_rotated(5, 4)
    rois = torch.cat([torch.tensor([[0.0], [1.0], [0.0], [1.0], [1.0]]), boxes], 1)
    return lambda x, r: roi_align_rotated(x, r, (3, 2), 0.5, 2), (features, rois)


CASES = {
    "sigmoid_focal_loss": focal_loss_case,
    "multi_scale_deformable_attention": msda_case,
    "soft_nms": soft_nms_case,
    "batched_soft_nms": batched_soft_nms_case,
    "box_iou_rotated": box_iou_rotated_case,
    "nms_rotated": nms_rotated_case,
    "bbox_overlaps_iou": bbox_overlaps_case("iou", False),
    "bbox_overlaps_giou_aligned": bbox_overlaps_case("giou", True),
    "roi_align_rotated": roi_align_rotated_case,
}


def _on(device, inputs):
    return tuple(x.detach().to(device).requires_grad_(x.requires_grad) for x in inputs)


def _float_sum(outputs):
    """One scalar from every floating-point output, each weighted differently."""
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    floats = [o for o in outputs if o.is_floating_point()]
    return sum((i + 1) * o.sum() for i, o in enumerate(floats))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(CASES))
def test_compiled_equals_eager(device, name):
    fn, inputs = CASES[name]()
    eager_inputs, compiled_inputs = _on(device, inputs), _on(device, inputs)
    expected = fn(*eager_inputs)
    torch._dynamo.reset()
    got = torch.compile(fn, backend="aot_eager", fullgraph=True)(*compiled_inputs)
    torch.testing.assert_close(got, expected)
    differentiable = [x for x in eager_inputs if x.requires_grad]
    if not differentiable:
        return
    expected_grads = torch.autograd.grad(_float_sum(expected), differentiable)
    grads = torch.autograd.grad(_float_sum(got), [x for x in compiled_inputs if x.requires_grad])
    torch.testing.assert_close(grads, expected_grads)


@pytest.mark.filterwarnings("ignore:Error detected in:UserWarning")  # autograd's traceback
@pytest.mark.parametrize("device", DEVICES)
def test_compiling_a_backward_through_a_non_differentiable_op_fails_clearly(device):
    # the backward is traced with the forward, so the LabError comes at compile time
    boxes, scores = boxes_rotated(6, 3)
    boxes = boxes.to(device).requires_grad_()
    compiled = torch.compile(box_iou_rotated, backend="aot_eager", fullgraph=True)
    with pytest.raises(Exception, match="box_iou_rotated is not differentiable"):
        compiled(boxes, boxes.detach())
    xyxy, scores = boxes_xyxy(6, 4)
    scores = scores.to(device).requires_grad_()
    compiled = torch.compile(soft_nms, backend="aot_eager", fullgraph=True)
    with pytest.raises(Exception, match="soft_nms and batched_soft_nms are not differentiable"):
        compiled(xyxy.to(device), scores)
