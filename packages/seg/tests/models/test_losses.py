"""Cross-entropy, Dice and the OHEM sampler against plain references written here."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labcore.errors import ConfigError
from labseg.models.losses import CrossEntropyLoss, DiceLoss
from labseg.models.samplers import OHEMPixelSampler


@pytest.fixture
def batch():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6, 5, dtype=torch.float64)
    labels = torch.randint(0, 4, (2, 6, 5))
    labels[0, :2] = 255
    return logits, labels


def test_cross_entropy_averages_over_all_pixels_by_default(batch):
    logits, labels = batch
    loss = CrossEntropyLoss()(logits, labels)
    per_pixel = F.cross_entropy(logits, labels, ignore_index=255, reduction="none")
    torch.testing.assert_close(loss, per_pixel.sum() / labels.numel())


def test_cross_entropy_avg_non_ignore_with_class_weights_is_torch_mean(batch):
    logits, labels = batch
    weights = [1.0, 2.0, 0.5, 3.0]
    loss = CrossEntropyLoss(class_weight=weights, avg_non_ignore=True, loss_weight=2.0)
    expected = F.cross_entropy(
        logits, labels, weight=torch.tensor(weights, dtype=torch.float64), ignore_index=255
    )
    torch.testing.assert_close(loss(logits, labels), 2.0 * expected)


def test_cross_entropy_pixel_weights_and_errors(batch):
    logits, labels = batch
    weight = (torch.rand(labels.shape) > 0.5).double()
    loss = CrossEntropyLoss(avg_non_ignore=True)(logits, labels, weight=weight)
    per_pixel = F.cross_entropy(logits, labels, ignore_index=255, reduction="none")
    torch.testing.assert_close(loss, (per_pixel * weight).sum() / (labels != 255).sum())
    with pytest.raises(ConfigError, match="3 class weights for a head with 4 classes"):
        CrossEntropyLoss(class_weight=[1, 1, 1])(logits, labels)
    with pytest.raises(ConfigError, match="must start with 'loss_'"):
        CrossEntropyLoss(loss_name="ce")


def test_dice_loss_matches_reference(batch):
    logits, labels = batch
    loss = DiceLoss(smooth=1.0, exponent=2.0)(logits, labels)
    probs = logits.softmax(1)
    valid = labels != 255
    terms = []
    for k in range(4):
        p = probs[:, k][valid]
        t = (labels[valid] == k).double()
        terms.append(1 - (2 * (p * t).sum() + 1) / ((p**2).sum() + (t**2).sum() + 1))
    torch.testing.assert_close(loss, torch.stack(terms).mean())


def test_dice_loss_is_near_zero_for_a_perfect_prediction():
    labels = torch.randint(0, 3, (1, 8, 8))
    logits = F.one_hot(labels, 3).permute(0, 3, 1, 2).double() * 50
    assert DiceLoss(smooth=0.0)(logits, labels) < 1e-6


def test_ohem_keeps_the_hardest_pixels(batch):
    logits, labels = batch
    valid = labels != 255
    weight = OHEMPixelSampler(min_kept=10).sample(logits, labels)
    assert weight.sum() == 10 and not weight[~valid].any()
    losses = F.cross_entropy(logits, labels.clamp(max=3), reduction="none")
    assert losses[weight.bool()].min() >= losses[valid & ~weight.bool()].max()


def test_ohem_threshold_keeps_low_confidence_pixels(batch):
    logits, labels = batch
    weight = OHEMPixelSampler(thresh=0.3, min_kept=5).sample(logits, labels)
    valid = labels != 255
    prob = logits.softmax(1).gather(1, labels.clamp(max=3)[:, None])[:, 0]
    assert weight.sum() >= 5
    expected = valid & (prob <= max(0.3, prob[valid].sort().values[4]))
    assert torch.equal(weight.bool(), expected)
    all_ignored = torch.full_like(labels, 255)
    assert OHEMPixelSampler(thresh=0.3).sample(logits, all_ignored).sum() == 0
