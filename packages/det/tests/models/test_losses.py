import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou_loss
from torchvision.ops import sigmoid_focal_loss as tv_focal

from labdet.models.dense_heads.gfl_head import integral
from labdet.models.losses import (
    CrossEntropyLoss,
    DistributionFocalLoss,
    FocalLoss,
    GIoULoss,
    L1Loss,
    QualityFocalLoss,
    SmoothL1Loss,
)


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


def _reference_quality_focal_loss(logits, labels, scores, beta=2.0):
    """GFL's formulation: background BCE scaled by sigmoid ** beta everywhere, replaced at each
    positive's class by BCE towards its IoU score scaled by |score - sigmoid| ** beta."""
    sigmoid = logits.sigmoid()
    loss = F.binary_cross_entropy_with_logits(
        logits, torch.zeros_like(logits), reduction="none"
    ) * sigmoid.pow(beta)
    pos = torch.where(labels >= 0)[0]
    cls = labels[pos]
    loss[pos, cls] = F.binary_cross_entropy_with_logits(
        logits[pos, cls], scores[pos], reduction="none"
    ) * (scores[pos] - sigmoid[pos, cls]).abs().pow(beta)
    return loss.sum()


def test_quality_focal_loss_matches_gfls_formulation():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(50, 6, generator=g, dtype=torch.float64)
    labels = torch.randint(-1, 6, (50,), generator=g)  # -1: background
    scores = torch.rand(50, generator=g, dtype=torch.float64)
    targets = torch.zeros_like(logits)
    pos = labels >= 0
    targets[pos, labels[pos]] = scores[pos]
    got = QualityFocalLoss(beta=2.0, loss_weight=0.5)(logits, targets, avg_factor=5)
    expected = 0.5 * _reference_quality_focal_loss(logits, labels, scores) / 5
    torch.testing.assert_close(got, expected)


def test_distribution_focal_loss_matches_its_definition():
    """-((y_r - y) log S_l + (y - y_l) log S_r) with S the softmax over the bins."""
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(20, 9, generator=g, dtype=torch.float64)
    targets = torch.rand(20, generator=g, dtype=torch.float64) * 7.99
    weight = torch.rand(20, generator=g, dtype=torch.float64)
    log_probs = logits.log_softmax(dim=1)
    expected = 0.0
    for row, y, w in zip(log_probs, targets.tolist(), weight):
        left = int(y)
        expected -= w * ((left + 1 - y) * row[left] + (y - left) * row[left + 1])
    got = DistributionFocalLoss(loss_weight=0.25)(logits, targets, avg_factor=3, weight=weight)
    torch.testing.assert_close(got, 0.25 * expected / 3)


def test_integral_is_the_expected_bin():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(7, 4 * 17, generator=g, dtype=torch.float64)
    probs = logits.view(7, 4, 17).softmax(dim=-1)
    expected = (probs * torch.arange(17, dtype=torch.float64)).sum(dim=-1)
    torch.testing.assert_close(integral(logits, 16), expected)
    # all mass on one bin decodes to that bin
    peaked = torch.full((1, 4 * 17), -1e4, dtype=torch.float64)
    peaked[0, [3, 17 + 0, 34 + 16, 51 + 8]] = 0
    torch.testing.assert_close(integral(peaked, 16), torch.tensor([[3.0, 0.0, 16.0, 8.0]]).double())
