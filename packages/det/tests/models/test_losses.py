import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou_loss
from torchvision.ops import sigmoid_focal_loss as tv_focal

from labdet.models.losses import CrossEntropyLoss, FocalLoss, GIoULoss, L1Loss, SmoothL1Loss


def _boxes(n, generator):
    xy = torch.rand(n, 2, generator=generator) * 50
    return torch.cat([xy, xy + 1 + torch.rand(n, 2, generator=generator) * 30], dim=1)


def test_focal_loss_matches_torchvision():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 5, generator=g)
    targets = (torch.rand(40, 5, generator=g) > 0.8).float()
    expected = tv_focal(logits, targets, alpha=0.25, gamma=2.0, reduction="sum") / 7
    torch.testing.assert_close(
        FocalLoss()(logits, targets, avg_factor=7), expected, rtol=1e-5, atol=1e-6
    )


def test_giou_loss_matches_torchvision():
    g = torch.Generator().manual_seed(1)
    a, b = _boxes(30, g), _boxes(30, g)
    expected = generalized_box_iou_loss(a, b, reduction="sum") * 2 / 4
    torch.testing.assert_close(
        GIoULoss(loss_weight=2.0)(a, b, avg_factor=4), expected, rtol=1e-5, atol=1e-5
    )


def test_regression_and_cross_entropy_losses():
    g = torch.Generator().manual_seed(2)
    pred, target = torch.randn(20, 4, generator=g), torch.randn(20, 4, generator=g)
    torch.testing.assert_close(
        L1Loss()(pred, target, avg_factor=5), (pred - target).abs().sum() / 5
    )
    torch.testing.assert_close(
        SmoothL1Loss(beta=0.5)(pred, target, avg_factor=5),
        F.smooth_l1_loss(pred, target, beta=0.5, reduction="sum") / 5,
    )
    logits, labels = torch.randn(20, 6, generator=g), torch.randint(0, 6, (20,), generator=g)
    torch.testing.assert_close(
        CrossEntropyLoss()(logits, labels, avg_factor=20), F.cross_entropy(logits, labels)
    )
    binary = (torch.rand(20, 6, generator=g) > 0.5).float()
    torch.testing.assert_close(
        CrossEntropyLoss(use_sigmoid=True)(logits, binary, avg_factor=120),
        F.binary_cross_entropy_with_logits(logits, binary),
    )
