"""CrossEntropyLoss against a plain-torch reference of label-smoothed cross-entropy."""

from __future__ import annotations

import pytest
import torch

from labcls.models.losses import CrossEntropyLoss


def _reference(logits, target, eps):
    k = logits.shape[1]
    if target.dim() == 1:
        target = torch.nn.functional.one_hot(target, k).double()
    smoothed = target * (1 - eps) + eps / k
    return -(smoothed * logits.double().log_softmax(dim=1)).sum(dim=1).mean()


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_cross_entropy_matches_reference_for_hard_and_soft_targets(eps):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=generator)
    hard = torch.randint(0, 5, (6,), generator=generator)
    soft = torch.rand(6, 5, generator=generator).softmax(dim=1)
    loss = CrossEntropyLoss(label_smoothing=eps, loss_weight=2.0)
    for target in (hard, soft):
        torch.testing.assert_close(
            loss(logits, target).double(), 2.0 * _reference(logits, target, eps)
        )


def test_class_weight_and_invalid_smoothing():
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 2])
    weighted = CrossEntropyLoss(class_weight=[1.0, 1.0, 3.0])(logits, target)
    reference = torch.nn.functional.cross_entropy(
        logits, target, weight=torch.tensor([1.0, 1.0, 3.0])
    )
    torch.testing.assert_close(weighted, reference)
    with pytest.raises(ValueError, match="label_smoothing"):
        CrossEntropyLoss(label_smoothing=1.0)
