"""labcore.ops.sigmoid_focal_loss against torchvision and a float64 reference."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import sigmoid_focal_loss as tv_focal

from labcore.errors import LabError
from labcore.ops import sigmoid_focal_loss

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])]


def reference_focal(x, t, alpha, gamma, weight=None):
    """Per-element focal loss written from the paper's formula, in float64."""
    x, t = x.double(), t.double()
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss if weight is None else loss * weight.double()


def make(shape, device, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g) * 3).to(device, dtype)
    t = (torch.rand(shape, generator=g) < 0.3).to(device, dtype)
    return x, t


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (-1.0, 0.0), (0.5, 1.5), (0.25, 1.0)])
def test_matches_torchvision_forward_and_backward(device, reduction, alpha, gamma):
    x, t = make((64, 13), device, seed=int(gamma * 10))
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    ours = sigmoid_focal_loss(x1, t, alpha, gamma, reduction)
    theirs = tv_focal(x2, t, alpha, gamma, reduction)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    grad = torch.rand_like(theirs)
    ours.backward(grad)
    theirs.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_weights_and_soft_targets_match_reference(device):
    x, _ = make((40, 7), device, torch.float64, seed=3)
    t = torch.rand(40, 7, dtype=torch.float64, device=device)
    w = torch.rand(40, 1, dtype=torch.float64, device=device)  # broadcast over classes
    expected = reference_focal(x, t, 0.25, 2.0, w.expand(40, 7))
    torch.testing.assert_close(sigmoid_focal_loss(x, t, weight=w), expected)
    torch.testing.assert_close(sigmoid_focal_loss(x, t, weight=w, reduction="sum"), expected.sum())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_gradcheck_float64(device, reduction):
    x, t = make((6, 5), device, torch.float64, seed=1)
    w = torch.rand(6, 5, dtype=torch.float64, device=device)
    x.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: sigmoid_focal_loss(x, t, 0.3, 1.7, reduction, weight=w), (x,)
    )


@pytest.mark.parametrize("device", DEVICES)
def test_extreme_logits_stay_finite(device):
    x = torch.tensor([-200.0, -30.0, 0.0, 30.0, 200.0], device=device).repeat(2, 1)
    t = torch.tensor([[0.0] * 5, [1.0] * 5], device=device)
    x.requires_grad_()
    loss = sigmoid_focal_loss(x, t)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(x.grad).all()
    torch.testing.assert_close(loss.detach(), reference_focal(x.detach(), t, 0.25, 2.0).float())


@pytest.mark.parametrize("device", DEVICES)
def test_empty_input(device):
    x = torch.zeros(0, 80, device=device, requires_grad=True)
    t = torch.zeros(0, 80, device=device)
    assert sigmoid_focal_loss(x, t).shape == (0, 80)
    assert sigmoid_focal_loss(x, t, reduction="sum").item() == 0.0
    loss = sigmoid_focal_loss(x, t, reduction="mean")
    assert torch.isnan(loss)  # as torchvision: the mean of nothing
    loss.backward()
    assert x.grad.shape == (0, 80)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(1,), (1, 1)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_one_element(device, shape, reduction):
    for target in (0.0, 1.0):
        x = torch.full(shape, 0.7, dtype=torch.float64, device=device, requires_grad=True)
        t = torch.full(shape, target, dtype=torch.float64, device=device)
        ours = sigmoid_focal_loss(x, t, 0.25, 2.0, reduction)
        ref_x = x.detach().clone().requires_grad_()
        expected = reference_focal(ref_x, t, 0.25, 2.0)
        expected = {"none": expected, "mean": expected.mean(), "sum": expected.sum()}[reduction]
        assert ours.shape == expected.shape
        torch.testing.assert_close(ours, expected)
        (grad,) = torch.autograd.grad(ours.sum(), x)
        (expected_grad,) = torch.autograd.grad(expected.sum(), ref_x)
        torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_close_to_float32(device, dtype):
    x, t = make((32, 9), device, seed=5)
    expected = sigmoid_focal_loss(x, t, reduction="sum")
    got = sigmoid_focal_loss(x.to(dtype), t.to(dtype), reduction="sum")
    assert got.dtype == dtype
    torch.testing.assert_close(got.float(), expected, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    x, t = make((8, 3), device, seed=2)
    w = torch.rand(8, 3).to(device)
    for reduction in (0, 2):
        args = (x.clone().requires_grad_(), t, w, 0.25, 2.0, reduction)
        torch.library.opcheck(torch.ops.lab.sigmoid_focal_loss, args)
    torch.library.opcheck(
        torch.ops.lab.sigmoid_focal_loss_with_grad,
        (x.clone().requires_grad_(), t, w, 0.25, 2.0, 1),
        test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
    )
    grad = torch.rand(8, 3).to(device)
    torch.library.opcheck(
        torch.ops.lab.sigmoid_focal_loss_backward,
        (grad, x, t, None, 0.25, 2.0, 0),
        test_utils=("test_schema", "test_faketensor"),
    )


def test_with_grad_and_plain_paths_agree():
    x, t = make((30, 6), "cpu", torch.float64, seed=6)
    w = torch.rand(30, 6, dtype=torch.float64)
    for reduction in (0, 1, 2):
        fused_loss, fused_grad = torch.ops.lab.sigmoid_focal_loss_with_grad(
            x, t, w, 0.25, 2.0, reduction
        )
        plain = torch.ops.lab.sigmoid_focal_loss(x, t, w, 0.25, 2.0, reduction)
        ones = torch.ones_like(plain)
        expected_grad = torch.ops.lab.sigmoid_focal_loss_backward(
            ones, x, t, w, 0.25, 2.0, reduction
        )
        torch.testing.assert_close(fused_loss, plain)
        torch.testing.assert_close(fused_grad, expected_grad)
    # the op without the fused gradient is differentiable too
    x.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: torch.ops.lab.sigmoid_focal_loss(x, t, w, 0.5, 1.5, 1), (x,)
    )


def test_user_errors_are_lab_errors():
    x, t = make((4, 3), "cpu")
    with pytest.raises(LabError, match="reduction"):
        sigmoid_focal_loss(x, t, reduction="avg")
    with pytest.raises(LabError, match="shape"):
        sigmoid_focal_loss(x, t[:, :2])
    with pytest.raises(LabError, match="detach"):
        sigmoid_focal_loss(x, t.clone().requires_grad_())
